package remotetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/lodevcs/lode/remote"
)

// Factory makes a fresh, empty back end for one subtest. The suite closes
// it when the subtest ends; cleanup of anything else (servers, buckets) is
// the factory's, with t.Cleanup.
type Factory func(t *testing.T) remote.Backend

// ReadOnlyFactory makes a fresh, empty back end for one subtest, and a
// function that stores an object so that the back end can read it (for
// example by writing into the directory an HTTP server publishes).
type ReadOnlyFactory func(t *testing.T) (b remote.Backend, seed func(name string, data []byte) error)

// Run checks the whole remote.Backend contract on back ends made by
// newBackend: the read half (as RunReadOnly, seeding with Put) and the
// write half (overwrite, atomicity of failed and cancelled Puts, Delete,
// List, concurrent writers and readers). Subtests run one after another.
func Run(t *testing.T, newBackend Factory) {
	t.Helper()
	ro := func(t *testing.T) (remote.Backend, func(string, []byte) error) {
		b := newBackend(t)
		return b, func(name string, data []byte) error {
			return b.Put(context.Background(), name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
		}
	}
	RunReadOnly(t, ro)
	for _, tc := range writeTests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			closeAtEnd(t, b)
			tc.fn(t, b)
		})
	}
}

// RunReadOnly checks the read half of the contract: Get (whole, ranged,
// past the end), Stat, missing objects, nested names, invalid names,
// concurrent readers and cancelled contexts.
func RunReadOnly(t *testing.T, newBackend ReadOnlyFactory) {
	t.Helper()
	for _, tc := range readTests {
		t.Run(tc.name, func(t *testing.T) {
			b, seed := newBackend(t)
			closeAtEnd(t, b)
			tc.fn(t, b, func(name string, data []byte) {
				t.Helper()
				if err := seed(name, data); err != nil {
					t.Fatalf("seed %s: %v", name, err)
				}
			})
		})
	}
}

func closeAtEnd(t *testing.T, b remote.Backend) {
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

var readTests = []struct {
	name string
	fn   func(t *testing.T, b remote.Backend, seed func(string, []byte))
}{
	{"RoundTrip", testRoundTrip},
	{"NestedNames", testNestedNames},
	{"Ranges", testRanges},
	{"Missing", testMissing},
	{"InvalidNamesRead", testInvalidNamesRead},
	{"ConcurrentReads", testConcurrentReads},
	{"CancelledRead", testCancelledRead},
}

var writeTests = []struct {
	name string
	fn   func(t *testing.T, b remote.Backend)
}{
	{"Overwrite", testOverwrite},
	{"PutExactSize", testPutExactSize},
	{"PutSourceFails", testPutSourceFails},
	{"PutCancelledMidway", testPutCancelledMidway},
	{"Delete", testDelete},
	{"List", testList},
	{"ListEmpty", testListEmpty},
	{"ListStopsOnError", testListStops},
	{"ConcurrentWrites", testConcurrentWrites},
	{"CancelledWrite", testCancelledWrite},
	{"InvalidNamesWrite", testInvalidNamesWrite},
}

// Data returns n reproducible pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(p)
	return p
}

// get reads a range with one Get.
func get(ctx context.Context, b remote.Backend, name string, off, length int64) ([]byte, error) {
	rc, err := b.Get(ctx, name, off, length, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close body: %w", cerr)
	}
	return data, err
}

