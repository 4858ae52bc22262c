package commitfs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
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
