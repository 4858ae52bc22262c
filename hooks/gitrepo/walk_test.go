package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/lodevcs/lode/cas/pointer"
)

// got is what a test expects of one Entry.
type got struct {
	Path string
	Mode filemode.FileMode
	P    pointer.Pointer
	Err  error // the sentinel Entry.Err must wrap, or nil
}

// pointerTree builds a commit whose tree holds every kind of entry the walk
// must tell apart, and returns it with the entries Pointers must report.
func pointerTree(t *testing.T, tr *testRepo) (plumbing.Hash, []got) {
	t.Helper()
	a, b, c := ptr("a"), ptr("b"), ptr("c")
	tr.write("a.bin", a.Encode(), 0o644)
	tr.write("dup.bin", a.Encode(), 0o644) // same blob at a second path
	tr.write("data/b.bin", b.Encode(), 0o644)
	tr.write("data/run.bin", c.Encode(), 0o755)
	tr.write("data/nested/deep/c.bin", c.Encode(), 0o644)
	tr.write("data/nested/notes.txt", []byte("hello\n"), 0o644)
	tr.write("bad.bin", []byte(pointer.Prefix+"1\noid blake3:zz\nsize 1\n"), 0o644)
	tr.write("future.bin", []byte(pointer.Prefix+"9\nwhatever\n"), 0o644)
	tr.write("short.txt", []byte("version"), 0o644)
	tr.write("empty.txt", nil, 0o644)
	// Starts like a pointer but is far too long to be one: it must be
	// skipped by size, or it would be reported as malformed.
	tr.write("big.bin", append(a.Encode(), bytes.Repeat([]byte("x"), 1<<20)...), 0o644)
	tr.write("edge.bin", append([]byte(pointer.Prefix), bytes.Repeat([]byte("y"), pointer.MaxLen-len(pointer.Prefix)+1)...), 0o644)
	// A symlink whose target reads as a pointer is still not one.
	if err := os.Symlink(string(b.Encode()), filepath.Join(tr.dir, "link")); err != nil {
		t.Fatal(err)
	}
	tr.git("add", "-A")
	// A submodule entry: its hash names a commit that is not here.
	tr.git("update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("1", 40)+",sub")
	h := tr.commit("pointers")
	return h, []got{
		{"a.bin", filemode.Regular, a, nil},
		{"bad.bin", filemode.Regular, pointer.Pointer{}, pointer.ErrMalformed},
		{"data/b.bin", filemode.Regular, b, nil},
		{"data/nested/deep/c.bin", filemode.Regular, c, nil},
		{"data/run.bin", filemode.Executable, c, nil},
		{"dup.bin", filemode.Regular, a, nil},
		{"future.bin", filemode.Regular, pointer.Pointer{}, pointer.ErrUnsupportedVersion},
	}
}

func TestPointers(t *testing.T) {
	tests := []struct {
		name string
		prep func(tr *testRepo)
	}{
		{"loose objects", func(*testRepo) {}},
		{"packed", func(tr *testRepo) { tr.git("gc", "-q") }},
		{"packed with deltas", func(tr *testRepo) { tr.git("repack", "-q", "-a", "-d", "-f", "--depth=50", "--window=50") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTestRepo(t)
			h, want := pointerTree(t, tr)
			tt.prep(tr)
			var gots []got
			err := tr.open().Pointers(context.Background(), h, func(e Entry) error {
				if e.Blob != blobHash(mustRead(t, filepath.Join(tr.dir, e.Path))) {
					t.Errorf("%s: Blob %s is not the file's blob", e.Path, e.Blob)
				}
				g := got{e.Path, e.Mode, e.Pointer, nil}
				if e.Err != nil {
					g.P = pointer.Pointer{}
					for _, s := range []error{pointer.ErrMalformed, pointer.ErrUnsupportedVersion} {
						if errors.Is(e.Err, s) {
							g.Err = s
						}
					}
					if g.Err == nil {
						t.Errorf("%s: Err = %v, want a pointer error", e.Path, e.Err)
					}
				}
				gots = append(gots, g)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gots, want) {
				t.Errorf("Pointers reported\n%v\nwant\n%v", gots, want)
			}
		})
	}
}

func TestPointersConcurrent(t *testing.T) {
	tr := newTestRepo(t)
	h, want := pointerTree(t, tr)
	tr.git("gc", "-q")
	r := tr.open()
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Pointers(context.Background(), h, func(Entry) error { counts[i]++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i, n := range counts {
		if n != len(want) {
			t.Errorf("walk %d found %d pointers, want %d", i, n, len(want))
		}
	}
}

func TestPointersStops(t *testing.T) {
	tr := newTestRepo(t)
	h, _ := pointerTree(t, tr)
	r := tr.open()

	stop := errors.New("enough")
	calls := 0
	err := r.Pointers(context.Background(), h, func(Entry) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("Pointers with a failing callback = %v after %d calls; want the callback's error after 1", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Pointers(ctx, h, func(Entry) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Pointers with a canceled context = %v, want context.Canceled", err)
	}

	if err := r.Pointers(context.Background(), plumbing.NewHash(strings.Repeat("2", 40)), func(Entry) error { return nil }); err == nil {
		t.Error("Pointers of a missing commit succeeded")
	}
}

// TestBlobHeadCheap checks that deciding a large blob is no pointer does not
// inflate it, for loose, packed and deltified objects.
func TestBlobHeadCheap(t *testing.T) {
	const size = 8 << 20
	tr := newTestRepo(t)
	big := make([]byte, size)
	for i := range big {
		big[i] = byte(i*7919 + i>>8*31 + i>>16) // varied, poorly compressible
	}
	tr.write("big1", big, 0o644)
	tr.commit("one")
	big[size/2]++
	tr.write("big2", big, 0o644)
	tr.commit("two")
	h1 := blobHash(mustRead(t, filepath.Join(tr.dir, "big1")))
	h2 := blobHash(big)

	measure := func(t *testing.T, h plumbing.Hash) {
		r := tr.open()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n, _, err := r.blobHead(h, 200)
		runtime.ReadMemStats(&after)
		if err != nil || n != size {
			t.Fatalf("blobHead size = %d, %v; want %d", n, err, size)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
			t.Errorf("blobHead allocated %d bytes for a %d-byte blob", alloc, size)
		}
	}
	t.Run("loose", func(t *testing.T) { measure(t, h1) })
	tr.git("repack", "-q", "-a", "-d", "-f")
	if typ := tr.git("cat-file", "-t", h2.String()); typ != "blob" {
		t.Fatal(typ)
	}
	t.Run("packed", func(t *testing.T) { measure(t, h1) })
	t.Run("packed other", func(t *testing.T) { measure(t, h2) })
	// Make sure one of the two was stored as a delta against the other,
	// so that "packed other" measured a deltified entry.
	out := tr.git("verify-pack", "-v", filepath.Join(tr.dir, ".git", "objects", "pack", packName(t, tr)))
	deltas := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 7 && (f[0] == h1.String() || f[0] == h2.String()) {
			deltas++
		}
	}
	if deltas != 1 {
		t.Errorf("want one of the two big blobs deltified, verify-pack says:\n%s", out)
	}
}

func packName(t *testing.T, tr *testRepo) string {
	m, err := filepath.Glob(filepath.Join(tr.dir, ".git", "objects", "pack", "*.idx"))
	if err != nil || len(m) != 1 {
		t.Fatalf("packs: %v %v", m, err)
	}
	return filepath.Base(m[0])
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadFile(t *testing.T) {
	tr := newTestRepo(t)
	tr.write(".lode.toml", []byte("[remote]\nurl = \"x\"\n"), 0o644)
	tr.write("a/b/c.txt", []byte("deep\n"), 0o755)
	if err := os.Symlink("a", filepath.Join(tr.dir, "ln")); err != nil {
		t.Fatal(err)
	}
	h := tr.commit("files")
	r := tr.open()
	tests := []struct {
		path     string
		want     string
		notExist bool
		fails    bool
	}{
		{path: ".lode.toml", want: "[remote]\nurl = \"x\"\n"},
		{path: "a/b/c.txt", want: "deep\n"},
		{path: "missing.toml", notExist: true},
		{path: "a/missing", notExist: true},
		{path: "a/b/c.txt/x", notExist: true},
		{path: "a/b", fails: true},
		{path: "ln", fails: true},
		{path: "/a/b/c.txt", fails: true},
		{path: "a/../a/b/c.txt", fails: true},
		{path: "", fails: true},
	}
	for _, tt := range tests {
		b, err := r.ReadFile(h, tt.path)
		switch {
		case tt.notExist:
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadFile(%q) = %q, %v; want fs.ErrNotExist", tt.path, b, err)
			}
		case tt.fails:
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadFile(%q) = %q, %v; want an error other than fs.ErrNotExist", tt.path, b, err)
			}
		default:
			if err != nil || string(b) != tt.want {
				t.Errorf("ReadFile(%q) = %q, %v; want %q", tt.path, b, err, tt.want)
			}
		}
	}
}

// reachable collects ReachablePointers' blobs as path=content-of-pointer
// names, sorted, and checks that no blob is reported twice.
func reachable(t *testing.T, r *Repo, include, exclude []plumbing.Hash) []string {
	t.Helper()
	var names []string
	seen := make(map[plumbing.Hash]bool)
	err := r.ReachablePointers(context.Background(), include, exclude, func(c plumbing.Hash, e Entry) error {
		if seen[e.Blob] {
			t.Errorf("blob %s reported twice", e.Blob)
		}
		seen[e.Blob] = true
		names = append(names, e.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// oracle asks git rev-list --objects which pointer blobs are in the range,
// and returns their paths as reachable names them.
func oracle(t *testing.T, tr *testRepo, ptrBlobs map[plumbing.Hash]bool, include, exclude []plumbing.Hash) []string {
	t.Helper()
	args := []string{"rev-list", "--objects"}
	for _, h := range include {
		args = append(args, h.String())
	}
	args = append(args, "--not")
	for _, h := range exclude {
		args = append(args, h.String())
	}
	var names []string
	for _, line := range strings.Split(tr.git(args...), "\n") {
		hash, path, _ := strings.Cut(line, " ")
		if ptrBlobs[plumbing.NewHash(hash)] {
			names = append(names, path)
		}
	}
	sort.Strings(names)
	return names
}

func TestReachablePointers(t *testing.T) {
	tr := newTestRepo(t)
	// Each pointer file gets its own name so that the sets read well;
	// p1 comes back in c4 to show that only the excluded commits next to
	// the range count.
	files := map[string][]byte{}
	put := func(path, content string) {
		b := ptr(content).Encode()
		files[path] = b
		tr.write(path, b, 0o644)
	}
	put("p1", "one")
	put("dir/p2", "two")
	tr.write("plain.txt", []byte("not a pointer\n"), 0o644)
	c1 := tr.commit("c1")
	put("p3", "three")
	c2 := tr.commit("c2")
	put("p1", "four") // p1 now holds pointer "four"
	tr.write("bad", []byte(pointer.Prefix+"1\ngarbage\n"), 0o644)
	c3 := tr.commit("c3")
	put("p1", "one") // back to the blob of c1
	c4 := tr.commit("c4")
	tr.git("checkout", "-q", "-b", "side", c1.String())
	put("side/p5", "five")
	s1 := tr.commit("s1")
	tr.git("tag", "-a", "-m", "tag", "t3", c3.String())
	tag := plumbing.NewHash(tr.git("rev-parse", "t3"))

	ptrBlobs := map[plumbing.Hash]bool{blobHash([]byte(pointer.Prefix + "1\ngarbage\n")): true}
	for _, s := range []string{"one", "two", "three", "four", "five"} {
		ptrBlobs[blobHash(ptr(s).Encode())] = true
	}
	r := tr.open()
	missing := plumbing.NewHash(strings.Repeat("3", 40))
	hs := func(h ...plumbing.Hash) []plumbing.Hash { return h }
	tests := []struct {
		name             string
		include, exclude []plumbing.Hash
		want             []string
		noOracle         bool
	}{
		{"all history", hs(c3), nil, []string{"bad", "dir/p2", "p1", "p1", "p3"}, false},
		{"after c1", hs(c3), hs(c1), []string{"bad", "p1", "p3"}, false},
		{"after c2", hs(c3), hs(c2), []string{"bad", "p1"}, false},
		{"nothing new", hs(c3), hs(c3), nil, false},
		{"excluded descendant", hs(c2), hs(c4), nil, false},
		{"two tips", hs(c3, s1), hs(c2), []string{"bad", "p1", "side/p5"}, false},
		{"side branch", hs(s1), hs(c3), []string{"side/p5"}, false},
		{"blob back from older history", hs(c4), hs(c3), []string{"p1"}, false},
		{"tag, zero and unknown exclude", hs(tag), hs(plumbing.ZeroHash, missing, c1), []string{"bad", "p1", "p3"}, true},
		{"zero include", hs(plumbing.ZeroHash), nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reachable(t, r, tt.include, tt.exclude)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReachablePointers = %q, want %q", got, tt.want)
			}
			if !tt.noOracle {
				if o := oracle(t, tr, ptrBlobs, tt.include, tt.exclude); !reflect.DeepEqual(got, o) {
					t.Errorf("ReachablePointers = %q, git rev-list --objects says %q", got, o)
				}
			}
		})
	}

	t.Run("callback error", func(t *testing.T) {
		stop := errors.New("stop")
		if err := r.ReachablePointers(context.Background(), hs(c3), nil, func(plumbing.Hash, Entry) error { return stop }); err != stop {
			t.Errorf("got %v, want the callback's error", err)
		}
	})
	t.Run("commit argument", func(t *testing.T) {
		err := r.ReachablePointers(context.Background(), hs(c3), hs(c2), func(c plumbing.Hash, e Entry) error {
			if c != c3 {
				t.Errorf("%s reported with commit %s, want c3 %s", e.Path, c, c3)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unknown include", func(t *testing.T) {
		err := r.ReachablePointers(context.Background(), hs(missing), nil, func(plumbing.Hash, Entry) error { return nil })
		if err == nil {
			t.Error("no error for an include hash that is not in the repository")
		}
	})
	t.Run("with trees", func(t *testing.T) {
		// ReachableAndTreePointers gives what the two calls give together,
		// each blob once.
		for _, tc := range []struct{ include, exclude, except []plumbing.Hash }{
			{hs(c3), nil, nil},
			{hs(c3), hs(c2), nil},
			{hs(c3), hs(c3), nil},
			{hs(c3), hs(c3), hs(c3)},
			{hs(c4), hs(c3), hs(c1)},
			{hs(c3, s1), hs(c2), hs(c1)},
			{hs(s1), hs(c3), hs(c4)},
			{hs(c4), hs(c1), hs(c2, missing)},
		} {
			want := map[plumbing.Hash]bool{}
			add := func(_ plumbing.Hash, e Entry) error { want[e.Blob] = true; return nil }
			if err := r.ReachablePointers(context.Background(), tc.include, tc.exclude, add); err != nil {
				t.Fatal(err)
			}
			if err := r.TreePointers(context.Background(), tc.include, tc.except, add); err != nil {
				t.Fatal(err)
			}
			got := map[plumbing.Hash]bool{}
			err := r.ReachableAndTreePointers(context.Background(), tc.include, tc.exclude, tc.except, func(_ plumbing.Hash, e Entry) error {
				if got[e.Blob] {
					t.Errorf("%+v: %s (%s) reported twice", tc, e.Path, e.Blob)
				}
				got[e.Blob] = true
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%+v: ReachableAndTreePointers gave %d blobs %v, the two calls %d %v", tc, len(got), got, len(want), want)
			}
		}
	})
}

// TestReachablePointersSkewedClock builds a history whose committer dates
// go backwards, so that the date-ordered walk meets an included-looking
// commit before learning it is excluded.
func TestReachablePointersSkewedClock(t *testing.T) {
	tr := newTestRepo(t)
	put := func(path, content string) { tr.write(path, ptr(content).Encode(), 0o644) }
	tr.time = 1000
	put("root", "root")
	root := tr.commit("root")
	tr.time = 9000 // the middle commit claims to be newest
	put("mid", "mid")
	mid := tr.commit("mid")
	tr.time = 100
	put("old", "old")
	excl := tr.commit("excluded tip, dated oldest")
	tr.git("checkout", "-q", "-b", "inc", mid.String())
	tr.time = 5000
	put("new", "new")
	inc := tr.commit("included tip")

	r := tr.open()
	commits, _, err := r.commitRange(context.Background(), []plumbing.Hash{inc}, []plumbing.Hash{excl})
	if err != nil {
		t.Fatal(err)
	}
	var hs []plumbing.Hash
	for _, c := range commits {
		hs = append(hs, c.hash)
	}
	if !reflect.DeepEqual(hs, []plumbing.Hash{inc}) {
		t.Errorf("commitRange = %v, want only %v (root %v, mid %v are reachable from the excluded tip)", hs, inc, root, mid)
	}
	if got := reachable(t, r, []plumbing.Hash{inc}, []plumbing.Hash{excl}); !reflect.DeepEqual(got, []string{"new"}) {
		t.Errorf("ReachablePointers = %q, want [new]", got)
	}
	// The first include's tree comes first although the other tip and mid
	// claim to be newer: every pointer of its tree is reported with it.
	got := map[string]plumbing.Hash{}
	err = r.ReachablePointers(context.Background(), []plumbing.Hash{excl, inc}, nil, func(c plumbing.Hash, e Entry) error {
		got[e.Path] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"root", "mid", "old"} {
		if got[p] != excl {
			t.Errorf("%s reported with commit %v, want the first include %v (root %v, mid %v, the other %v)", p, got[p], excl, root, mid, inc)
		}
	}
	if got["new"] != inc {
		t.Errorf("new reported with %v, want %v", got["new"], inc)
	}
}

func TestLongHistory(t *testing.T) {
	tr := newTestRepo(t)
	for i := range 20 {
		tr.write(fmt.Sprintf("dir%d/p", i%5), ptr(fmt.Sprint(i)).Encode(), 0o644)
		tr.commit(fmt.Sprint(i))
	}
	tr.git("gc", "-q")
	r := tr.open()
	head, err := r.Resolve("HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if got := reachable(t, r, []plumbing.Hash{head}, nil); len(got) != 20 {
		t.Errorf("ReachablePointers found %d pointers, want 20", len(got))
	}
}