func put(ctx context.Context, b remote.Backend, name string, data []byte) error {
	return b.Put(ctx, name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
}

func mustPut(t *testing.T, b remote.Backend, name string, data []byte) {
	t.Helper()
	if err := put(context.Background(), b, name, data); err != nil {
		t.Fatalf("Put %s (%d bytes): %v", name, len(data), err)
	}
}

// checkObject checks that name holds want, by Get and Stat.
func checkObject(t *testing.T, b remote.Backend, name string, want []byte) {
	t.Helper()
	ctx := context.Background()
	got, err := get(ctx, b, name, 0, -1)
	if err != nil {
		t.Fatalf("Get %s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get %s: %d bytes, not the %d stored (first difference at %d)", name, len(got), len(want), firstDiff(got, want))
	}
	info, err := b.Stat(ctx, name)
	if err != nil {
		t.Fatalf("Stat %s: %v", name, err)
	}
	if info.Size != int64(len(want)) || info.Name != name {
		t.Fatalf("Stat %s = %+v, want size %d", name, info, len(want))
	}
}

// checkMissing checks that Get, ranged Get and Stat of name report
// remote.ErrNotExist.
func checkMissing(t *testing.T, b remote.Backend, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := get(ctx, b, name, 0, -1); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("Get of missing %s: %v, want ErrNotExist", name, err)
	}
	if _, err := get(ctx, b, name, 1, 10); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("ranged Get of missing %s: %v, want ErrNotExist", name, err)
	}
	if _, err := b.Stat(ctx, name); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("Stat of missing %s: %v, want ErrNotExist", name, err)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testRoundTrip(t *testing.T, b remote.Backend, seed func(string, []byte)) {
	if b.Location() == "" {
		t.Error("Location is empty")
	}
	for i, size := range []int{0, 1, 4093, 3<<20 + 1234} {
		name := fmt.Sprintf("roundtrip/%d.bin", size)
		data := Data(uint64(i), size)
		seed(name, data)
		checkObject(t, b, name, data)
	}
}

func testNestedNames(t *testing.T, b remote.Backend, seed func(string, []byte)) {
	names := []string{"packs/ab.pack", "manifests/xy", "a/b/c/d.e", "top", "name with space+%"}
	for i, name := range names {
		seed(name, Data(uint64(i), 100+i))
	}
	for i, name := range names {
		checkObject(t, b, name, Data(uint64(i), 100+i))
	}
	// The namespace is flat: a prefix of names is no object.
	for _, name := range []string{"packs", "a/b", "manifests/x", "to"} {
		checkMissing(t, b, name)
	}
}

func testRanges(t *testing.T, b remote.Backend, seed func(string, []byte)) {
	const name = "ranges/obj"
	data := Data(7, 200_001)
	size := int64(len(data))
	seed(name, data)
	seed("ranges/empty", nil)
	for _, tc := range []struct {
		off, length int64
		want        []byte // nil: ErrRange
	}{
		{0, 10, data[:10]},
		{0, -1, data},
		{0, size, data},
		{100_000, 4096, data[100_000:104_096]},
		{100_000, -1, data[100_000:]},
		{size - 10, 10, data[size-10:]},
		{size - 10, 100, data[size-10:]}, // short at the end
		{size - 1, -1, data[size-1:]},
		{5, 0, []byte{}},
		{size, -1, []byte{}},
		{size, 10, []byte{}},
		{size, 0, []byte{}},
		{size + 1, -1, nil},
		{size + 1, 1, nil},
		{size + 1, 0, nil},
		{1 << 40, 10, nil},
	} {
		got, err := get(context.Background(), b, name, tc.off, tc.length)
		switch {
		case tc.want == nil && !errors.Is(err, remote.ErrRange):
			t.Errorf("Get(%d, %d) of %d bytes: err %v, want ErrRange", tc.off, tc.length, size, err)
		case tc.want != nil && err != nil:
			t.Errorf("Get(%d, %d) of %d bytes: %v", tc.off, tc.length, size, err)
		case tc.want != nil && !bytes.Equal(got, tc.want):
			t.Errorf("Get(%d, %d) of %d bytes: got %d bytes, want %d (first difference at %d)", tc.off, tc.length, size, len(got), len(tc.want), firstDiff(got, tc.want))
		}
	}
	for _, tc := range []struct{ off, length int64 }{{0, -1}, {0, 10}, {0, 0}} {
		got, err := get(context.Background(), b, "ranges/empty", tc.off, tc.length)
		if err != nil || len(got) != 0 {
			t.Errorf("Get(%d, %d) of an empty object: %d bytes, %v; want none and no error", tc.off, tc.length, len(got), err)
		}
	}
	if _, err := get(context.Background(), b, "ranges/empty", 1, -1); !errors.Is(err, remote.ErrRange) {
		t.Errorf("Get(1, -1) of an empty object: %v, want ErrRange", err)
	}
}

