package commitfs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
)

// serveEnv names the directory a helper process (see TestMain) mounts.
const serveEnv = "COMMITFS_TEST_SERVE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		serveHelper(dir)
		return
	}
	os.Exit(m.Run())
}

// serveHelper mounts a one-file tree at dir, says "ready" and serves until
// killed.
func serveHelper(dir string) {
	m := newMemObjects()
	root := m.tree(Entry{Name: "hello.txt", Mode: ModeRegular, Hash: m.blob([]byte("hello\n"))})
	srv, err := Mount(dir, Options{Root: root, Objects: m, Files: newFakeFiles()})
	if err != nil {
		fmt.Println("mount:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	srv.Wait()
}

func TestObjectErrors(t *testing.T) {
	m := newMemObjects()
	good := m.blob([]byte("ok\n"))
	bad := m.blob([]byte("bad\n"))
	m.fail[bad] = errors.New("pack truncated (injected)")
	big := m.blob(bytes.Repeat([]byte("x"), 10_000))
	m.failRead[big] = errors.New("zlib: invalid checksum (injected)")
	badTree := m.tree(Entry{Name: "x", Mode: ModeRegular, Hash: good})
	m.fail[badTree] = errors.New("tree corrupt (injected)")
	odd := m.tree(
		Entry{Name: "..", Mode: ModeRegular, Hash: good},
		Entry{Name: "a/b", Mode: ModeRegular, Hash: good},
		Entry{Name: "", Mode: ModeRegular, Hash: good},
		Entry{Name: "fine", Mode: ModeRegular, Hash: good},
		Entry{Name: "fine", Mode: ModeDir, Hash: badTree},
	)
	root := m.tree(
		Entry{Name: "good.txt", Mode: ModeRegular, Hash: good},
		Entry{Name: "bad.txt", Mode: ModeRegular, Hash: bad},
		Entry{Name: "big.txt", Mode: ModeRegular, Hash: big},
		Entry{Name: "baddir", Mode: ModeDir, Hash: badTree},
		Entry{Name: "odd", Mode: ModeDir, Hash: odd},
		Entry{Name: "missing.lode", Mode: ModeRegular, Hash: m.blob(newFakeFiles().add("gone", 1000).ptr.Encode())},
	)
	var logs logBuf
	_, dir := mount(t, Options{Root: root, Objects: m, Files: newFakeFiles(), Logf: logs.logf})
	p := func(name string) string { return filepath.Join(dir, name) }

	if b, err := os.ReadFile(p("good.txt")); err != nil || string(b) != "ok\n" {
		t.Errorf("good.txt: %q, %v", b, err)
	}
	if _, err := os.Stat(p("bad.txt")); !errors.Is(err, syscall.EIO) {
		t.Errorf("stat of an unreadable blob: %v, want EIO", err)
	}
	if fi, err := os.Stat(p("big.txt")); err != nil || fi.Size() != 10_000 {
		t.Errorf("stat big.txt: %v", err)
	}
	if _, err := os.ReadFile(p("big.txt")); !errors.Is(err, syscall.EIO) {
		t.Errorf("read of an unreadable blob: %v, want EIO", err)
	}
	if _, err := os.ReadDir(p("baddir")); !errors.Is(err, syscall.EIO) {
		t.Errorf("readdir of an unreadable tree: %v, want EIO", err)
	}
	if _, err := os.Stat(p("baddir/x")); !errors.Is(err, syscall.EIO) {
		t.Errorf("lookup in an unreadable tree: %v, want EIO", err)
	}
	if _, err := os.ReadFile(p("missing.lode")); !errors.Is(err, syscall.EIO) {
		t.Errorf("read of a lode file whose data is missing: %v, want EIO", err)
	}
	es, err := os.ReadDir(p("odd"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Name() != "fine" || !es[0].Type().IsRegular() {
		t.Errorf("tree with invalid names lists %v, want the first \"fine\" only", es)
	}
	log := logs.String()
	for _, want := range []string{
		"/bad.txt (blob", "pack truncated (injected)",
		"read /big.txt (blob", "at offset 0", "zlib: invalid checksum (injected)",
		"read directory /baddir (tree", "tree corrupt (injected)",
		"open /missing.lode", "object not found",
		`entry "a/b" skipped`, `entry ".." skipped`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q; log:\n%s", want, log)
		}
	}
}

func TestOptionsRequired(t *testing.T) {
	if _, err := NewRoot(Options{}); err == nil {
		t.Error("NewRoot without Objects and Files: no error")
	}
	if _, err := Mount(t.TempDir(), Options{Files: newFakeFiles()}); err == nil {
		t.Error("Mount without Objects: no error")
	}
}

func TestIdentity(t *testing.T) {
	if ino, gen := identity(""); ino != rootIno || gen != 0 {
		t.Errorf("root: %d/%d", ino, gen)
	}
	seen := map[uint64]string{}
	for i := range 10_000 {
		p := fmt.Sprintf("d%d/f%d", i%37, i)
		ino, _ := identity(p)
		if ino <= rootIno || ino == ^uint64(0) {
			t.Fatalf("%s: reserved inode %d", p, ino)
		}
		if q, dup := seen[ino]; dup {
			t.Fatalf("%s and %s share inode %d", p, q, ino)
		}
		seen[ino] = p
		if again, _ := identity(p); again != ino {
			t.Fatalf("%s: inode %d then %d", p, ino, again)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a\040b`:   "/tmp/a b",
		`/x\011y\012z`:  "/x\ty\nz",
		`/back\134s`:    `/back\s`,
		`/plain`:        "/plain",
		`/short\04`:     `/short\04`,
		`/notoctal\9xx`: `/notoctal\9xx`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnmountAfterKill mounts in another process, kills it, and cleans up
// the dead mount with Unmount.
func TestUnmountAfterKill(t *testing.T) {
	requireFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt with space")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if ok, _ := isMountPoint(dir); ok {
			_ = Unmount(dir, UnmountOptions{Lazy: true})
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		skipOrFail(t, fmt.Sprintf("helper could not mount: %q %v", line, err))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "hello.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("read from the helper's mount: %q, %v", b, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// What the kernel cached is still served; anything else fails.
	if _, err := os.Stat(filepath.Join(dir, "not-looked-up")); !errors.Is(err, syscall.ENOTCONN) {
		t.Errorf("lookup in a dead mount: %v, want ENOTCONN", err)
	}
	if ok, err := isMountPoint(dir); !ok {
		t.Fatalf("the dead mount is not listed in mountinfo (%v)", err)
	}
	if err := Unmount(dir, UnmountOptions{}); err != nil {
		t.Fatalf("Unmount of a dead mount: %v", err)
	}
	if ok, _ := isMountPoint(dir); ok {
		t.Error("still mounted after Unmount")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("mount point after Unmount: %v", err)
	}
}

// TestUnmountBusy shows that Unmount refuses a mount in use (an open
// file, a process whose working directory is inside, a read waiting in
// the server) with ErrBusy and leaves it mounted, and that a lazy Unmount
// detaches it; the server stops when the last file is closed.
func TestUnmountBusy(t *testing.T) {
	ptr := newFakeFiles().add("stuck", 1<<20).ptr
	m := newMemObjects()
	root := m.tree(
		Entry{Name: "a.txt", Mode: ModeRegular, Hash: m.blob([]byte("a\n"))},
		Entry{Name: "sub", Mode: ModeDir, Hash: m.tree()},
		Entry{Name: "stuck.bin", Mode: ModeRegular, Hash: m.blob(ptr.Encode())},
	)
	srv, dir := mount(t, Options{Root: root, Objects: m, Files: stuckFiles{size: ptr.Size}, ReadTimeout: time.Second})
	busy := func(what string) {
		t.Helper()
		if err := Unmount(dir, UnmountOptions{}); !errors.Is(err, ErrBusy) {
			t.Fatalf("Unmount with %s: %v, want ErrBusy", what, err)
		} else {
			t.Logf("Unmount with %s: %v", what, err)
		}
		if ok, _ := isMountPoint(dir); !ok {
			t.Fatalf("Unmount with %s unmounted it", what)
		}
	}

	// A process whose working directory is in the mount.
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = filepath.Join(dir, "sub")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	busy("a process in it")
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()

	// A read waiting in the server.
	stuck, err := os.Open(filepath.Join(dir, "stuck.bin"))
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := stuck.ReadAt(make([]byte, 10), 0); read <- err }()
	time.Sleep(100 * time.Millisecond)
	busy("a read in progress")
	if err := <-read; !errors.Is(err, syscall.EIO) {
		t.Errorf("stuck read: %v, want EIO", err)
	}
	stuck.Close()

	// An open file.
	f, err := os.Open(filepath.Join(dir, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Unmount(); err == nil {
		t.Fatal("Server.Unmount with an open file succeeded")
	}
	busy("an open file")
	if _, err := fusermountBinary(); err == nil {
		if err := unmountOnce(dir, false, false); !errors.Is(err, ErrBusy) {
			t.Errorf("fusermount -u with an open file: %v, want ErrBusy", err)
		}
	}
	if err := Unmount(dir, UnmountOptions{Lazy: true}); err != nil {
		t.Fatalf("lazy Unmount: %v", err)
	}
	if ok, _ := isMountPoint(dir); ok {
		t.Error("still listed in mountinfo after a lazy unmount")
	}
	b := make([]byte, 2)
	if _, err := f.Read(b); err != nil || string(b) != "a\n" {
		t.Errorf("read from a file open across a lazy unmount: %q, %v", b, err)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	f.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("server still running 10s after the last file closed")
	}
}

// TestFusermount mounts through fusermount3, as a user without root does.
func TestFusermount(t *testing.T) {
	requireFUSE(t)
	if _, err := fusermountBinary(); err != nil {
		skipOrFail(t, err.Error())
	}
	m := newMemObjects()
	root := m.tree(Entry{Name: "a.txt", Mode: ModeRegular, Hash: m.blob([]byte("a\n"))})
	opts := Options{Root: root, Objects: m, Files: newFakeFiles(), Name: "lode:fusermount"}
	node, err := NewRoot(opts)
	if err != nil {
		t.Fatal(err)
	}
	fo := FSOptions(opts)
	fo.DirectMount = false
	dir := t.TempDir()
	srv, err := gofs.Mount(dir, node, fo)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("fusermount3 mount: %v", err))
	}
	t.Cleanup(func() {
		if ok, _ := isMountPoint(dir); ok {
			_ = srv.Unmount()
		}
	})
	if b, err := os.ReadFile(filepath.Join(dir, "a.txt")); err != nil || string(b) != "a\n" {
		t.Errorf("read: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.txt"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("create: %v, want EROFS", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stat nope: %v", err)
	}
	if err := Unmount(dir, UnmountOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
}

// TestSourceFiles reads through the real read path: a local store and
// rangeread.Source, adapted by SourceFiles.
func TestSourceFiles(t *testing.T) {
	data := make([]byte, 8<<20+999)
	_, _ = rand.NewChaCha8([32]byte{9}).Read(data)
	files, p := storeFile(t, data)
	gone := pointer.Pointer{OID: cas.Sum([]byte("not stored")), Size: 5000}
	m := newMemObjects()
	root := m.tree(
		Entry{Name: "data.bin", Mode: ModeRegular, Hash: m.blob(p.Encode())},
		Entry{Name: "gone.bin", Mode: ModeRegular, Hash: m.blob(gone.Encode())},
	)
	var logs logBuf
	_, dir := mount(t, Options{Root: root, Objects: m, Files: files, Logf: logs.logf})
	got, err := os.ReadFile(filepath.Join(dir, "data.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read through rangeread.Source: %d bytes, %v", len(got), err)
	}
	f, err := os.Open(filepath.Join(dir, "data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(5, 5))
	buf := make([]byte, 100_000)
	for range 50 {
		off := r.Int64N(int64(len(data)))
		n, err := f.ReadAt(buf, off)
		if (err != nil && err != io.EOF) || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
			t.Fatalf("ReadAt %d: %d, %v", off, n, err)
		}
	}
	if _, err := os.ReadFile(filepath.Join(dir, "gone.bin")); !errors.Is(err, syscall.EIO) {
		t.Errorf("file whose data is in no store: %v, want EIO", err)
	}
	if !strings.Contains(logs.String(), "/gone.bin") {
		t.Errorf("not logged: %s", logs.String())
	}
}

// stuckFiles is a Files that never answers: Open (when stuckOpen) or
// every ReadAt blocks until its context ends.
type stuckFiles struct {
	stuckOpen bool
	size      int64
}

func (s stuckFiles) Open(ctx context.Context, p pointer.Pointer) (LodeFile, error) {
	if s.stuckOpen {
		<-ctx.Done()
		return nil, fmt.Errorf("open oid %s: %w", p.OID.Short(), ctx.Err())
	}
	return s, nil
}

func (s stuckFiles) Size() int64            { return s.size }
func (s stuckFiles) NewReader() RangeReader { return s }

func (s stuckFiles) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	<-ctx.Done()
	return 0, fmt.Errorf("fetch chunk at %d: %w", off, ctx.Err())
}

// TestReadTimeout shows that a read whose Files never answers, in ReadAt
// or in Open, fails with EIO after Options.ReadTimeout, and is logged with
// the path and offset.
func TestReadTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, stuckOpen := range []bool{false, true} {
		t.Run(fmt.Sprintf("stuck open %v", stuckOpen), func(t *testing.T) {
			ptr := newFakeFiles().add("stuck", 5<<20).ptr
			m := newMemObjects()
			root := m.tree(Entry{Name: "stuck.bin", Mode: ModeRegular, Hash: m.blob(ptr.Encode())})
			var logs logBuf
			files := stuckFiles{stuckOpen: stuckOpen, size: ptr.Size}
			_, dir := mount(t, Options{Root: root, Objects: m, Files: files, Logf: logs.logf, ReadTimeout: timeout})
			f, err := os.Open(filepath.Join(dir, "stuck.bin"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Two readers at once: one waits for the other's open.
			errs := make(chan error, 2)
			start := time.Now()
			for _, off := range []int64{0, 3 << 20} {
				go func() {
					_, err := f.ReadAt(make([]byte, 4096), off)
					errs <- err
				}()
			}
			for range 2 {
				select {
				case err := <-errs:
					if !errors.Is(err, syscall.EIO) {
						t.Errorf("read that never finishes: %v, want EIO", err)
					}
				case <-time.After(20 * timeout):
					t.Fatalf("read still blocked after %v (ReadTimeout %v)", time.Since(start), timeout)
				}
			}
			t.Logf("both reads failed after %v", time.Since(start))
			// Each read may wait for the other's open, and the kernel may
			// retry a failed readahead as a plain read.
			if took := time.Since(start); took < timeout || took > 10*timeout {
				t.Errorf("reads failed after %v; ReadTimeout is %v", took, timeout)
			}
			log := logs.String()
			for _, want := range []string{"/stuck.bin", "at offset 0", "at offset 3145728", "timed out after 300ms"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q; log:\n%s", want, log)
				}
			}
		})
	}
}
