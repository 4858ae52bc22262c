package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
)

func openTemp(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func chunkData(seed uint64, n int, text bool) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	if text {
		var b bytes.Buffer
		for b.Len() < n {
			fmt.Fprintf(&b, "%d,%d,row\n", r.IntN(1000), r.IntN(1000))
		}
		return b.Bytes()[:n]
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// put stores raw as a chunk through p.
func put(t *testing.T, s *Store, p *Packer, raw []byte) cas.ID {
	t.Helper()
	id := cas.Sum(raw)
	stored, m := s.Codec().Compress(nil, raw)
	if err := p.Add(id, cas.KindChunk, m, len(raw), stored); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPutGet(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	p := s.NewPacker()
	var ids []cas.ID
	var datas [][]byte
	for i := range 20 {
		d := chunkData(uint64(i), 1000+i*3000, i%2 == 0)
		datas = append(datas, d)
		ids = append(ids, put(t, s, p, d))
	}
	if ok, _ := s.Has(ctx, ids[0]); ok {
		t.Fatal("object readable before Flush")
	}
	if !p.Has(ids[0]) {
		t.Fatal("Packer.Has is false for a pending object")
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		got, err := s.Get(ctx, id)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("Get %d: %d bytes, %v", i, len(got), err)
		}
	}
	if _, err := s.Get(ctx, cas.Sum([]byte("absent"))); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get of absent object: %v, want ErrNotFound", err)
	}
	// A second store on the same directory (another process) sees them.
	s2 := openTemp(t, s.Dir(), Options{})
	if got, err := s2.Get(ctx, ids[3]); err != nil || !bytes.Equal(got, datas[3]) {
		t.Fatalf("second store Get: %v", err)
	}
	problems := verifyAll(t, s)
	if len(problems) != 0 {
		t.Fatalf("verify found %v", problems)
	}
}

func TestPackSealing(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{PackSize: 100 << 10})
	p := s.NewPacker()
	var ids []cas.ID
	for i := range 10 {
		ids = append(ids, put(t, s, p, chunkData(uint64(i), 40<<10, false)))
	}
	// Sealed packs are readable before Flush.
	if ok, _ := s.Has(ctx, ids[0]); !ok {
		t.Fatal("object of a sealed pack not readable")
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Packs()); n != 4 {
		t.Fatalf("%d packs, want 4 (three sealed at 100 KiB plus the flushed rest)", n)
	}
	for _, id := range ids {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}

// Tiny objects fill a pack by count before they fill it by size.
func TestPackSealingByCount(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	p := s.NewPacker()
	n := MaxPackObjects + 10
	var last cas.ID
	for i := range n {
		last = put(t, s, p, []byte(fmt.Sprintf("tiny object %d", i)))
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Packs()); got != 2 {
		t.Fatalf("%d packs for %d tiny objects, want 2 (one sealed at %d objects)", got, n, MaxPackObjects)
	}
	if _, err := s.Get(ctx, last); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const writers = 4
	var wg sync.WaitGroup
	ids := make([][]cas.ID, writers)
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(dir, Options{PackSize: 64 << 10})
			if err != nil {
				errs[w] = err
				return
			}
			defer s.Close()
			p := s.NewPacker()
			for i := range 30 {
				// Half the objects are shared by all writers.
				seed := uint64(w*1000 + i)
				if i%2 == 0 {
					seed = uint64(i)
				}
				raw := chunkData(seed, 10<<10, true)
				id := cas.Sum(raw)
				stored, m := s.Codec().Compress(nil, raw)
				if err := p.Add(id, cas.KindChunk, m, len(raw), stored); err != nil {
					errs[w] = err
					return
				}
				ids[w] = append(ids[w], id)
			}
			errs[w] = p.Flush(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := openTemp(t, dir, Options{})
	for _, list := range ids {
		for _, id := range list {
			if _, err := s.Get(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if problems := verifyAll(t, s); len(problems) != 0 {
		t.Fatalf("verify: %v", problems)
	}
}

func verifyAll(t *testing.T, s *Store) []Problem {
	t.Helper()
	var out []Problem
	if _, err := Verify(context.Background(), s, func(p Problem) { out = append(out, p) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func errorsOnly(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.Severity == Error {
			out = append(out, p)
		}
	}
	return out
}

// storeOne writes raw in its own pack and returns the pack path and the
// object's offset there.
func storeOne(t *testing.T, s *Store, raw []byte) (cas.ID, string) {
	t.Helper()
	p := s.NewPacker()
	id := put(t, s, p, raw)
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	locs, _ := s.lookup(id)
	if len(locs) == 0 {
		t.Fatal("object not in any pack")
	}
	return id, locs[0].p.path
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil { // packs are read-only
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptionDetected(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		text bool  // compressible (zstd) or not (raw)
		off  int64 // offset to flip, from the entry header start
	}{
		{"raw data byte", false, 44 + 500},
		{"zstd data byte", true, 44 + 100},
		{"header id byte", false, 5},
		{"header length byte", false, 39},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t, "", Options{})
			raw := chunkData(1, 20<<10, tt.text)
			id, path := storeOne(t, s, raw)
			flipByte(t, path, 16+tt.off)
			got, err := s.Get(ctx, id)
			if !errors.Is(err, cas.ErrCorrupt) {
				t.Fatalf("Get after corruption = %d bytes, %v; want ErrCorrupt", len(got), err)
			}
			if ps := errorsOnly(verifyAll(t, s)); len(ps) == 0 {
				t.Fatal("verify found nothing")
			} else if !strings.Contains(ps[0].Path, ".pack") {
				t.Fatalf("verify blamed %v", ps[0])
			}
		})
	}
}

func TestGoodCopyServedDespiteBadOne(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	raw := chunkData(3, 9000, false)
	id, path := storeOne(t, s, raw)
	flipByte(t, path, 16+44+10)
	// Another writer stores the same object again (it did not know of
	// the first copy).
	s2 := openTemp(t, t.TempDir(), Options{})
	_, path2 := storeOne(t, s2, raw)
	for _, ext := range []string{".pack", ".idx"} {
		b, err := os.ReadFile(strings.TrimSuffix(path2, ".pack") + ext)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(s.Dir(), "packs", filepath.Base(strings.TrimSuffix(path2, ".pack")+ext))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Refresh(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, id)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Get = %v", err)
	}
}

func TestInterruptedWriterLeavesValidStore(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	id, _ := storeOne(t, s, chunkData(5, 5000, true))
	// A writer killed before publishing leaves a temporary pack; one
	// killed between the pack and index renames leaves an unindexed pack.
	p := s.NewPacker()
	put(t, s, p, chunkData(6, 7000, true))
	p.w.Finish()
	tmpName := p.tmp.Name()
	p.tmp.Close()
	b, err := os.ReadFile(tmpName)
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(s.Dir(), "packs", cas.Sum(b).String()+".pack")
	if err := os.WriteFile(orphan, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ps := verifyAll(t, s)
	if len(errorsOnly(ps)) != 0 || len(ps) != 2 {
		t.Fatalf("verify: %v; want two warnings and no errors", ps)
	}
	if _, err := s.Get(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedPackIsNotServed(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	id, path := storeOne(t, s, chunkData(8, 30000, false))
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, id); err == nil {
		t.Fatal("Get of truncated pack succeeded")
	}
	s2 := openTemp(t, s.Dir(), Options{})
	if _, err := s2.Get(ctx, id); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("fresh store Get = %v, want ErrNotFound (pack skipped)", err)
	}
	if len(errorsOnly(verifyAll(t, s2))) == 0 {
		t.Fatal("verify did not report the truncated pack")
	}
}

func TestStickyErrorAndClose(t *testing.T) {
	s := openTemp(t, "", Options{})
	p := s.NewPacker()
	put(t, s, p, []byte("hello hello hello"))
	tmp := p.tmp.Name()
	p.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary pack left after Close: %v", err)
	}
	if err := p.Add(cas.Sum(nil), cas.KindChunk, compress.None, 0, nil); err == nil {
		t.Fatal("Add after Close succeeded")
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	p := s.NewPacker()
	a := chunkData(1, 10000, true)
	b := chunkData(2, 10000, false)
	ida, idb := put(t, s, p, a), put(t, s, p, b)
	// Two files: [a b] and [a a].
	for _, chunks := range [][]cas.ID{{ida, idb}, {ida, ida}} {
		var mb manifest.Builder
		for _, id := range chunks {
			mb.Add(id, 10000)
		}
		m := mb.Finish(cas.Sum([]byte(fmt.Sprint(chunks))))
		raw := m.Encode()
		if err := p.Add(m.ID(), cas.KindManifest, compress.None, len(raw), raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := ComputeStats(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 2 || st.Files != 2 || st.LogicalBytes != 40000 || st.ChunkRawBytes != 20000 {
		t.Fatalf("stats = %+v", st)
	}
	if st.DedupRatio() != 2 || st.CompressionRatio() <= 1 {
		t.Fatalf("ratios dedup %.2f compression %.2f", st.DedupRatio(), st.CompressionRatio())
	}
}
