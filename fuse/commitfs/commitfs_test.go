package commitfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas/pointer"
)

// fixture is a real git repository with every kind of entry, and the
// lode files its pointers name.
type fixture struct {
	objects *repoObjects
	root    Hash
	files   *fakeFiles
	model   *fakeFile // data/model.pt, 3 MiB + 123
	big     *fakeFile // data/nested/deep/big.bin, executable, 40 MiB
	broken  *fakeFile // data/broken.bin: reads covering failAt fail
	short   *fakeFile // data/short.bin: the reader returns too few bytes
	plain   []byte    // docs/plain.txt, larger than any pointer
}

const commitTime = 1_700_000_000

// fakePointer starts like a pointer, but is a damaged one.
const fakePointer = pointer.Prefix + "1\ngarbage\n"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	g := newGitRepo(t)
	fx := &fixture{files: newFakeFiles()}
	fx.model = fx.files.add("model", 3<<20+123)
	fx.big = fx.files.add("big", 40<<20)
	fx.broken = fx.files.add("broken", 4<<20)
	fx.broken.failAt = 2<<20 + 5
	fx.short = fx.files.add("short", 1<<20)
	fx.short.shortAt = 300_000
	empty := fx.files.add("empty", 0)

	g.write("README.md", []byte("hello\n"), 0o644)
	g.write("bin/run.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	g.write("empty.txt", nil, 0o644)
	fx.plain = bytes.Repeat([]byte("plain git content, not a pointer\n"), 10_000)
	g.write("docs/plain.txt", fx.plain, 0o644)
	g.write("docs/fake-pointer.txt", []byte(fakePointer), 0o644)
	g.write("data/model.pt", fx.model.ptr.Encode(), 0o644)
	g.write("data/nested/deep/big.bin", fx.big.ptr.Encode(), 0o755)
	g.write("data/broken.bin", fx.broken.ptr.Encode(), 0o644)
	g.write("data/short.bin", fx.short.ptr.Encode(), 0o644)
	g.write("data/empty.lode", empty.ptr.Encode(), 0o644)
	g.write("twin1/a.txt", []byte("same\n"), 0o644)
	g.write("twin2/a.txt", []byte("same\n"), 0o644)
	g.symlink("link", "data/model.pt")
	g.symlink("dangling", "../outside/nowhere")
	g.git(nil, "add", "-A")
	g.git(nil, "update-index", "--add", "--cacheinfo", "160000,0123456789abcdef0123456789abcdef01234567,sub")
	g.git(nil, "commit", "-q", "-m", "fixture")
	objects, root := g.rootTree("HEAD")
	fx.objects, fx.root = objects.(*repoObjects), root
	return fx
}

func (fx *fixture) options(logs *logBuf) Options {
	return Options{
		Root: fx.root, Objects: fx.objects, Files: fx.files, Logf: logs.logf,
		Name: "lode:test@HEAD", Time: time.Unix(commitTime, 0),
	}
}

// TestMount mounts the fixture and checks what every kind of entry shows,
// with files opened without a request (as the kernel does when it can),
// and with OPEN and RELEASE for every file (kernels that cannot).
func TestMount(t *testing.T) {
	fx := newFixture(t)
	t.Run("open=none", func(t *testing.T) { testMount(t, fx, false) })
	t.Run("open=request", func(t *testing.T) { testMount(t, fx, true) })
}

