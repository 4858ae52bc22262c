package commitfs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/rangeread"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/hooks/gitrepo"
)

// largeRepo makes, with git fast-import, a repository whose HEAD has
// dirs*perDir files: d000/f00000 ... (all sharing one blob: the trees are
// what a mount could be slow on).
func largeRepo(tb testing.TB, dirs, perDir int) *gitRepo {
	tb.Helper()
	g := newGitRepo(tb)
	var s bytes.Buffer
	s.WriteString("blob\nmark :1\ndata 6\nhello\n")
	s.WriteString("commit refs/heads/main\nmark :2\ncommitter T <t@example.com> 1700000000 +0000\ndata 4\nbig\n")
	for d := range dirs {
		for f := range perDir {
			fmt.Fprintf(&s, "M 100644 :1 d%03d/f%05d\n", d, f)
		}
	}
	s.WriteString("\n")
	g.git(s.Bytes(), "fast-import", "--quiet")
	return g
}

// mountRev opens the repository, resolves rev and mounts its tree, as
// `git lode mount` does.
func mountRev(tb testing.TB, repoDir, rev, dir string) *Server {
	tb.Helper()
	r, err := gitrepo.Open(repoDir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	c, err := r.Resolve(rev)
	if err != nil {
		tb.Fatal(err)
	}
	tree, err := r.CommitTree(c)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := Mount(dir, Options{Root: Hash(tree), Objects: &repoObjects{r: r}, Files: newFakeFiles()})
	if err != nil {
		skipOrFail(tb, fmt.Sprintf("cannot mount FUSE here: %v", err))
	}
	return srv
}

// TestMountLargeTree mounts a 100,000-file commit and logs how long each
// first access takes. The design target is a mount ready in under 200 ms.
func TestMountLargeTree(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 100,000-file repository")
	}
	requireFUSE(t)
	start := time.Now()
	g := largeRepo(t, 100, 1000)
	t.Logf("generated 100,000 files with git fast-import in %v", time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	start = time.Now()
	srv := mountRev(t, g.dir, "main", dir)
	defer func() {
		if err := srv.Unmount(); err != nil {
			t.Error(err)
		}
	}()
	mounted := time.Since(start)
	if _, err := os.Stat(filepath.Join(dir, "d050")); err != nil {
		t.Fatal(err)
	}
	ready := time.Since(start)
	t.Logf("mount (open repo, resolve, mount) %v; first lookup done %v", mounted.Round(time.Microsecond), ready.Round(time.Microsecond))
	if ready > time.Second {
		t.Errorf("mount ready after %v; the target is 200 ms", ready)
	}

	step := func(what string, fn func() error) {
		t.Helper()
		s := time.Now()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %v", what, time.Since(s).Round(time.Microsecond))
	}
	step("stat d099/f00999 (2 lookups)", func() error { _, err := os.Stat(filepath.Join(dir, "d099/f00999")); return err })
	step("list the root (100 entries)", func() error {
		es, err := os.ReadDir(dir)
		if err == nil && len(es) != 100 {
			err = fmt.Errorf("%d entries", len(es))
		}
		return err
	})
	step("ls -l of d007 (1000 files: readdirplus)", func() error {
		es, err := os.ReadDir(filepath.Join(dir, "d007"))
		for _, e := range es {
			if err == nil {
				_, err = e.Info()
			}
		}
		if err == nil && len(es) != 1000 {
			err = fmt.Errorf("%d entries", len(es))
		}
		return err
	})
	step("ls -l of d007 again (kernel cache)", func() error {
		es, err := os.ReadDir(filepath.Join(dir, "d007"))
		for _, e := range es {
			if err == nil {
				_, err = e.Info()
			}
		}
		return err
	})
	step("read d042/f00042", func() error {
		b, err := os.ReadFile(filepath.Join(dir, "d042/f00042"))
		if err == nil && string(b) != "hello\n" {
			err = fmt.Errorf("read %q", b)
		}
		return err
	})
}

// BenchmarkMount measures a mount of a 100,000-file commit until its
// first lookup is answered, opening the repository as `git lode mount`
// does.
func BenchmarkMount(b *testing.B) {
	requireFUSE(b)
	g := largeRepo(b, 100, 1000)
	for b.Loop() {
		dir := b.TempDir()
		srv := mountRev(b, g.dir, "main", dir)
		if _, err := os.Stat(filepath.Join(dir, "d050/f00500")); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := srv.Unmount(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkSequentialRead reads a 256 MiB lode file, served by an
// in-memory Files, sequentially with 1 MiB reads: the first read through a
// fresh mount (every byte crosses FUSE), a repeated read (the kernel's
// page cache), and, for comparison, a repeated read of a checked-out file
// of the same size on the local disk.
func BenchmarkSequentialRead(b *testing.B) {
	requireFUSE(b)
	const size = 256 << 20
	files := newFakeFiles()
	f := files.add("sequential", size)
	m := newMemObjects()
	root := m.tree(Entry{Name: "seq.bin", Mode: ModeRegular, Hash: m.blob(f.ptr.Encode())})
	opts := Options{Root: root, Objects: m, Files: files}
	buf := make([]byte, 1<<20)
	readAll := func(b *testing.B, name string) {
		fd, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		defer fd.Close()
		var n int64
		for {
			k, err := fd.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if n != size {
			b.Fatalf("read %d bytes, want %d", n, size)
		}
	}

	b.Run("first", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			srv, dir := mount(b, opts)
			reads := files.reads.Load()
			b.StartTimer()
			readAll(b, filepath.Join(dir, "seq.bin"))
			b.StopTimer()
			b.ReportMetric(float64(files.reads.Load()-reads), "fuse-reads/op")
			if err := srv.Unmount(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
	b.Run("repeated", func(b *testing.B) {
		_, dir := mount(b, opts)
		name := filepath.Join(dir, "seq.bin")
		readAll(b, name)
		reads := files.reads.Load()
		b.SetBytes(size)
		for b.Loop() {
			readAll(b, name)
		}
		b.ReportMetric(float64(files.reads.Load()-reads)/float64(b.N), "fuse-reads/op")
	})
	b.Run("checkout", func(b *testing.B) {
		name := filepath.Join(b.TempDir(), "seq.bin")
		if err := os.WriteFile(name, f.content(0, size), 0o644); err != nil {
			b.Fatal(err)
		}
		readAll(b, name)
		b.SetBytes(size)
		for b.Loop() {
			readAll(b, name)
		}
	})
}

// storeFile cleans data into a new local store and returns Files over it
// (a rangeread.Source without a remote) and the pointer.
func storeFile(tb testing.TB, data []byte) (Files, pointer.Pointer) {
	tb.Helper()
	st, err := store.Open(tb.TempDir(), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	pk := st.NewPacker()
	defer pk.Close()
	p, err := filer.Clean(context.Background(), bytes.NewReader(data), pk, st.Codec(), filer.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := pk.Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
	src := rangeread.NewSource(st, nil, nil, rangeread.SourceOptions{})
	tb.Cleanup(src.Close)
	return SourceFiles(src), p
}

// BenchmarkSequentialReadStore is BenchmarkSequentialRead/first with the
// real read path: chunks in a local store, read through rangeread.Source
// (decompression, verification, readahead).
func BenchmarkSequentialReadStore(b *testing.B) {
	requireFUSE(b)
	const size = 256 << 20
	data := make([]byte, size) // random: no chunk repeats, nothing compresses
	_, _ = rand.NewChaCha8([32]byte{3}).Read(data)
	files, p := storeFile(b, data)
	m := newMemObjects()
	root := m.tree(Entry{Name: "seq.bin", Mode: ModeRegular, Hash: m.blob(p.Encode())})
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		srv, dir := mount(b, Options{Root: root, Objects: m, Files: files})
		fd, err := os.Open(filepath.Join(dir, "seq.bin"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		var n int64
		for {
			k, err := fd.Read(buf)
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		fd.Close()
		if n != size {
			b.Fatalf("read %d bytes", n)
		}
		if err := srv.Unmount(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// smallTree is a dataset of many small files, the common shape of ML data
// (folders of images, clips, label files), committed as lode files: files
// of 2-24 KiB, half text and half random, in folders of 100, their data in
// a local store and their pointers in a real git repository.
type smallTree struct {
	repo     *gitRepo
	st       *store.Store
	checkout string // the same files, written out as a checkout would
	files    int
}

// smallFilesCount is how many files newSmallTree makes: LODE_BENCH_FILES,
// else 10,000.
func smallFilesCount(tb testing.TB) int {
	n := 10000
	if v := os.Getenv("LODE_BENCH_FILES"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			tb.Fatalf("LODE_BENCH_FILES=%q: want a positive number", v)
		}
	}
	return n
}

// newSmallTree makes a smallTree of n files. With packPerFile, each file's
// chunks go to a pack of their own (as git add writes them); otherwise all
// go to one pack (as git lode fetch writes them).
func newSmallTree(tb testing.TB, n int, packPerFile bool) *smallTree {
	tb.Helper()
	t := &smallTree{repo: newGitRepo(tb), checkout: filepath.Join(tb.TempDir(), "checkout"), files: n}
	st, err := store.Open(filepath.Join(t.repo.dir, ".git", "lode"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	t.st = st
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	words := strings.Fields("the quick brown fox jumps over a lazy dog label cat bird image clip frame")
	var fi bytes.Buffer
	fi.WriteString("commit refs/heads/main\ncommitter T <t@example.com> 1700000000 +0000\ndata 5\nsmall\n")
	pk := st.NewPacker()
	for i := range n {
		size := 2<<10 + rng.IntN(22<<10+1)
		data := make([]byte, 0, size+16)
		name := fmt.Sprintf("d%04d/f%06d.bin", i/100, i)
		if i%2 == 0 {
			for len(data) < size {
				data = append(data, words[rng.IntN(len(words))]...)
				data = append(data, " \n"[min(rng.IntN(10), 9)/9])
			}
			data = data[:size]
			name = strings.TrimSuffix(name, ".bin") + ".txt"
		} else {
			data = data[:size]
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		}
		p := filepath.Join(t.checkout, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		ptr, err := filer.Clean(ctx, bytes.NewReader(data), pk, st.Codec(), filer.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		if packPerFile {
			if err := pk.Flush(ctx); err != nil {
				tb.Fatal(err)
			}
		}
		enc := ptr.Encode()
		fmt.Fprintf(&fi, "M 100644 inline %s\ndata %d\n%s\n", name, len(enc), enc)
	}
	if err := pk.Flush(ctx); err != nil {
		tb.Fatal(err)
	}
	pk.Close()
	fi.WriteString("\n")
	t.repo.git(fi.Bytes(), "fast-import", "--quiet")
	return t
}

// mountSmallTree mounts HEAD of t with the real read path: objects through
// gitrepo, files through a rangeread.Source over the local store.
func (t *smallTree) mount(tb testing.TB) (*rangeread.Source, string) {
	tb.Helper()
	objs, root := t.repo.rootTree("main")
	src := rangeread.NewSource(t.st, nil, nil, rangeread.SourceOptions{})
	_, dir := mount(tb, Options{Root: root, Objects: objs, Files: SourceFiles(src), Logf: tb.Logf})
	tb.Cleanup(src.Close)
	return src, dir
}

// sh runs a shell command line (the commands a user would type).
func sh(tb testing.TB, line string) string {
	tb.Helper()
	out, err := exec.Command("sh", "-c", line).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v: %s", line, err, out)
	}
	return strings.TrimSpace(string(out))
}

// cpuTime is the CPU time (user and system) this process has used: the
// mount's server, since the test process serves it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSmallFiles lists and reads a tree of many small lode files
// (LODE_BENCH_FILES, default 10,000) through a fresh mount each time, with
// the commands a user would run, and the same commands over a checkout of
// the same files (whose pages are cached):
//
//	find DIR -type f | wc -l                          (looks up every entry)
//	find DIR -type f -print0 | xargs -0 cat >/dev/null
//
// It reports the server's CPU time per operation (server-cpu-ms/op).
// packs=per-file stores every file in a pack of its own, as git add does
// today.
func BenchmarkSmallFiles(b *testing.B) {
	requireFUSE(b)
	n := smallFilesCount(b)
	for _, perFile := range []bool{false, true} {
		name := "packs=one"
		if perFile {
			name = "packs=per-file"
			if os.Getenv("LODE_BENCH_PACK_PER_FILE") == "" {
				continue
			}
		}
		b.Run(name, func(b *testing.B) {
			t := newSmallTree(b, n, perFile)
			want := fmt.Sprint(n)
			for _, cmd := range []struct{ name, line string }{
				{"find", "find %s -type f | wc -l"},
				{"read", "find %s -type f -print0 | xargs -0 cat | wc -c"},
			} {
				b.Run(cmd.name, func(b *testing.B) {
					var cpu time.Duration
					for b.Loop() {
						b.StopTimer()
						_, dir := t.mount(b)
						b.StartTimer()
						c := cpuTime()
						out := sh(b, fmt.Sprintf(cmd.line, dir))
						cpu += cpuTime() - c
						b.StopTimer()
						if cmd.name == "find" && out != want {
							b.Fatalf("find counted %s files, want %s", out, want)
						}
						if err := Unmount(dir, UnmountOptions{}); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "server-cpu-ms/op")
				})
				b.Run(cmd.name+"-checkout", func(b *testing.B) {
					line := fmt.Sprintf(cmd.line, t.checkout)
					sh(b, line)
					for b.Loop() {
						sh(b, line)
					}
				})
			}
		})
	}
}
