package filer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/chunker"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
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

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func csv(seed uint64, rows int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	b.WriteString("id,ts,value,label\n")
	for i := range rows {
		fmt.Fprintf(&b, "%d,2026-11-%02d,%.4f,c%d\n", i, 1+r.IntN(28), r.Float64()*100, r.IntN(9))
	}
	return b.Bytes()
}

func clean(t *testing.T, s *store.Store, data []byte) pointer.Pointer {
	t.Helper()
	p := s.NewPacker()
	defer p.Close()
	ptr, err := Clean(context.Background(), bytes.NewReader(data), p, s.Codec(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ptr
}

func smudge(t *testing.T, g cas.Getter, p pointer.Pointer) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Smudge(context.Background(), p, g, &out, Options{}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte("x")},
		{"no trailing newline", []byte("a,b,c\n1,2,3")},
		{"just under min chunk", randBytes(1, chunker.MinSize-1)},
		{"exactly min chunk", randBytes(2, chunker.MinSize)},
		{"exactly max chunk", randBytes(3, chunker.MaxSize)},
		{"max chunk plus one", randBytes(4, chunker.MaxSize+1)},
		{"zeros (forced cuts)", make([]byte, 3*chunker.MaxSize+17)},
		{"random 2 MiB", randBytes(5, 2<<20)},
		{"csv", csv(1, 40000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := clean(t, s, tt.data)
			if p.Size != int64(len(tt.data)) || p.OID != cas.Sum(tt.data) {
				t.Fatalf("pointer %v; want size %d oid %s (the BLAKE3 of the content)", p, len(tt.data), cas.Sum(tt.data).Short())
			}
			if got := smudge(t, s, p); !bytes.Equal(got, tt.data) {
				t.Fatalf("smudge gave %d bytes, want %d identical", len(got), len(tt.data))
			}
		})
	}
}

func TestCleanSplitReads(t *testing.T) {
	s := newStore(t)
	data := csv(2, 20000)
	p := s.NewPacker()
	defer p.Close()
	got, err := Clean(context.Background(), iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(data))), p, s.Codec(), Options{Workers: 3, Ahead: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got.OID != cas.Sum(data) {
		t.Fatal("oid differs with split reads")
	}
}

// countingSink records Adds on top of a store's packer.
type countingSink struct {
	*store.Packer
	mu    sync.Mutex
	bytes int
	adds  int
}

func (c *countingSink) Add(id cas.ID, k cas.Kind, m compress.Method, n int, stored []byte) error {
	c.mu.Lock()
	c.adds++
	c.bytes += n
	c.mu.Unlock()
	return c.Packer.Add(id, k, m, n, stored)
}