func testMount(t *testing.T, fx *fixture, withOpens bool) {
	var logs logBuf
	opts := fx.options(&logs)
	opts.withOpens = withOpens
	srv, dir := mount(t, opts)
	p := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }

	t.Run("attributes", func(t *testing.T) {
		want := []struct {
			name string
			mode fs.FileMode
			size int64
		}{
			{"README.md", 0o644, 6},
			{"bin", fs.ModeDir | 0o755, -1},
			{"bin/run.sh", 0o755, 18},
			{"empty.txt", 0o644, 0},
			{"docs/plain.txt", 0o644, int64(len(fx.plain))},
			{"docs/fake-pointer.txt", 0o644, int64(len(fakePointer))}, // the blob's size
			{"data/model.pt", 0o644, fx.model.ptr.Size},
			{"data/nested/deep/big.bin", 0o755, fx.big.ptr.Size},
			{"data/empty.lode", 0o644, 0},
			{"link", fs.ModeSymlink | 0o777, int64(len("data/model.pt"))},
			{"dangling", fs.ModeSymlink | 0o777, int64(len("../outside/nowhere"))},
			{"sub", fs.ModeDir | 0o755, -1},
		}
		for _, w := range want {
			fi, err := os.Lstat(p(w.name))
			if err != nil {
				t.Errorf("lstat %s: %v", w.name, err)
				continue
			}
			if fi.Mode() != w.mode {
				t.Errorf("%s: mode %v, want %v", w.name, fi.Mode(), w.mode)
			}
			if w.size >= 0 && fi.Size() != w.size {
				t.Errorf("%s: size %d, want %d", w.name, fi.Size(), w.size)
			}
			if !fi.ModTime().Equal(time.Unix(commitTime, 0)) {
				t.Errorf("%s: mtime %v, want the commit time", w.name, fi.ModTime())
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != uint32(os.Getuid()) {
				t.Errorf("%s: uid %d, want %d", w.name, st.Uid, os.Getuid())
			}
		}
		out, err := exec.Command("ls", "-la", p("data")).CombinedOutput()
		if err != nil {
			t.Fatalf("ls -la: %v: %s", err, out)
		}
		t.Logf("ls -la data:\n%s", out)
		for _, line := range []string{"-rw-r--r-- 1", " 3145851 ", " model.pt", "drwxr-xr-x 1", " nested", " .", " .."} {
			if !strings.Contains(string(out), line) {
				t.Errorf("ls -la data: no %q", line)
			}
		}
	})

	t.Run("readdir", func(t *testing.T) {
		names := func(d string) []string {
			es, err := os.ReadDir(p(d))
			if err != nil {
				t.Fatalf("readdir %s: %v", d, err)
			}
			var out []string
			for _, e := range es {
				out = append(out, e.Name())
			}
			return out
		}
		if got, want := strings.Join(names(""), " "), "README.md bin dangling data docs empty.txt link sub twin1 twin2"; got != want {
			t.Errorf("root: %s, want %s", got, want)
		}
		if got, want := strings.Join(names("data"), " "), "broken.bin empty.lode model.pt nested short.bin"; got != want {
			t.Errorf("data: %s, want %s", got, want)
		}
		if got := names("sub"); len(got) != 0 {
			t.Errorf("submodule lists %v, want nothing", got)
		}
		if got := names("data/nested/deep"); len(got) != 1 || got[0] != "big.bin" {
			t.Errorf("nested: %v", got)
		}
	})

	t.Run("inodes", func(t *testing.T) {
		ino := func(name string) uint64 {
			fi, err := os.Lstat(p(name))
			if err != nil {
				t.Fatal(err)
			}
			return fi.Sys().(*syscall.Stat_t).Ino
		}
		if got := ino(""); got != rootIno {
			t.Errorf("root inode %d, want %d", got, rootIno)
		}
		seen := map[uint64]string{}
		for _, name := range []string{"README.md", "bin", "bin/run.sh", "data/model.pt", "twin1", "twin2", "twin1/a.txt", "twin2/a.txt", "sub", "link"} {
			n := ino(name)
			if n <= rootIno {
				t.Errorf("%s: inode %d", name, n)
			}
			if want, _ := identity(name); n != want {
				t.Errorf("%s: inode %d, want %d (from the path)", name, n, want)
			}
			if other, dup := seen[n]; dup {
				t.Errorf("%s and %s share inode %d", name, other, n)
			}
			seen[n] = name
		}
		es, err := os.ReadDir(p("twin1"))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := es[0].Info()
		if got := info.Sys().(*syscall.Stat_t).Ino; got != ino("twin1/a.txt") {
			t.Errorf("readdir inode %d, stat inode %d", got, ino("twin1/a.txt"))
		}
	})

	t.Run("git files", func(t *testing.T) {
		for name, want := range map[string][]byte{
			"README.md":      []byte("hello\n"),
			"bin/run.sh":     []byte("#!/bin/sh\necho hi\n"),
			"empty.txt":      {},
			"docs/plain.txt": fx.plain,
			"twin2/a.txt":    []byte("same\n"),
		} {
			got, err := os.ReadFile(p(name))
			if err != nil {
				t.Errorf("read %s: %v", name, err)
			} else if !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes that differ from git's %d", name, len(got), len(want))
			}
		}
		if _, err := os.ReadFile(p("docs/fake-pointer.txt")); !errors.Is(err, syscall.EIO) {
			t.Errorf("read of a damaged pointer: %v, want EIO", err)
		}
		if !strings.Contains(logs.String(), "docs/fake-pointer.txt") {
			t.Errorf("a damaged pointer is not logged; log:\n%s", logs.String())
		}
	})

	t.Run("symlinks", func(t *testing.T) {
		if got, err := os.Readlink(p("link")); err != nil || got != "data/model.pt" {
			t.Errorf("readlink link = %q, %v", got, err)
		}
		if got, err := os.Readlink(p("dangling")); err != nil || got != "../outside/nowhere" {
			t.Errorf("readlink dangling = %q, %v", got, err)
		}
		b, err := os.ReadFile(p("link"))
		if err != nil || !bytes.Equal(b, fx.model.content(0, fx.model.ptr.Size)) {
			t.Errorf("read through link: %d bytes, %v", len(b), err)
		}
	})

	t.Run("lode files", func(t *testing.T) {
		for _, c := range []struct {
			name string
			f    *fakeFile
		}{{"data/model.pt", fx.model}, {"data/nested/deep/big.bin", fx.big}} {
			got, err := os.ReadFile(p(c.name))
			if err != nil {
				t.Fatalf("read %s: %v", c.name, err)
			}
			if !bytes.Equal(got, c.f.content(0, c.f.ptr.Size)) {
				t.Errorf("%s: content differs", c.name)
			}
		}
		if b, err := os.ReadFile(p("data/empty.lode")); err != nil || len(b) != 0 {
			t.Errorf("empty lode file: %d bytes, %v", len(b), err)
		}
	})

	t.Run("random ReadAt", func(t *testing.T) {
		f, err := os.Open(p("data/model.pt"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		size := fx.model.ptr.Size
		r := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			off := r.Int64N(size + 10)
			n := 1 + r.IntN(300_000)
			buf := make([]byte, n)
			got, err := f.ReadAt(buf, off)
			want := max(0, min(int64(n), size-off))
			if int64(got) != want || (err != nil && err != io.EOF) || (got < n && err != io.EOF) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; want %d", n, off, got, err, want)
			}
			if !bytes.Equal(buf[:got], fx.model.content(off, want)) {
				t.Fatalf("ReadAt(%d bytes at %d): wrong bytes", n, off)
			}
		}
	})

	t.Run("concurrent readers", func(t *testing.T) {
		f, err := os.Open(p("data/nested/deep/big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		size := fx.big.ptr.Size
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 7))
				buf := make([]byte, 4096)
				for range 200 {
					off := r.Int64N(size/4096) * 4096
					if r.IntN(2) == 0 {
						off += r.Int64N(4096) // unaligned too
					}
					n, err := f.ReadAt(buf, off)
					if err != nil && err != io.EOF {
						errs <- err
						return
					}
					if !bytes.Equal(buf[:n], fx.big.content(off, int64(n))) {
						errs <- fmt.Errorf("wrong bytes at %d", off)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("failed read", func(t *testing.T) {
		_, err := os.ReadFile(p("data/broken.bin"))
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("reading across a failing chunk: %v, want EIO", err)
		}
		f, err := os.Open(p("data/broken.bin"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		buf := make([]byte, 4096)
		if _, err := f.ReadAt(buf, 0); err != nil {
			t.Errorf("reading before the failing chunk: %v", err)
		} else if !bytes.Equal(buf, fx.broken.content(0, 4096)) {
			t.Errorf("reading before the failing chunk: wrong bytes")
		}
		if _, err := f.ReadAt(buf, fx.broken.failAt-100); !errors.Is(err, syscall.EIO) {
			t.Errorf("ReadAt at the failing chunk: %v, want EIO", err)
		}
		log := logs.String()
		if !strings.Contains(log, "/data/broken.bin") || !strings.Contains(log, errInjected.Error()) || !strings.Contains(log, "at offset 2097152") {
			t.Errorf("failed read not logged with path, offset and error; log:\n%s", log)
		}

		if _, err := os.ReadFile(p("data/short.bin")); !errors.Is(err, syscall.EIO) {
			t.Errorf("reader returning too few bytes: %v, want EIO", err)
		}
		if !strings.Contains(logs.String(), "short read") {
			t.Errorf("short read not logged")
		}
	})

	t.Run("missing names", func(t *testing.T) {
		if _, err := os.Stat(p("nope")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat nope: %v", err)
		}
		if _, err := os.Stat(p("data/nested/nope")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat data/nested/nope: %v", err)
		}
		if _, err := os.Stat(p("README.md/x")); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("stat README.md/x: %v, want ENOTDIR", err)
		}
	})

	t.Run("writes rejected", func(t *testing.T) {
		readOnly := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EACCES) {
				t.Errorf("%s: %v, want EROFS", what, err)
			}
		}
		readOnly("create", os.WriteFile(p("new.txt"), []byte("x"), 0o644))
		_, err := os.OpenFile(p("README.md"), os.O_WRONLY, 0)
		readOnly("open for writing", err)
		_, err = os.OpenFile(p("data/model.pt"), os.O_RDWR, 0)
		readOnly("open a lode file for writing", err)
		readOnly("truncate", os.Truncate(p("README.md"), 0))
		readOnly("mkdir", os.Mkdir(p("newdir"), 0o755))
		readOnly("remove", os.Remove(p("README.md")))
		readOnly("rmdir", os.Remove(p("twin1")))
		readOnly("rename", os.Rename(p("README.md"), p("README2.md")))
		readOnly("chmod", os.Chmod(p("README.md"), 0o600))
		readOnly("symlink", os.Symlink("x", p("newlink")))
		readOnly("chtimes", os.Chtimes(p("README.md"), time.Now(), time.Now()))
		if b, err := os.ReadFile(p("README.md")); err != nil || string(b) != "hello\n" {
			t.Errorf("README.md after the write attempts: %q, %v", b, err)
		}
	})

	t.Run("kernel caches", func(t *testing.T) {
		trees := fx.objects.trees.Load()
		for range 3 {
			if _, err := os.Stat(p("data/nested/deep/big.bin")); err != nil {
				t.Fatal(err)
			}
			if _, err := os.ReadDir(p("data")); err != nil {
				t.Fatal(err)
			}
		}
		if got := fx.objects.trees.Load() - trees; got != 0 {
			t.Errorf("%d trees read again for names already looked up", got)
		}
		// The whole file was read above: another open is served from
		// the page cache.
		reads := fx.files.reads.Load()
		b, err := os.ReadFile(p("data/model.pt"))
		if err != nil || int64(len(b)) != fx.model.ptr.Size {
			t.Fatalf("read: %d bytes, %v", len(b), err)
		}
		if got := fx.files.reads.Load() - reads; got != 0 {
			t.Errorf("a second read of a cached file made %d reads", got)
		}
		t.Logf("largest read request: %d KiB", fx.files.maxRead.Load()>>10)
	})

	t.Run("statfs and mounts", func(t *testing.T) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if st.Flags&0x1 == 0 { // ST_RDONLY
			t.Errorf("statfs flags %#x: not read-only", st.Flags)
		}
		mounts, err := os.ReadFile("/proc/self/mounts")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(mounts), "lode:test@HEAD "+dir+" fuse.lode ro,") {
			t.Errorf("/proc/self/mounts has no read-only lode:test@HEAD at %s", dir)
		}
	})

	t.Run("unmount", func(t *testing.T) {
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		if err := srv.Unmount(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Wait did not return after Unmount")
		}
		if ok, err := isMountPoint(dir); ok || err != nil {
			t.Errorf("still mounted after Unmount (%v)", err)
		}
		if err := Unmount(dir, UnmountOptions{}); !errors.Is(err, ErrNotMounted) {
			t.Errorf("Unmount of an unmounted directory: %v, want ErrNotMounted", err)
		}
	})
}
