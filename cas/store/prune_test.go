package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas"
)

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	// pack 1: one small kept object, one large dropped one (repacked);
	// pack 2: all dropped (deleted); pack 3: mostly kept (left alone).
	packOf := func(sizes ...int) []cas.ID {
		p := s.newUnlockedPacker()
		var ids []cas.ID
		for i, n := range sizes {
			ids = append(ids, put(t, s, p, chunkData(uint64(n*10+i), n, false)))
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	p1, p2, p3 := packOf(2000, 60000), packOf(5000, 6000), packOf(50000, 40000, 1000)
	kept := map[cas.ID]bool{p1[0]: true, p3[0]: true, p3[1]: true}
	keep := func(id cas.ID) bool { return kept[id] }
	before := len(s.Packs())

	dry, err := s.Prune(ctx, keep, PruneOptions{DryRun: true})
	if err != nil || dry.PacksDeleted != 1 || dry.PacksRepacked != 1 || dry.ObjectsDropped != 3 || dry.BytesFreed <= 60000 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if len(s.Packs()) != before {
		t.Fatal("a dry run changed the store")
	}
	st, err := s.Prune(ctx, keep, PruneOptions{})
	if err != nil || st.PacksDeleted != dry.PacksDeleted || st.PacksRepacked != dry.PacksRepacked {
		t.Fatalf("prune: %+v, %v", st, err)
	}
	for id := range kept {
		if _, err := s.Get(ctx, id); err != nil {
			t.Fatalf("kept object %s: %v", id.Short(), err)
		}
	}
	for _, id := range []cas.ID{p1[1], p2[0], p2[1]} {
		if _, err := s.Get(ctx, id); !errors.Is(err, cas.ErrNotFound) {
			t.Fatalf("dropped object %s: %v", id.Short(), err)
		}
	}
	if ok, _ := s.Has(ctx, p3[2]); !ok {
		t.Fatal("an object of a mostly kept pack was dropped (its pack should be left alone)")
	}
	if ps := errorsOnly(verifyAll(t, s)); len(ps) != 0 {
		t.Fatalf("verify after prune: %v", ps)
	}
	// Another process sees the same store.
	s2 := openTemp(t, s.Dir(), Options{})
	for id := range kept {
		if _, err := s2.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	// Young packs are left alone.
	packOf(3000)
	young, err := s.Prune(ctx, func(cas.ID) bool { return false }, PruneOptions{DryRun: true, MinAge: time.Hour})
	if err != nil || young.PacksYoung != len(s.Packs()) || young.PacksDeleted != 0 {
		t.Fatalf("young packs: %+v, %v", young, err)
	}
}

// The prune lock waits for writers: a Packer in use keeps Lock waiting,
// and a Packer started during a prune waits for it.
func TestPruneLockWaitsForWriters(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	pk := s.NewPacker()
	pk.Has(cas.Sum([]byte("x"))) // in use: holds the lock shared
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(short); err == nil {
		t.Fatal("Lock succeeded while a Packer was in use")
	}
	pk.Close()
	release, err := s.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		p := s.NewPacker()
		p.Has(cas.Sum([]byte("y"))) // waits for the prune
		p.Close()
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("a Packer ran during a prune")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the Packer did not go on after the prune")
	}
}
