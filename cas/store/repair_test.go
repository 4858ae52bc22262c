package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lodevcs/lode/cas"
)

func TestDropCorruptKeepsTheRest(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{})
	p := s.NewPacker()
	var ids []cas.ID
	var datas [][]byte
	for i := range 5 {
		d := chunkData(uint64(20+i), 9000, false)
		datas = append(datas, d)
		ids = append(ids, put(t, s, p, d))
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packs := s.Packs()
	if len(packs) != 1 {
		t.Fatalf("%d packs", len(packs))
	}
	e, _ := s.Lookup(ids[2])
	flipByte(t, packs[0].Path, e.DataOffset()+100)
	if _, err := s.Get(ctx, ids[2]); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("Get = %v", err)
	}
	// A good copy in the store is left alone.
	if n, err := s.DropCorrupt(ctx, ids[1]); err != nil || n != 0 {
		t.Fatalf("DropCorrupt(good) = %d, %v", n, err)
	}
	n, err := s.DropCorrupt(ctx, ids[2])
	if err != nil || n != 1 {
		t.Fatalf("DropCorrupt = %d, %v", n, err)
	}
	if _, err := os.Stat(packs[0].Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old pack still there: %v", err)
	}
	if _, err := s.Get(ctx, ids[2]); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("Get after drop = %v, want ErrNotFound", err)
	}
	for i, id := range ids {
		if i == 2 {
			continue
		}
		if got, err := s.Get(ctx, id); err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("object %d after drop: %v", i, err)
		}
	}
	if ps := errorsOnly(verifyAll(t, s)); len(ps) != 0 {
		t.Fatalf("verify after drop: %v", ps)
	}
	// Another process sees the same.
	s2 := openTemp(t, s.Dir(), Options{})
	if _, err := s2.Get(ctx, ids[2]); !errors.Is(err, cas.ErrNotFound) {
		t.Fatalf("second store: %v", err)
	}
	if _, err := s2.Get(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
}

func TestTidyRemovesOnlyOldLeftovers(t *testing.T) {
	s := openTemp(t, "", Options{})
	id, path := storeOne(t, s, chunkData(9, 5000, true))
	old := time.Now().Add(-2 * DefaultGrace)
	write := func(p string, age time.Time) {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
	}
	oldTmp := filepath.Join(s.TempDir(), "pack-1.tmp")
	newTmp := filepath.Join(s.TempDir(), "upload-2.pack")
	oldOrphan := filepath.Join(s.Dir(), "packs", cas.Sum([]byte("a")).String()+".pack")
	newOrphan := filepath.Join(s.Dir(), "packs", cas.Sum([]byte("b")).String()+".pack")
	write(oldTmp, old)
	write(newTmp, time.Now())
	write(oldOrphan, old)
	write(newOrphan, time.Now())
	if err := os.Chtimes(path, old, old); err != nil { // an old indexed pack stays
		t.Fatal(err)
	}
	removed, err := s.Tidy(DefaultGrace)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Fatalf("removed %v", removed)
	}
	for _, p := range []string{oldTmp, oldOrphan} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed", p)
		}
	}
	for _, p := range []string{newTmp, newOrphan, path} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if _, err := s.Get(context.Background(), id); err != nil {
		t.Fatal(err)
	}
}

// A store of many packs keeps at most OpenPacks pack files open, also
// under concurrent reads.
func TestOpenPacksBounded(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t, "", Options{OpenPacks: 4})
	var ids []cas.ID
	var datas [][]byte
	for i := range 20 {
		d := chunkData(uint64(100+i), 3000, i%2 == 0)
		id, _ := storeOne(t, s, d)
		ids, datas = append(ids, id), append(datas, d)
	}
	if n := len(s.Packs()); n != 20 {
		t.Fatalf("%d packs", n)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 200 {
				i := (g*7 + k) % len(ids)
				got, err := s.Get(ctx, ids[i])
				if err != nil || !bytes.Equal(got, datas[i]) {
					errs <- fmt.Errorf("object %d: %v", i, err)
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
	if n := s.files.count(); n > 4 {
		t.Fatalf("%d pack files open, bound 4", n)
	}
}