func TestDedupAcrossVersions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v1 := csv(3, 200000) // about 6 MiB
	clean(t, s, v1)

	// Append 1% of rows, insert 100 bytes near the start, change a row in
	// the middle: each should store only a few new chunks.
	edits := map[string][]byte{
		"append":       append(bytes.Clone(v1), csv(4, 2000)[18:]...),
		"insert start": append(append(bytes.Clone(v1[:1000]), bytes.Repeat([]byte("Z"), 100)...), v1[1000:]...),
		"edit middle":  append(append(bytes.Clone(v1[:len(v1)/2]), []byte("9999999,changed")...), v1[len(v1)/2+15:]...),
	}
	for name, v := range edits {
		sink := &countingSink{Packer: s.NewPacker()}
		p, err := Clean(ctx, bytes.NewReader(v), sink, s.Codec(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// New raw bytes: the changed chunks (at most ~3 of 128 KiB
		// for an edit, plus the appended tail) and the manifest.
		limit := 4*chunker.MaxSize + (len(v) - len(v1))
		if sink.bytes > limit {
			t.Errorf("%s: stored %d new raw bytes in %d objects, want at most %d", name, sink.bytes, sink.adds, limit)
		}
		if got := smudge(t, s, p); !bytes.Equal(got, v) {
			t.Errorf("%s: round trip failed", name)
		}
	}
	// Cleaning identical content again stores nothing.
	sink := &countingSink{Packer: s.NewPacker()}
	if _, err := Clean(ctx, bytes.NewReader(v1), sink, s.Codec(), Options{}); err != nil {
		t.Fatal(err)
	}
	if sink.adds != 0 {
		t.Fatalf("re-clean of stored content added %d objects", sink.adds)
	}
}

// failingSink fails its nth Add (disk full).
type failingSink struct {
	*store.Packer
	n int
}

func (f *failingSink) Add(id cas.ID, k cas.Kind, m compress.Method, n int, stored []byte) error {
	f.n--
	if f.n < 0 {
		return errors.New("no space left on device")
	}
	return f.Packer.Add(id, k, m, n, stored)
}

func TestCleanErrorsStopThePipeline(t *testing.T) {
	s := newStore(t)
	data := randBytes(9, 4<<20)
	tests := []struct {
		name string
		r    io.Reader
		sink Sink
		want string
	}{
		{"sink fails", bytes.NewReader(data), &failingSink{Packer: s.NewPacker(), n: 3}, "no space left"},
		{"reader fails", iotest.DataErrReader(io.MultiReader(bytes.NewReader(data[:1<<20]), iotest.ErrReader(errors.New("pipe broke")))), s.NewPacker(), "pipe broke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Clean(context.Background(), tt.r, tt.sink, s.Codec(), Options{Workers: 2, Ahead: 2})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Clean error = %v, want %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Clean(ctx, bytes.NewReader(data), s.NewPacker(), s.Codec(), Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Clean with cancelled ctx = %v", err)
	}
}

// tamperGetter serves objects from g, with some changed or missing.
type tamperGetter struct {
	g       cas.Getter
	flip    cas.ID
	missing cas.ID
	short   cas.ID
}

func (tg tamperGetter) Get(ctx context.Context, id cas.ID) ([]byte, error) {
	if id == tg.missing {
		return nil, fmt.Errorf("object %s: %w", id.Short(), cas.ErrNotFound)
	}
	b, err := tg.g.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch id {
	case tg.flip:
		b = bytes.Clone(b)
		b[len(b)/2] ^= 1
	case tg.short:
		b = b[:len(b)-1]
	}
	return b, nil
}

// swapGetter serves object with instead of object id.
type swapGetter struct {
	g        cas.Getter
	id, with cas.ID
}

func (sg swapGetter) Get(ctx context.Context, id cas.ID) ([]byte, error) {
	if id == sg.id {
		id = sg.with
	}
	return sg.g.Get(ctx, id)
}

func TestPointerShapes(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	small := randBytes(14, 5000)
	p := clean(t, s, small)
	if !p.SingleChunk() || p.OID != cas.Sum(small) {
		t.Fatalf("a 5000-byte file gave %+v", p)
	}
	if st, _ := store.ComputeStats(ctx, s); st.Files != 0 || st.Chunks != 1 {
		t.Fatalf("a one-chunk file stored %+v (want one chunk, no manifest)", st)
	}
	big := randBytes(15, 3<<20)
	p = clean(t, s, big)
	m, err := Manifest(ctx, s, p)
	if err != nil || p.Manifest != m.ID() || len(m.Chunks) < 2 {
		t.Fatalf("pointer %+v, manifest %v", p, err)
	}
	// A version 1 pointer: its manifest is stored under the id derived
	// from the oid, in format 1; smudge still checks the whole file.
	pk := s.NewPacker()
	raw := m.EncodeV1()
	if err := pk.Add(cas.ManifestID(p.OID), cas.KindManifest, compress.None, len(raw), raw); err != nil {
		t.Fatal(err)
	}
	if err := pk.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	v1 := pointer.Pointer{OID: p.OID, Size: p.Size, V1: true}
	if got := smudge(t, s, v1); !bytes.Equal(got, big) {
		t.Fatal("v1 smudge differs")
	}
}

func TestSmudgeVerifies(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	data := randBytes(11, 1<<20)
	p := clean(t, s, data)
	other := clean(t, s, randBytes(13, 1<<20))
	m, err := Manifest(ctx, s, p)
	if err != nil {
		t.Fatal(err)
	}
	mid := m.Chunks[len(m.Chunks)/2].ID
	tests := []struct {
		name string
		g    cas.Getter
		p    pointer.Pointer
		want error
	}{
		// A getter that returns a changed chunk breaks its contract; the
		// whole-file check still catches it.
		{"changed chunk", tamperGetter{g: s, flip: mid}, p, ErrMismatch},
		{"short chunk", tamperGetter{g: s, short: mid}, p, cas.ErrCorrupt},
		{"missing chunk", tamperGetter{g: s, missing: mid}, p, cas.ErrNotFound},
		{"missing manifest", tamperGetter{g: s, missing: p.Manifest}, p, cas.ErrNotFound},
		{"pointer size disagrees", s, pointer.New(p.OID, p.Size+1, p.Manifest), manifest.ErrMismatch},
		// Valid chunks of other content listed under this file's oid:
		// the list does not hash to what the pointer names.
		{"forged manifest", swapGetter{g: s, id: p.Manifest, with: other.Manifest}, p, manifest.ErrMismatch},
		{"unknown oid", s, pointer.New(cas.Sum([]byte("nope")), 5, cas.ID{}), cas.ErrNotFound},
		{"unknown manifest", s, pointer.New(p.OID, p.Size, cas.Sum([]byte("nope"))), cas.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Smudge(ctx, tt.p, tt.g, io.Discard, Options{Workers: 2})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Smudge error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSmudgeWriterError(t *testing.T) {
	s := newStore(t)
	p := clean(t, s, randBytes(12, 1<<20))
	w := &limitWriter{n: 300 << 10}
	if err := Smudge(context.Background(), p, s, w, Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Smudge error = %v", err)
	}
}

type limitWriter struct{ n int }

func (l *limitWriter) Write(b []byte) (int, error) {
	if len(b) > l.n {
		return 0, errors.New("disk full")
	}
	l.n -= len(b)
	return len(b), nil
}

// CleanBytes gives the pointer Clean gives, and stores the same objects.
func TestCleanBytesMatchesClean(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("x"), randBytes(40, chunker.MinSize), randBytes(41, chunker.MaxSize+1), csv(42, 20000), randBytes(43, 700<<10)} {
		s1, s2 := newStore(t), newStore(t)
		want := clean(t, s1, data)
		pk := s2.NewPacker()
		got, _, err := CleanBytes(context.Background(), data, pk, s2.Codec(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pk.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("CleanBytes = %v, Clean = %v", got, want)
		}
		if out := smudge(t, s2, got); !bytes.Equal(out, data) {
			t.Fatalf("smudge after CleanBytes differs (%d bytes)", len(data))
		}
	}
}
