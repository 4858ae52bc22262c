package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func csvData(seed uint64, rows int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for i := range rows {
		fmt.Fprintf(&b, "%d,%d,%.4f\n", i, r.IntN(1000), r.Float64())
	}
	return b.Bytes()
}

func randData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func add(t *testing.T, s *store.Store, data []byte) pointer.Pointer {
	t.Helper()
	pk := s.NewPacker()
	defer pk.Close()
	p, err := filer.Clean(context.Background(), bytes.NewReader(data), pk, s.Codec(), filer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pk.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, s *store.Store, p pointer.Pointer) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := filer.Smudge(context.Background(), p, s, &out, filer.Options{}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// counting counts bytes and requests that reach a back end.
type counting struct {
	remote.Backend
	mu              sync.Mutex
	puts, gets      int
	putBytes        int64
	packPuts        int
	failManifestPut bool // fail every upload after the first two packs (and their indexes)
}

func (c *counting) Put(ctx context.Context, name string, src io.ReaderAt, size int64, o remote.PutOptions) error {
	c.mu.Lock()
	c.puts++
	c.putBytes += size
	fail := c.failManifestPut && c.packPuts >= 3 && strings.HasPrefix(name, "packs/")
	if strings.HasSuffix(name, ".pack") {
		c.packPuts++
	}
	c.mu.Unlock()
	if fail {
		return errors.New("connection reset by peer")
	}
	return c.Backend.Put(ctx, name, src, size, o)
}

func (c *counting) Get(ctx context.Context, name string, off, n int64, o remote.GetOptions) (io.ReadCloser, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Backend.Get(ctx, name, off, n, o)
}

func newRemote(t *testing.T, b remote.Backend) *remotestore.Store {
	codec, err := compress.New(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	return remotestore.New(b, filepath.Join(t.TempDir(), "cache"), codec)
}

func TestPushFetchRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, dst := newStore(t), newStore(t)
	b := &counting{Backend: mem.New()}
	files := [][]byte{csvData(1, 60000), randData(2, 700000), []byte("tiny\n"), nil}
	var ptrs []pointer.Pointer
	for _, f := range files {
		ptrs = append(ptrs, add(t, src, f))
	}
	st, err := Push(ctx, src, newRemote(t, b), ptrs, Options{PackSize: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Packs < 2 {
		t.Fatalf("push stats %+v; want 3 files in several packs", st)
	}
	// Pushing again sends nothing but the existence checks.
	b.puts = 0
	st, err = Push(ctx, src, newRemote(t, b), ptrs, Options{})
	if err != nil || st.Files != 0 || st.FilesPresent != 3 || b.puts != 0 {
		t.Fatalf("second push: %+v, %d puts, %v", st, b.puts, err)
	}
	// Another clone fetches and reassembles exactly.
	st, err = Fetch(ctx, dst, newRemote(t, b), ptrs, Options{})
	if err != nil || st.Files != 3 {
		t.Fatalf("fetch: %+v, %v", st, err)
	}
	for i, p := range ptrs {
		if got := read(t, dst, p); !bytes.Equal(got, files[i]) {
			t.Fatalf("file %d differs after fetch", i)
		}
	}
	if st, err := Fetch(ctx, dst, newRemote(t, b), ptrs, Options{}); err != nil || st.Files != 0 {
		t.Fatalf("second fetch: %+v, %v", st, err)
	}
}

func TestPushUploadsOnlyNewChunks(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	b := &counting{Backend: mem.New()}
	r := newRemote(t, b)
	v1 := csvData(3, 100000)
	v2 := append(bytes.Clone(v1), csvData(4, 1000)...)
	p1 := add(t, s, v1)
	if _, err := Push(ctx, s, r, []pointer.Pointer{p1}, Options{}); err != nil {
		t.Fatal(err)
	}
	first := b.putBytes
	p2 := add(t, s, v2)
	if _, err := Push(ctx, s, r, []pointer.Pointer{p2}, Options{}); err != nil {
		t.Fatal(err)
	}
	if second := b.putBytes - first; second*10 > first {
		t.Fatalf("v2 (1%% appended) uploaded %d bytes after v1's %d", second, first)
	}
	// A fresh clone fetching only v2 gets only what v2 needs.
	dst := newStore(t)
	if _, err := Fetch(ctx, dst, newRemote(t, b), []pointer.Pointer{p2}, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, dst, p2), v2) {
		t.Fatal("v2 differs")
	}
}

func TestInterruptedPushResumes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	b := &counting{Backend: mem.New(), failManifestPut: true}
	p := add(t, s, randData(5, 1500000))
	// One pack in flight at a time, so that which uploads fail is certain.
	if _, err := Push(ctx, s, newRemote(t, b), []pointer.Pointer{p}, Options{PackSize: 300 << 10, Workers: 1}); err == nil {
		t.Fatal("push succeeded although manifest uploads fail")
	}
	// Nothing names the file yet: a reader sees it as absent, not broken.
	r := newRemote(t, b)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Has(p.Manifest) {
		t.Fatal("manifest published although the push failed")
	}
	packBytes := b.putBytes
	b.failManifestPut = false
	b.putBytes = 0
	if _, err := Push(ctx, s, newRemote(t, b), []pointer.Pointer{p}, Options{PackSize: 300 << 10, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if b.putBytes > packBytes*3/4 {
		t.Fatalf("resumed push re-uploaded %d bytes (first attempt uploaded %d)", b.putBytes, packBytes)
	}
	dst := newStore(t)
	if _, err := Fetch(ctx, dst, newRemote(t, b), []pointer.Pointer{p}, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestFetchFaults(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	b := mem.New()
	data := randData(6, 400000)
	p := add(t, s, data)
	if _, err := Push(ctx, s, newRemote(t, b), []pointer.Pointer{p}, Options{}); err != nil {
		t.Fatal(err)
	}
	var packName string
	b.List(ctx, "packs/", remote.ListOptions{}, func(i remote.Info) error {
		if strings.HasSuffix(i.Name, ".pack") {
			packName = i.Name
		}
		return nil
	})

	t.Run("missing file", func(t *testing.T) {
		other := pointer.New(cas.Sum([]byte("never pushed")), 10, cas.ID{})
		_, err := Fetch(ctx, newStore(t), newRemote(t, b), []pointer.Pointer{other}, Options{})
		if !errors.Is(err, ErrRemoteMissing) || !strings.Contains(err.Error(), other.OID.Short()) {
			t.Fatalf("err = %v; want ErrRemoteMissing naming the oid", err)
		}
	})
	t.Run("corrupt chunk", func(t *testing.T) {
		rc, _ := b.Get(ctx, packName, 0, -1, remote.GetOptions{})
		orig, _ := io.ReadAll(rc)
		rc.Close()
		bad := bytes.Clone(orig)
		bad[len(bad)/2] ^= 0x01
		putAll(t, b, packName, bad)
		defer putAll(t, b, packName, orig)
		dst := newStore(t)
		_, err := Fetch(ctx, dst, newRemote(t, b), []pointer.Pointer{p}, Options{})
		if !errors.Is(err, cas.ErrCorrupt) {
			t.Fatalf("err = %v; want ErrCorrupt", err)
		}
		// The file is not whole (no manifest), and what was kept of it
		// (its intact chunks) verifies: no bad chunk is stored.
		st, _ := store.ComputeStats(ctx, dst)
		if st.Files != 0 || Complete(ctx, dst, p) {
			t.Fatalf("store after a corrupt fetch: %+v", st)
		}
		var problems []store.Problem
		if _, err := store.Verify(ctx, dst, func(pr store.Problem) { problems = append(problems, pr) }); err != nil || len(problems) != 0 {
			t.Fatalf("verify after a corrupt fetch: %v %v", problems, err)
		}
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Failed(p.OID) == nil {
			t.Fatalf("err = %v; want a FetchError naming the file", err)
		}
		if err := VerifyFile(ctx, newRemote(t, b), p, Options{}); !errors.Is(err, cas.ErrCorrupt) {
			t.Fatalf("VerifyFile = %v; want ErrCorrupt", err)
		}
	})
	t.Run("missing pack", func(t *testing.T) {
		rc, _ := b.Get(ctx, packName, 0, -1, remote.GetOptions{})
		orig, _ := io.ReadAll(rc)
		rc.Close()
		b.Delete(ctx, packName)
		defer putAll(t, b, packName, orig)
		_, err := Fetch(ctx, newStore(t), newRemote(t, b), []pointer.Pointer{p}, Options{})
		if !errors.Is(err, ErrRemoteMissing) {
			t.Fatalf("err = %v; want ErrRemoteMissing", err)
		}
	})
	t.Run("verify ok", func(t *testing.T) {
		if err := VerifyFile(ctx, newRemote(t, b), p, Options{}); err != nil {
			t.Fatal(err)
		}
	})
}

func putAll(t *testing.T, b remote.Backend, name string, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPushFailsWhenDataIsNotLocal(t *testing.T) {
	s := newStore(t)
	p := pointer.New(cas.Sum([]byte("elsewhere")), 9, cas.ID{})
	b := &counting{Backend: mem.New()}
	_, err := Push(context.Background(), s, newRemote(t, b), []pointer.Pointer{p}, Options{})
	if !errors.Is(err, ErrLocalMissing) {
		t.Fatalf("err = %v", err)
	}
	if b.puts != 0 {
		t.Fatalf("%d uploads before failing", b.puts)
	}
}

func TestConcurrentPushers(t *testing.T) {
	ctx := context.Background()
	b := mem.New()
	shared := csvData(7, 50000)
	var wg sync.WaitGroup
	ptrs := make([]pointer.Pointer, 2)
	errs := make([]error, 2)
	stores := []*store.Store{newStore(t), newStore(t)}
	for i := range 2 {
		data := append(bytes.Clone(shared), csvData(uint64(10+i), 5000)...)
		ptrs[i] = add(t, stores[i], data)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Push(ctx, stores[i], newRemote(t, b), []pointer.Pointer{ptrs[i]}, Options{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	dst := newStore(t)
	if _, err := Fetch(ctx, dst, newRemote(t, b), ptrs, Options{}); err != nil {
		t.Fatal(err)
	}
}

// A clone that never fetched a file pushes commits that name it, as long
// as the remote has it: only files the remote lacks must be local.
func TestPushNeedsLocalDataOnlyForWhatTheRemoteLacks(t *testing.T) {
	ctx := context.Background()
	src, clone := newStore(t), newStore(t)
	b := mem.New()
	p := add(t, src, csvData(8, 40000))
	if _, err := Push(ctx, src, newRemote(t, b), []pointer.Pointer{p}, Options{}); err != nil {
		t.Fatal(err)
	}
	q := add(t, clone, randData(9, 300000))
	st, err := Push(ctx, clone, newRemote(t, b), []pointer.Pointer{p, q}, Options{})
	if err != nil || st.Files != 1 || st.FilesPresent != 1 {
		t.Fatalf("push from a clone without p's data: %+v, %v", st, err)
	}
	// With the remote's copy of p gone, the same push must fail.
	other := mem.New()
	if _, err := Push(ctx, clone, newRemote(t, other), []pointer.Pointer{p, q}, Options{}); !errors.Is(err, ErrLocalMissing) {
		t.Fatalf("push to a remote lacking p from a clone lacking p: %v", err)
	}
}

// A fetch of many files gets every file it can: one missing file does
// not stop the others.
func TestFetchGetsWhatItCan(t *testing.T) {
	ctx := context.Background()
	src, dst := newStore(t), newStore(t)
	b := mem.New()
	var ptrs []pointer.Pointer
	for i := range 5 {
		ptrs = append(ptrs, add(t, src, randData(uint64(30+i), 50000+i*70000)))
	}
	if _, err := Push(ctx, src, newRemote(t, b), ptrs, Options{}); err != nil {
		t.Fatal(err)
	}
	missing := pointer.New(cas.Sum([]byte("never pushed")), 10, cas.ID{})
	st, err := Fetch(ctx, dst, newRemote(t, b), append([]pointer.Pointer{missing}, ptrs...), Options{})
	var fe *FetchError
	if !errors.As(err, &fe) || len(fe.Files) != 1 || fe.Files[0] != missing || !errors.Is(err, ErrRemoteMissing) {
		t.Fatalf("err = %v", err)
	}
	if st.Files != 5 {
		t.Fatalf("fetched %d files, want 5", st.Files)
	}
	for _, p := range ptrs {
		if !Complete(ctx, dst, p) {
			t.Fatalf("%s not whole after the fetch", p.OID.Short())
		}
	}
}

// Text is stored with S2 at ingest (fast), and pushed with zstd (small):
// the remote's copy of each such chunk is zstd, and a fetch reads it back.
func TestPushRecompressesS2(t *testing.T) {
	ctx := context.Background()
	src, dst := newStore(t), newStore(t)
	b := mem.New()
	var text bytes.Buffer
	for i := 0; text.Len() < 2<<20; i++ {
		fmt.Fprintf(&text, "%d,2026-11-%02d,customer %d called about order %d, status %s\n", i, 1+i%28, i*7%5000, i*13%100000, []string{"late", "shipped", "ok", "cancelled"}[i%4])
	}
	p := add(t, src, text.Bytes())
	m, err := filer.Manifest(ctx, src, p)
	if err != nil {
		t.Fatal(err)
	}
	s2Local := 0
	for _, c := range m.Chunks {
		if e, ok := src.Lookup(c.ID); ok && e.Method == compress.S2 {
			s2Local++
		}
	}
	if s2Local < len(m.Chunks)/2 {
		t.Fatalf("%d of %d chunks stored with S2 at ingest", s2Local, len(m.Chunks))
	}
	r := newRemote(t, b)
	if _, err := Push(ctx, src, r, []pointer.Pointer{p}, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Chunks {
		for _, l := range r.Locate(c.ID) {
			if l.Entry.Method == compress.S2 {
				t.Fatalf("chunk %s is S2 on the remote", c.ID.Short())
			}
		}
	}
	if _, err := Fetch(ctx, dst, newRemote(t, b), []pointer.Pointer{p}, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(t, dst, p), text.Bytes()) {
		t.Fatal("fetched text differs")
	}
}
