package remotestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/remotestore/hostile"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
)

func randData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	b     remote.Backend
	local *store.Store
	codec *compress.Codec
	cache string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{t: t, ctx: context.Background(), b: mem.New(), local: st, codec: st.Codec(), cache: filepath.Join(t.TempDir(), "cache")}
}

// remote opens the remote as a new process would (same cache).
func (f *fixture) remote() *remotestore.Store {
	return remotestore.New(f.b, f.cache, f.codec)
}

// clean stores data locally and returns its pointer and chunk list.
func (f *fixture) clean(data []byte) (pointer.Pointer, *manifest.Manifest) {
	f.t.Helper()
	pk := f.local.NewPacker()
	defer pk.Close()
	p, err := filer.Clean(f.ctx, bytes.NewReader(data), pk, f.codec, filer.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := pk.Flush(f.ctx); err != nil {
		f.t.Fatal(err)
	}
	m, err := filer.Manifest(f.ctx, f.local, p)
	if err != nil {
		f.t.Fatal(err)
	}
	return p, m
}

// upload uploads p's objects from the local store to the remote.
func (f *fixture) upload(p pointer.Pointer, m *manifest.Manifest, packSize int64) {
	f.t.Helper()
	u := f.remote().NewUpload(f.ctx, remotestore.UploadOptions{TempDir: f.t.TempDir(), PackSize: packSize})
	add := func(id cas.ID, kind cas.Kind) {
		e, stored, err := f.local.GetStored(f.ctx, id)
		if err != nil {
			f.t.Fatal(err)
		}
		if err := u.Add(id, kind, e.Method, int(e.RawLen), stored); err != nil {
			f.t.Fatal(err)
		}
	}
	if mid, ok := manifest.ObjectID(p); ok {
		add(mid, cas.KindManifest) // added first, published last
	}
	for _, c := range m.Chunks {
		add(c.ID, cas.KindChunk)
	}
	if _, err := u.Finish(); err != nil {
		f.t.Fatal(err)
	}
}

func chunkWants(m *manifest.Manifest) []remotestore.Want {
	var ws []remotestore.Want
	for _, c := range m.Chunks {
		ws = append(ws, remotestore.ChunkWant(c.ID))
	}
	return ws
}

// readAll reads m's chunks in order and returns the file.
func readAll(ctx context.Context, r *remotestore.Store, m *manifest.Manifest, opts remotestore.ReadOptions) ([]byte, error) {
	opts.Ordered = true
	var out bytes.Buffer
	err := r.Read(ctx, chunkWants(m), opts, func(o remotestore.Object) error {
		out.Write(o.Raw)
		return nil
	})
	return out.Bytes(), err
}

func TestReadCoalescesAndVerifies(t *testing.T) {
	f := newFixture(t)
	data := randData(1, 3<<20)
	p, m := f.clean(data)
	f.upload(p, m, 1<<20)
	counted := remote.NewCounting(f.b)
	r := remotestore.New(counted, f.cache, f.codec)
	got, err := r.Manifest(f.ctx, p)
	if err != nil || got.ID() != p.Manifest {
		t.Fatalf("Manifest = %v", err)
	}
	before := counted.Requests()
	out, err := readAll(f.ctx, r, got, remotestore.ReadOptions{Memory: 1 << 20})
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("read: %v (%d bytes)", err, len(out))
	}
	// Three or four packs of 1 MiB: one ranged read per pack's run (the
	// memory bound of 1 MiB cuts runs into pieces of up to half of it).
	if n := counted.Requests() - before; n > 16 {
		t.Fatalf("%d requests for %d chunks", n, len(m.Chunks))
	}
	// Unordered, each distinct object once.
	seen := map[cas.ID]int{}
	err = r.Read(f.ctx, append(chunkWants(m), chunkWants(m)...), remotestore.ReadOptions{}, func(o remotestore.Object) error {
		seen[o.ID]++
		return nil
	})
	if err != nil || len(seen) != len(m.Chunks) {
		t.Fatalf("unordered read: %v, %d distinct of %d", err, len(seen), len(m.Chunks))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id.Short(), n)
		}
	}
}

func TestForgedManifestIsRefused(t *testing.T) {
	f := newFixture(t)
	p, m := f.clean(randData(2, 1<<20))
	other, om := f.clean(randData(3, 1<<20))
	f.upload(p, m, 0)
	f.upload(other, om, 0)
	// Delete the real manifest's pack, so the forged one is the only copy.
	for _, id := range mustPacks(t, f) {
		ix := mustIndex(t, f, id)
		if _, ok, _ := ix.Lookup(p.Manifest); ok {
			f.b.Delete(f.ctx, hostile.IndexName(id))
		}
	}
	if _, err := hostile.ForgeManifest(f.ctx, f.b, p, om); err != nil {
		t.Fatal(err)
	}
	_, err := f.remote().Manifest(f.ctx, p)
	if !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("Manifest of a forged list = %v, want ErrCorrupt", err)
	}
	// A version 1 pointer cannot be bound: the forged list is returned,
	// and it is the caller's whole-file check that refuses it (see
	// package transfer); but it is never mistaken for a good one here.
	v1 := pointer.Pointer{OID: p.OID, Size: p.Size, V1: true}
	if _, err := hostile.ForgeManifest(f.ctx, f.b, v1, om); err != nil {
		t.Fatal(err)
	}
	lm, err := f.remote().Manifest(f.ctx, v1)
	if err != nil || lm.Chunks[0].ID != om.Chunks[0].ID {
		t.Fatalf("v1 forged manifest: %v", err)
	}
}

