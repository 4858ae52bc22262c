package rangeread

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote/mem"
)

// smallFiles adds n files of 2-24 KiB (most of one chunk, half of them
// text) to st and returns their pointers and contents.
func smallFiles(t *testing.T, st *store.Store, n int) ([]pointer.Pointer, [][]byte) {
	t.Helper()
	var ps []pointer.Pointer
	var datas [][]byte
	for i := range n {
		size := 2<<10 + (i*7919)%(22<<10)
		d := randData(uint64(100+i), size)
		if i%2 == 0 {
			d = csvData(uint64(100+i), size/16)[:size/2]
		}
		ps = append(ps, add(t, st, d))
		datas = append(datas, d)
	}
	return ps, datas
}

// TestPrefetchLocal checks that Prefetch takes the chunks of small files
// from the local store into the memory cache, within its share of the
// cache, and that the files then read right.
func TestPrefetchLocal(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	ps, datas := smallFiles(t, st, 20)
	s := NewSource(st, nil, nil, SourceOptions{})
	t.Cleanup(s.Close)
	var got []int // files reported whole, by index in ps
	if !s.Prefetch(ps[1:], func(i int, data []byte) {
		if !bytes.Equal(data, datas[i+1]) {
			t.Errorf("prefetch reported %d bytes for file %d, not its content", len(data), i+1)
		}
		got = append(got, i+1)
	}) {
		t.Fatal("Prefetch refused work with nothing in flight")
	}
	s.wg.Wait()
	if len(got) != len(ps)-1 || !slices.IsSorted(got) || got[0] != 1 {
		t.Errorf("prefetch reported files %v whole, want 1-%d in order", got, len(ps)-1)
	}
	for i, p := range ps {
		f, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if cached := s.cached(f); cached != (i > 0) {
			t.Errorf("file %d (%d bytes): cached %v after prefetching files 1-19", i, p.Size, cached)
		}
		buf := make([]byte, p.Size)
		if n, err := f.ReadAt(ctx, buf, 0); err != nil || !bytes.Equal(buf[:n], datas[i]) {
			t.Fatalf("file %d: %d bytes, %v", i, n, err)
		}
	}

	// A small memory cache: one Prefetch takes no more than its share.
	small := NewSource(st, nil, nil, SourceOptions{MemCache: 256 << 10})
	t.Cleanup(small.Close)
	small.Prefetch(ps, nil)
	small.wg.Wait()
	var cached, want int64
	for _, p := range ps {
		if f, err := small.Open(ctx, p); err == nil && small.cached(f) {
			cached += p.Size
		}
	}
	for _, p := range ps {
		if want+p.Size > (256<<10)/prefetchShare {
			break
		}
		want += p.Size
	}
	if cached != want {
		t.Errorf("prefetch with a 256 KiB cache kept %d bytes, want the first files that fit in its share, %d bytes", cached, want)
	}
}

// TestPrefetchRemote checks that Prefetch of small files that are only on
// the remote fetches their chunk lists with one ranged read and their
// chunks with another, after which reading them costs no request.
func TestPrefetchRemote(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	ps, datas := smallFiles(t, src, 30)
	b := &counting{Backend: mem.New()}
	if _, err := Push(ctx, src, newRemote(t, b), ps, Options{}); err != nil {
		t.Fatal(err)
	}
	s := newSourceT(t, b, true)
	if !s.Prefetch(ps, nil) {
		t.Fatal("Prefetch refused work with nothing in flight")
	}
	s.wg.Wait()
	manifests := 0 // files of several chunks: their chunk lists are read first
	for _, p := range ps {
		if !p.SingleChunk() {
			manifests++
		}
	}
	if manifests == 0 {
		t.Fatal("no file of several chunks: the test wants some")
	}
	want := 2 // the chunk lists, then the chunks
	if _, reqs := s.Fetched(); reqs != 1 || b.gets != want {
		t.Fatalf("prefetch of %d small files (%d with a manifest) made %d ranged reads of chunks, %d requests; want one, and one for the manifests", len(ps), manifests, reqs, b.gets)
	}
	gets := b.gets
	for i, p := range ps {
		f, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, p.Size)
		if n, err := f.ReadAt(ctx, buf, 0); err != nil || !bytes.Equal(buf[:n], datas[i]) {
			t.Fatalf("file %d: %d bytes, %v", i, n, err)
		}
	}
	if b.gets != gets {
		t.Fatalf("reading the prefetched files made %d more requests", b.gets-gets)
	}
}

// cached reports whether every chunk of f is in the memory cache.
func (s *Source) cached(f *File) bool {
	for _, c := range f.info.m.Chunks {
		if _, ok := s.mem.Get(c.ID); !ok {
			return false
		}
	}
	return true
}

// TestReadFromDiskCacheWithoutRemote checks that without a remote, a chunk
// the local store lacks is still read from the disk cache (which an
// earlier mount with a remote filled).
func TestReadFromDiskCacheWithoutRemote(t *testing.T) {
	ctx := context.Background()
	data := randData(31, 20<<10)
	p := add(t, newStore(t), data)
	disk, err := OpenChunkCache(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	disk.Put(p.OID, data)
	s := NewSource(newStore(t), nil, disk, SourceOptions{})
	t.Cleanup(s.Close)
	f, err := s.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(data))
	if n, err := f.ReadAt(ctx, buf, 0); err != nil || !bytes.Equal(buf[:n], data) {
		t.Fatalf("read %d bytes, %v", n, err)
	}
}
