package rangeread

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
)

// remoteFile pushes data to a fresh in-memory remote and returns the
// remote and the pointer.
func remoteFile(t *testing.T, data []byte) (*counting, pointer.Pointer) {
	t.Helper()
	src := newStore(t)
	p := add(t, src, data)
	b := &counting{Backend: mem.New()}
	if _, err := Push(context.Background(), src, newRemote(t, b), []pointer.Pointer{p}, Options{}); err != nil {
		t.Fatal(err)
	}
	b.gets = 0
	return b, p
}

func newSourceT(t *testing.T, b remote.Backend, withDisk bool) *Source {
	t.Helper()
	st := newStore(t) // empty: everything comes from the remote
	var disk *ChunkCache
	if withDisk {
		var err error
		if disk, err = OpenChunkCache(filepath.Join(t.TempDir(), "cache"), 8<<20); err != nil {
			t.Fatal(err)
		}
	}
	s := NewSource(st, newRemote(t, b), disk, SourceOptions{})
	t.Cleanup(s.Close)
	// As a mount does before it reports ready: the remote's indexes are
	// known before the first read.
	if err := s.r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, ok := b.(*counting); ok {
		c.gets = 0
	}
	return s
}

func TestReadRangeFromRemote(t *testing.T) {
	ctx := context.Background()
	data := randData(20, 16<<20)
	b, p := remoteFile(t, data)
	s := newSourceT(t, b, true)
	f, err := s.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// 1 MiB in the middle: the manifest plus one ranged read.
	buf := make([]byte, 1<<20)
	off := int64(7<<20 + 12345)
	n, err := f.ReadAt(ctx, buf, off)
	if err != nil || n != len(buf) || !bytes.Equal(buf, data[off:off+int64(n)]) {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	fetched, reqs := s.Fetched()
	if b.gets != 2 || reqs != 1 {
		t.Fatalf("%d requests to the back end (%d ranged reads), want the manifest and one range", b.gets, reqs)
	}
	if over := fetched - int64(len(buf)); over > 2*128<<10+64<<10 {
		t.Fatalf("fetched %d bytes for a 1 MiB read: %d over", fetched, over)
	}
	// Reading it again costs nothing.
	if _, err := f.ReadAt(ctx, buf, off); err != nil || b.gets != 2 {
		t.Fatalf("second read: %v, %d requests", err, b.gets)
	}
	// The end of the file: a short read.
	n, err = f.ReadAt(ctx, buf, int64(len(data))-100)
	if err != nil || n != 100 || !bytes.Equal(buf[:n], data[len(data)-100:]) {
		t.Fatalf("tail read = %d, %v", n, err)
	}
	if n, _ := f.ReadAt(ctx, buf, int64(len(data))); n != 0 {
		t.Fatalf("read at EOF = %d", n)
	}
}

func TestSequentialReadaheadAndConcurrency(t *testing.T) {
	ctx := context.Background()
	data := csvData(21, 200000)
	b, p := remoteFile(t, data)
	s := newSourceT(t, b, true)
	f, err := s.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	r := f.NewReader()
	var out bytes.Buffer
	buf := make([]byte, 128<<10)
	for off := int64(0); ; {
		n, err := r.ReadAt(ctx, buf, off)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		out.Write(buf[:n])
		off += int64(n)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("sequential read differs")
	}
	fetched, reqs := s.Fetched()
	t.Logf("sequential read of %d bytes: %d fetched in %d ranged reads", len(data), fetched, reqs)
	if reqs > 8 {
		t.Fatalf("%d ranged reads for %d bytes: readahead did not batch", reqs, len(data))
	}

	// 16 readers at random offsets of a fresh source get the right bytes.
	s2 := newSourceT(t, b, false)
	f2, err := s2.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			buf := make([]byte, 4096)
			for range 200 {
				off := rng.Int64N(int64(len(data)))
				n, err := f2.ReadAt(ctx, buf, off)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
					errs <- errors.New("wrong bytes")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestReadCorruptChunkFails(t *testing.T) {
	ctx := context.Background()
	data := randData(22, 2<<20)
	b, p := remoteFile(t, data)
	var name string
	b.List(ctx, "packs/", remote.ListOptions{}, func(i remote.Info) error {
		if strings.HasSuffix(i.Name, ".pack") {
			name = i.Name
		}
		return nil
	})
	rc, _ := b.Get(ctx, name, 0, -1, remote.GetOptions{})
	orig, _ := io.ReadAll(rc)
	rc.Close()
	bad := bytes.Clone(orig)
	bad[1<<20] ^= 0x04
	putAll(t, b, name, bad)
	s := newSourceT(t, b, true)
	f, err := s.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	okReads, badReads := 0, 0
	for off := int64(0); off < int64(len(data)); off += int64(len(buf)) {
		n, err := f.ReadAt(ctx, buf, off)
		if err != nil {
			if !errors.Is(err, cas.ErrCorrupt) {
				t.Fatalf("error %v, want ErrCorrupt", err)
			}
			badReads++
			continue
		}
		if !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
			t.Fatalf("wrong bytes served at %d", off)
		}
		okReads++
	}
	if badReads == 0 || okReads == 0 {
		t.Fatalf("%d good and %d failed reads; want the damaged chunk to fail and the rest to work", okReads, badReads)
	}
}

func putAll(t *testing.T, b remote.Backend, name string, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestChunkCacheBoundAndDamage(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenChunkCache(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	var ids []cas.ID
	for i := range 5 {
		b := bytes.Repeat([]byte{byte(i)}, 100)
		id := cas.Sum(b)
		ids = append(ids, id)
		c.Put(id, b)
	}
	if c.Size() > 300 {
		t.Fatalf("cache holds %d bytes, bound 300", c.Size())
	}
	if _, ok := c.Get(ids[0], nil); ok {
		t.Fatal("oldest chunk not evicted")
	}
	got, ok := c.Get(ids[4], nil)
	if !ok || cas.Sum(got) != ids[4] {
		t.Fatal("newest chunk missing")
	}
	// A damaged file is a miss, not wrong bytes.
	if err := writeFileAtomic(c.path(ids[3]), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(ids[3], nil); ok {
		t.Fatal("damaged cache file served")
	}
	// A new process sees what is left.
	c2, err := OpenChunkCache(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c2.Get(ids[4], nil); !ok {
		t.Fatal("cache not found again after reopening")
	}
}

// The kernel hands a sequential reader's requests over slightly out of
// order; readahead must survive that.
func TestReadaheadToleratesReordering(t *testing.T) {
	ctx := context.Background()
	data := randData(23, 12<<20)
	b, p := remoteFile(t, data)
	s := newSourceT(t, b, true)
	f, err := s.Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	r := f.NewReader()
	const blk = 128 << 10
	buf := make([]byte, blk)
	for base := int64(0); base < int64(len(data)); base += 4 * blk {
		// Blocks of each group of four arrive as 0, 2, 1, 3.
		for _, k := range []int64{0, 2, 1, 3} {
			off := base + k*blk
			if off >= int64(len(data)) {
				continue
			}
			n, err := r.ReadAt(ctx, buf, off)
			if err != nil || !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
				t.Fatalf("read at %d: %v", off, err)
			}
		}
	}
	if _, reqs := s.Fetched(); reqs > 10 {
		t.Fatalf("%d ranged reads for 12 MiB read nearly in order: readahead kept resetting", reqs)
	}
}

// TestChunkLengthChecked reads a file whose chunk list, bound to its
// pointer, claims a length for a chunk that the chunk does not have, after
// that chunk was read (and cached) for another file: the read fails as
// corrupt instead of serving a piece of the chunk or past its end.
func TestChunkLengthChecked(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	data := randData(23, 20<<10)
	honest := add(t, st, data)
	if !honest.SingleChunk() {
		t.Fatalf("%d random bytes made more than one chunk", len(data))
	}
	var bld manifest.Builder
	bld.Add(honest.OID, len(data)+100) // the chunk has 100 bytes fewer
	bld.Add(honest.OID, len(data))
	m := bld.Finish(cas.Sum([]byte("forged")))
	enc := m.Encode()
	mid := cas.Sum(enc)
	pk := st.NewPacker()
	if err := pk.Add(mid, cas.KindManifest, compress.None, len(enc), enc); err != nil {
		t.Fatal(err)
	}
	if err := pk.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	pk.Close()
	forged := pointer.New(m.OID, m.Size, mid)

	s := NewSource(st, nil, nil, SourceOptions{})
	t.Cleanup(s.Close)
	for _, p := range []pointer.Pointer{honest, forged} {
		f, err := s.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, p.Size)
		n, err := f.ReadAt(ctx, buf, 0)
		switch {
		case p == honest && (err != nil || !bytes.Equal(buf[:n], data)):
			t.Fatalf("honest file: %d bytes, %v", n, err)
		case p == forged && !errors.Is(err, cas.ErrCorrupt):
			t.Fatalf("forged chunk list: read %d bytes, error %v; want ErrCorrupt", n, err)
		}
	}
}
