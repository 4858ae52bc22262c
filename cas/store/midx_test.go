package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
)

// manyPacks stores n objects, one pack each, and returns their ids and
// contents.
func manyPacks(t *testing.T, s *Store, n int) ([]cas.ID, [][]byte) {
	t.Helper()
	var ids []cas.ID
	var datas [][]byte
	for i := range n {
		d := chunkData(uint64(1000+i), 2000+i, i%2 == 0)
		id, _ := storeOne(t, s, d)
		ids, datas = append(ids, id), append(datas, d)
	}
	return ids, datas
}

func readAll(t *testing.T, s *Store, ids []cas.ID, datas [][]byte) {
	t.Helper()
	for i, id := range ids {
		if got, err := s.Get(context.Background(), id); err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("object %d: %v", i, err)
		}
	}
}

func TestMidxCoversManyPacks(t *testing.T) {
	s := openTemp(t, "", Options{})
	ids, datas := manyPacks(t, s, 3*midxThreshold)
	if _, err := os.Stat(s.midxPath()); err != nil {
		t.Fatalf("no multi-pack index after %d packs: %v", 3*midxThreshold, err)
	}
	s.mu.RLock()
	uncovered, covered := len(s.packs), len(s.mid.packs)
	s.mu.RUnlock()
	if uncovered > midxThreshold || covered+uncovered != 3*midxThreshold {
		t.Fatalf("%d packs outside the multi-pack index, %d in it", uncovered, covered)
	}
	readAll(t, s, ids, datas)
	if n := len(s.Packs()); n != 3*midxThreshold {
		t.Fatalf("Packs() = %d", n)
	}
	// Another process opens the store through the multi-pack index:
	// it maps no more pack indexes than are outside it.
	s2 := openTemp(t, s.Dir(), Options{})
	s2.mu.RLock()
	mapped := len(s2.packs)
	s2.mu.RUnlock()
	if mapped > midxThreshold {
		t.Fatalf("a new Store mapped %d pack indexes", mapped)
	}
	readAll(t, s2, ids, datas)
	if ps := errorsOnly(verifyAll(t, s2)); len(ps) != 0 {
		t.Fatalf("verify: %v", ps)
	}
	st, err := ComputeStats(context.Background(), s2)
	if err != nil || st.Chunks != len(ids) || st.Packs != len(ids) {
		t.Fatalf("stats %+v, %v", st, err)
	}
}

// A store written without a multi-pack index (before it existed) gets one
// when it is opened, and reads the same.
func TestMidxConvertsOldStore(t *testing.T) {
	s := openTemp(t, "", Options{})
	ids, datas := manyPacks(t, s, 2*midxThreshold)
	s.Close()
	if err := os.Remove(s.midxPath()); err != nil {
		t.Fatal(err)
	}
	s2 := openTemp(t, s.Dir(), Options{})
	if _, err := os.Stat(s2.midxPath()); err != nil {
		t.Fatalf("opening an old store wrote no multi-pack index: %v", err)
	}
	readAll(t, s2, ids, datas)
}

// A damaged multi-pack index never stops reads (the packs' own indexes
// serve) and is written again when a store is opened; verify reports one
// damaged under a running store, and RewriteMidx replaces it.
func TestMidxDamaged(t *testing.T) {
	s := openTemp(t, "", Options{})
	ids, datas := manyPacks(t, s, 2*midxThreshold)
	s.Close()
	damage := func() {
		p := s.midxPath()
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 0xff
		os.Remove(p)
		os.WriteFile(p, b, 0o644)
	}
	damage()
	s2 := openTemp(t, s.Dir(), Options{})
	readAll(t, s2, ids, datas)
	if ps := errorsOnly(verifyAll(t, s2)); len(ps) != 0 {
		t.Fatalf("opening did not replace the damaged multi-pack index: %v", ps)
	}
	damage()
	found := false
	for _, pr := range errorsOnly(verifyAll(t, s2)) {
		found = found || strings.HasSuffix(pr.Path, midxName)
	}
	if !found {
		t.Fatal("verify does not report the damaged multi-pack index")
	}
	readAll(t, s2, ids, datas) // still mapped from before
	if err := s2.RewriteMidx(); err != nil {
		t.Fatal(err)
	}
	if ps := errorsOnly(verifyAll(t, s2)); len(ps) != 0 {
		t.Fatalf("verify after RewriteMidx: %v", ps)
	}
	readAll(t, s2, ids, datas)
	readAll(t, openTemp(t, s.Dir(), Options{}), ids, datas)
}

// A pack the multi-pack index covers that is removed (a damaged copy
// dropped) is not used, here or in another process.
func TestMidxPackRemoved(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	ids, datas := manyPacks(t, s, 2*midxThreshold)
	locs, _ := s.lookup(ids[0])
	if len(locs) != 1 || locs[0].p.idx != nil {
		t.Fatal("object 0 should be in a pack the multi-pack index covers")
	}
	flipByte(t, locs[0].p.path, locs[0].e.DataOffset()+10)
	if n, err := s.DropCorrupt(ctx, ids[0]); err != nil || n != 1 {
		t.Fatalf("DropCorrupt = %d, %v", n, err)
	}
	for _, st := range []*Store{s, openTemp(t, s.Dir(), Options{})} {
		if _, err := st.Get(ctx, ids[0]); !errors.Is(err, cas.ErrNotFound) {
			t.Fatalf("dropped object: %v", err)
		}
		readAll(t, st, ids[1:], datas[1:])
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "packs", locs[0].p.id.String()+".pack")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pack still there: %v", err)
	}
}