func testMissing(t *testing.T, b remote.Backend, seed func(string, []byte)) {
	checkMissing(t, b, "missing")
	checkMissing(t, b, "missing/deeper/x.pack")
	if _, err := get(context.Background(), b, "missing", 0, 0); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("Get(0, 0) of missing: %v, want ErrNotExist", err)
	}
	seed("present/x", []byte("x"))
	checkMissing(t, b, "present/y")
	checkMissing(t, b, "present/x/y") // below an object
}

var invalidNames = []string{"", "/abs", "../up", "a/../b", "a//b", "a/", "./a", `a\b`, "a/."}

func testInvalidNamesRead(t *testing.T, b remote.Backend, _ func(string, []byte)) {
	ctx := context.Background()
	for _, name := range invalidNames {
		if _, err := get(ctx, b, name, 0, -1); !errors.Is(err, remote.ErrInvalidName) {
			t.Errorf("Get %q: %v, want ErrInvalidName", name, err)
		}
		if _, err := b.Stat(ctx, name); !errors.Is(err, remote.ErrInvalidName) {
			t.Errorf("Stat %q: %v, want ErrInvalidName", name, err)
		}
	}
}

func testConcurrentReads(t *testing.T, b remote.Backend, seed func(string, []byte)) {
	objs := make([][]byte, 3)
	for i := range objs {
		objs[i] = Data(uint64(100+i), 50_000*(i+1))
		seed(fmt.Sprintf("conc/%d", i), objs[i])
	}
	var g errgroup.Group
	for w := range 8 {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 16 {
				i := rng.IntN(len(objs))
				data := objs[i]
				off := rng.Int64N(int64(len(data)))
				length := rng.Int64N(int64(len(data)) - off + 1)
				got, err := get(context.Background(), b, fmt.Sprintf("conc/%d", i), off, length)
				if err != nil {
					return err
				}
				if !bytes.Equal(got, data[off:off+length]) {
					return fmt.Errorf("Get(conc/%d, %d, %d): wrong bytes", i, off, length)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func testCancelledRead(t *testing.T, b remote.Backend, seed func(string, []byte)) {
	seed("cancel/x", []byte("hello"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := get(ctx, b, "cancel/x", 0, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled ctx: %v, want context.Canceled", err)
	}
	if _, err := b.Stat(ctx, "cancel/x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled ctx: %v, want context.Canceled", err)
	}
}

func testOverwrite(t *testing.T, b remote.Backend) {
	a, c := Data(1, 10_000), Data(2, 7_000)
	mustPut(t, b, "ow/x", a)
	mustPut(t, b, "ow/x", a)
	checkObject(t, b, "ow/x", a)
	mustPut(t, b, "ow/x", c)
	checkObject(t, b, "ow/x", c)
}

func testPutExactSize(t *testing.T, b remote.Backend) {
	ctx := context.Background()
	data := Data(3, 5000)
	if err := b.Put(ctx, "size/long", bytes.NewReader(data), 3000, remote.PutOptions{}); err != nil {
		t.Fatalf("Put of 3000 bytes of a 5000-byte source: %v", err)
	}
	checkObject(t, b, "size/long", data[:3000])
	if err := b.Put(ctx, "size/short", bytes.NewReader(data), 6000, remote.PutOptions{}); err == nil {
		t.Error("Put of 6000 bytes from a 5000-byte source succeeded")
	}
	checkMissing(t, b, "size/short")
}

// failingSource fails every read at or beyond at.
type failingSource struct {
	data []byte
	at   int64
	err  error
	hook func() // called on the first read beyond at, if set
	once sync.Once
}

func (s *failingSource) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > s.at {
		if s.hook != nil {
			s.once.Do(s.hook)
			return bytes.NewReader(s.data).ReadAt(p, off)
		}
		n := max(0, min(int64(len(p)), s.at-off))
		copy(p, s.data[off:off+n])
		return int(n), s.err
	}
	return bytes.NewReader(s.data).ReadAt(p, off)
}

var errSource = errors.New("remotetest: source failed")

func testPutSourceFails(t *testing.T, b remote.Backend) {
	ctx := context.Background()
	data := Data(4, 2<<20)
	src := &failingSource{data: data, at: 1 << 20, err: errSource}
	if err := b.Put(ctx, "fail/new", src, int64(len(data)), remote.PutOptions{}); err == nil {
		t.Fatal("Put whose source fails halfway succeeded")
	}
	checkMissing(t, b, "fail/new")
	// A failed overwrite leaves the old object.
	old := Data(5, 1000)
	mustPut(t, b, "fail/old", old)
	if err := b.Put(ctx, "fail/old", src, int64(len(data)), remote.PutOptions{}); err == nil {
		t.Fatal("Put whose source fails halfway succeeded")
	}
	checkObject(t, b, "fail/old", old)
	// And nothing half-written shows in a listing.
	var names []string
	if err := b.List(ctx, "", remote.ListOptions{}, func(i remote.Info) error { names = append(names, i.Name); return nil }); err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.Equal(names, []string{"fail/old"}) {
		t.Errorf("List after failed Puts: %q, want only fail/old", names)
	}
}

func testPutCancelledMidway(t *testing.T, b remote.Backend) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := Data(6, 2<<20)
	src := &failingSource{data: data, at: 1 << 20, hook: cancel}
	if err := b.Put(ctx, "cancelmid/x", src, int64(len(data)), remote.PutOptions{}); err == nil {
		t.Fatal("Put whose ctx was cancelled midway succeeded")
	}
	checkMissing(t, b, "cancelmid/x")
}

func testDelete(t *testing.T, b remote.Backend) {
	ctx := context.Background()
	mustPut(t, b, "del/x", []byte("x"))
	mustPut(t, b, "del/y/z", []byte("z"))
	if err := b.Delete(ctx, "del/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkMissing(t, b, "del/x")
	if err := b.Delete(ctx, "del/x"); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("Delete of a deleted object: %v, want ErrNotExist", err)
	}
	if err := b.Delete(ctx, "del/y"); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("Delete of a prefix of an object: %v, want ErrNotExist", err)
	}
	checkObject(t, b, "del/y/z", []byte("z"))
	mustPut(t, b, "del/x", []byte("again"))
	checkObject(t, b, "del/x", []byte("again"))
}

// listAll returns what List reports for prefix, sorted by name.
func listAll(t *testing.T, b remote.Backend, prefix string) []remote.Info {
	t.Helper()
	var infos []remote.Info
	err := b.List(context.Background(), prefix, remote.ListOptions{}, func(i remote.Info) error {
		infos = append(infos, i)
		return nil
	})
	if err != nil {
		t.Fatalf("List %q: %v", prefix, err)
	}
	slices.SortFunc(infos, func(a, b remote.Info) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return infos
}

func testList(t *testing.T, b remote.Backend) {
	objs := map[string]int{
		"packs/ab.pack": 300, "packs/ab.idx": 20, "packs/cd.pack": 0,
		"manifests/xy": 7, "manifests/xz": 8, "manifests/sub/deep": 9,
		"top": 1, "topper/x": 2,
	}
	for name, size := range objs {
		mustPut(t, b, name, Data(uint64(size), size))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"manifests/sub/deep", "manifests/xy", "manifests/xz", "packs/ab.idx", "packs/ab.pack", "packs/cd.pack", "top", "topper/x"}},
		{"packs/", []string{"packs/ab.idx", "packs/ab.pack", "packs/cd.pack"}},
		{"packs/ab", []string{"packs/ab.idx", "packs/ab.pack"}},
		{"pack", []string{"packs/ab.idx", "packs/ab.pack", "packs/cd.pack"}},
		{"manifests/x", []string{"manifests/xy", "manifests/xz"}},
		{"manifests/", []string{"manifests/sub/deep", "manifests/xy", "manifests/xz"}},
		{"top", []string{"top", "topper/x"}},
		{"topper/", []string{"topper/x"}},
		{"packs/ab.pack", []string{"packs/ab.pack"}},
		{"nothing/", nil},
		{"packs/zz", nil},
		{"top/", nil},
	} {
		infos := listAll(t, b, tc.prefix)
		var names []string
		for _, i := range infos {
			names = append(names, i.Name)
			if want, ok := objs[i.Name]; ok && i.Size != int64(want) {
				t.Errorf("List %q: %s has size %d, want %d", tc.prefix, i.Name, i.Size, want)
			}
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("List %q = %q, want %q", tc.prefix, names, tc.want)
		}
	}
}

func testListEmpty(t *testing.T, b remote.Backend) {
	if infos := listAll(t, b, ""); len(infos) != 0 {
		t.Errorf("List of a new back end: %v", infos)
	}
	if infos := listAll(t, b, "packs/"); len(infos) != 0 {
		t.Errorf("List of a new back end: %v", infos)
	}
}

var errStop = errors.New("remotetest: stop listing")

func testListStops(t *testing.T, b remote.Backend) {
	for i := range 5 {
		mustPut(t, b, fmt.Sprintf("stop/%d", i), []byte{byte(i)})
	}
	calls := 0
	err := b.List(context.Background(), "stop/", remote.ListOptions{}, func(remote.Info) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("List whose fn fails: %v, want fn's error", err)
	}
	if calls != 1 {
		t.Errorf("List went on after fn failed: %d calls", calls)
	}
}

func testConcurrentWrites(t *testing.T, b remote.Backend) {
	shared := Data(9, 300_000)
	var g errgroup.Group
	for w := range 6 {
		g.Go(func() error { // writers: own names, and the shared one
			ctx := context.Background()
			for i := range 4 {
				name := fmt.Sprintf("cw/%d/%d", w, i)
				if err := put(ctx, b, name, Data(uint64(w*10+i), 10_000+i)); err != nil {
					return err
				}
				if err := put(ctx, b, "cw/shared", shared); err != nil {
					return err
				}
			}
			return nil
		})
		g.Go(func() error { // readers of the shared name: all or nothing
			for range 8 {
				got, err := get(context.Background(), b, "cw/shared", 0, -1)
				if errors.Is(err, remote.ErrNotExist) {
					continue
				}
				if err != nil {
					return err
				}
				if !bytes.Equal(got, shared) {
					return fmt.Errorf("a reader saw %d bytes of a %d-byte object being overwritten", len(got), len(shared))
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	checkObject(t, b, "cw/shared", shared)
	for w := range 6 {
		for i := range 4 {
			checkObject(t, b, fmt.Sprintf("cw/%d/%d", w, i), Data(uint64(w*10+i), 10_000+i))
		}
	}
	if n := len(listAll(t, b, "cw/")); n != 6*4+1 {
		t.Errorf("List after concurrent Puts: %d objects, want %d", n, 6*4+1)
	}
}

func testCancelledWrite(t *testing.T, b remote.Backend) {
	mustPut(t, b, "cw/keep", []byte("keep"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := put(ctx, b, "cw/new", []byte("new")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled ctx: %v, want context.Canceled", err)
	}
	checkMissing(t, b, "cw/new")
	if err := b.Delete(ctx, "cw/keep"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a cancelled ctx: %v, want context.Canceled", err)
	}
	checkObject(t, b, "cw/keep", []byte("keep"))
	err := b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List with a cancelled ctx: %v, want context.Canceled", err)
	}
}

func testInvalidNamesWrite(t *testing.T, b remote.Backend) {
	ctx := context.Background()
	for _, name := range invalidNames {
		if err := put(ctx, b, name, []byte("x")); !errors.Is(err, remote.ErrInvalidName) {
			t.Errorf("Put %q: %v, want ErrInvalidName", name, err)
		}
		if err := b.Delete(ctx, name); !errors.Is(err, remote.ErrInvalidName) {
			t.Errorf("Delete %q: %v, want ErrInvalidName", name, err)
		}
	}
	if infos := listAll(t, b, ""); len(infos) != 0 {
		t.Errorf("objects stored under invalid names: %v", infos)
	}
}