func mustPacks(t *testing.T, f *fixture) []cas.ID {
	ids, err := hostile.Packs(f.ctx, f.b)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func mustIndex(t *testing.T, f *fixture, id cas.ID) *pack.Index {
	b, err := hostile.Get(f.ctx, f.b, hostile.IndexName(id))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := pack.ParseIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestSyncIgnoresBadIndexes(t *testing.T) {
	f := newFixture(t)
	p, m := f.clean(randData(4, 600<<10))
	f.upload(p, m, 0)
	good := mustPacks(t, f)

	// An index whose pack is missing.
	noPack, err := hostile.PutPack(f.ctx, f.b, []hostile.Object{hostile.OversizeChunk(100)})
	if err != nil {
		t.Fatal(err)
	}
	f.b.Delete(f.ctx, hostile.PackName(noPack))
	// A pack whose size differs from what its index says.
	short, _ := hostile.PutPack(f.ctx, f.b, []hostile.Object{hostile.OversizeChunk(200)})
	body, _ := hostile.Get(f.ctx, f.b, hostile.PackName(short))
	f.b.Put(f.ctx, hostile.PackName(short), bytes.NewReader(body[:len(body)-1]), int64(len(body)-1), remote.PutOptions{})
	// A chunk of 1 MiB: over the format's bound.
	over, _ := hostile.PutPack(f.ctx, f.b, []hostile.Object{hostile.OversizeChunk(1 << 20)})
	// A damaged index (its checksum no longer matches its name).
	damaged, _ := hostile.PutPack(f.ctx, f.b, []hostile.Object{hostile.OversizeChunk(300)})
	ib, _ := hostile.Get(f.ctx, f.b, hostile.IndexName(damaged))
	ib[20] ^= 1
	f.b.Put(f.ctx, hostile.IndexName(damaged), bytes.NewReader(ib), int64(len(ib)), remote.PutOptions{})

	r := f.remote()
	if err := r.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	probs := fmt.Sprint(r.Problems())
	for _, id := range []cas.ID{noPack, short, over, damaged} {
		if !strings.Contains(probs, id.String()) {
			t.Errorf("problems do not name %s: %s", id.Short(), probs)
		}
	}
	if r.Has(hostile.OversizeChunk(1 << 20).ID) {
		t.Fatal("an oversize chunk is in the merged index")
	}
	for _, c := range m.Chunks {
		if !r.Has(c.ID) {
			t.Fatalf("good pack %v not used", good)
		}
	}
	if out, err := readAll(f.ctx, r, m, remotestore.ReadOptions{}); err != nil || int64(len(out)) != p.Size {
		t.Fatalf("reading past the bad indexes: %v", err)
	}
}

func TestDamagedCachedIndexIsFetchedAgain(t *testing.T) {
	f := newFixture(t)
	p, m := f.clean(randData(5, 600<<10))
	f.upload(p, m, 0) // caches the index
	files, _ := filepath.Glob(filepath.Join(f.cache, "*.idx"))
	if len(files) != 1 {
		t.Fatalf("cache: %v", files)
	}
	// Damaged offsets in the cached copy, checksum left as it was.
	b, _ := os.ReadFile(files[0])
	bad := bytes.Clone(b)
	copy(bad[16+32:16+40], b[16+52+32:16+52+40])
	os.WriteFile(files[0], bad, 0o644)
	r := f.remote()
	if out, err := readAll(f.ctx, r, m, remotestore.ReadOptions{}); err != nil || int64(len(out)) != p.Size {
		t.Fatalf("read with a damaged cached index: %v", err)
	}
	if now, _ := os.ReadFile(files[0]); !bytes.Equal(now, b) {
		t.Fatal("the damaged cached index was not replaced by the remote's")
	}
}

func TestBadOffsetsFallBackToAnotherCopy(t *testing.T) {
	f := newFixture(t)
	p, m := f.clean(randData(6, 600<<10))
	f.upload(p, m, 0)
	orig := mustPacks(t, f)[0]
	// A second copy of the pack whose index points records at each
	// other's entries.
	body, _ := hostile.Get(f.ctx, f.b, hostile.PackName(orig))
	idx, _ := hostile.Get(f.ctx, f.b, hostile.IndexName(orig))
	if _, err := hostile.RewriteIndex(f.ctx, f.b, orig, hostile.SwapOffsets); err != nil {
		t.Fatal(err)
	}
	r := f.remote()
	if _, err := readAll(f.ctx, r, m, remotestore.ReadOptions{}); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("read with only a lying index = %v, want ErrCorrupt", err)
	}
	// With the good copy back, reads succeed whichever copy is tried first.
	f.b.Put(f.ctx, hostile.PackName(orig), bytes.NewReader(body), int64(len(body)), remote.PutOptions{})
	f.b.Put(f.ctx, hostile.IndexName(orig), bytes.NewReader(idx), int64(len(idx)), remote.PutOptions{})
	r = f.remote()
	if out, err := readAll(f.ctx, r, m, remotestore.ReadOptions{}); err != nil || int64(len(out)) != p.Size {
		t.Fatalf("read with a good copy: %v", err)
	}
	var failed []cas.ID
	err := r.Read(f.ctx, chunkWants(m), remotestore.ReadOptions{OnFail: func(w remotestore.Want, err error) { failed = append(failed, w.ID) }}, func(remotestore.Object) error { return nil })
	if err != nil || len(failed) != 0 {
		t.Fatalf("OnFail: %v %v", failed, err)
	}
}

func TestMissingObjects(t *testing.T) {
	f := newFixture(t)
	r := f.remote()
	id := cas.Sum([]byte("nothing"))
	err := r.Read(f.ctx, []remotestore.Want{remotestore.ChunkWant(id)}, remotestore.ReadOptions{}, func(remotestore.Object) error { return nil })
	if !errors.Is(err, remotestore.ErrMissing) {
		t.Fatalf("err = %v", err)
	}
	var failed []cas.ID
	err = r.Read(f.ctx, []remotestore.Want{remotestore.ChunkWant(id)}, remotestore.ReadOptions{OnFail: func(w remotestore.Want, err error) { failed = append(failed, w.ID) }}, func(remotestore.Object) error { return nil })
	if err != nil || len(failed) != 1 {
		t.Fatalf("OnFail: %v, %v", failed, err)
	}
}

// failAfter fails every Put after the first n.
type failAfter struct {
	remote.Backend
	n int
}

func (b *failAfter) Put(ctx context.Context, name string, src io.ReaderAt, size int64, o remote.PutOptions) error {
	if b.n <= 0 {
		return errors.New("connection reset")
	}
	b.n--
	return b.Backend.Put(ctx, name, src, size, o)
}

func TestManifestPublishedLast(t *testing.T) {
	f := newFixture(t)
	p, m := f.clean(randData(7, 3<<20))
	// Two puts (a chunk pack and its index) succeed, the rest fail.
	fb := &failAfter{Backend: f.b, n: 2}
	r := remotestore.New(fb, f.cache, f.codec)
	u := r.NewUpload(f.ctx, remotestore.UploadOptions{TempDir: t.TempDir(), PackSize: 1 << 20, Workers: 1})
	mid, _ := manifest.ObjectID(p)
	e, stored, _ := f.local.GetStored(f.ctx, mid)
	u.Add(mid, cas.KindManifest, e.Method, int(e.RawLen), stored)
	for _, c := range m.Chunks {
		e, stored, _ := f.local.GetStored(f.ctx, c.ID)
		if err := u.Add(c.ID, cas.KindChunk, e.Method, int(e.RawLen), stored); err != nil {
			break
		}
	}
	if _, err := u.Finish(); err == nil {
		t.Fatal("upload succeeded although puts fail")
	}
	r2 := f.remote()
	if err := r2.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if r2.Has(mid) {
		t.Fatal("the manifest is published although some of its chunks are not")
	}
}

// A remote of many packs: its merged index becomes one multi-pack index
// in the cache; a new process maps it without reading the cached indexes,
// and a pack the remote loses stops being used.
func TestRemoteMidx(t *testing.T) {
	f := newFixture(t)
	var ptrs []pointer.Pointer
	var mans []*manifest.Manifest
	for i := range 24 {
		p, m := f.clean(randData(uint64(50+i), 20000+i*100))
		f.upload(p, m, 0) // one pack each
		ptrs, mans = append(ptrs, p), append(mans, m)
	}
	r := f.remote()
	if err := r.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.cache, "remote.midx")); err != nil {
		t.Fatalf("no multi-pack index in the cache: %v", err)
	}
	// A new process: one listing and the prune record, no index fetched.
	counted := remote.NewCounting(f.b)
	r2 := remotestore.New(counted, f.cache, f.codec)
	if err := r2.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := counted.Requests(); n != 2 {
		t.Fatalf("%d requests to sync a cached remote, want the listing and the prune record", n)
	}
	for i, m := range mans {
		out, err := readAll(f.ctx, r2, m, remotestore.ReadOptions{})
		if err != nil || int64(len(out)) != ptrs[i].Size {
			t.Fatalf("file %d: %v", i, err)
		}
	}
	// The remote loses a pack: its objects are no longer found.
	ids := mustPacks(t, f)
	lost := mustIndex(t, f, ids[0])
	e, _ := lost.Entry(0)
	f.b.Delete(f.ctx, hostile.PackName(ids[0]))
	r3 := remotestore.New(f.b, f.cache, f.codec)
	if err := r3.Sync(f.ctx); err != nil {
		t.Fatal(err)
	}
	if r3.Has(e.ID) || len(r3.Locate(e.ID)) != 0 {
		t.Fatal("an object of a lost pack is still found")
	}
}
