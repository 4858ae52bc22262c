package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/midx"
)

// The multi-pack index (FORMAT.md, "Multi-pack index"): packs/lode.midx
// lists the records of many packs in one sorted table, so that a lookup is
// one binary search in one mapped file and opening the store does not map
// every pack's index. Packs published after it was written keep their own
// index until the next consolidation, which happens once more than
// midxThreshold of them exist. It is derived data: a damaged or missing
// one is rebuilt from the packs' own indexes, which stay on disk.
const (
	midxName      = "lode.midx"
	midxThreshold = 16
)

// midxState is a loaded multi-pack index. Set once; gone is updated under
// Store.mu.
type midxState struct {
	ix    *midx.Index
	mm    []byte
	stamp fileStamp
	packs []*packFile // by pack number
	gone  []bool      // by pack number: its index is no longer in packs/
}

func (m *midxState) close() error {
	if m.mm == nil {
		return nil
	}
	mm := m.mm
	m.mm = nil
	return syscall.Munmap(mm)
}

// fileStamp tells whether a file was replaced.
type fileStamp struct {
	ino, size int64
	mtime     int64
}

func stampOf(fi fs.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = int64(sys.Ino)
	}
	return st
}

func (s *Store) midxPath() string { return filepath.Join(s.packsDir(), midxName) }

// refreshMidx loads packs/lode.midx if it is new or was replaced, and
// marks the packs it covers whose index is no longer listed (names).
func (s *Store) refreshMidx(names []cas.ID) error {
	listed := make(map[cas.ID]bool, len(names))
	for _, id := range names {
		listed[id] = true
	}
	fi, err := os.Stat(s.midxPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fi = nil
	case err != nil:
		return fmt.Errorf("open store: %w", err)
	}
	s.mu.RLock()
	cur := s.mid
	s.mu.RUnlock()
	if fi != nil && (cur == nil || cur.stamp != stampOf(fi)) {
		if next, err := s.loadMidx(fi); err == nil {
			s.swapMidx(next)
		}
		// A damaged multi-pack index is left alone: the packs' own
		// indexes serve, Verify reports it, and the next consolidation
		// replaces it.
	}
	s.mu.Lock()
	if m := s.mid; m != nil {
		for i, p := range m.packs {
			if !listed[p.id] {
				m.gone[i] = true
			}
		}
	}
	s.mu.Unlock()
	return nil
}

// loadMidx maps and checks the multi-pack index.
func (s *Store) loadMidx(fi fs.FileInfo) (*midxState, error) {
	mm, err := mapFile(s.midxPath())
	if err != nil {
		return nil, err
	}
	ix, err := midx.Open(mm)
	if err != nil {
		syscall.Munmap(mm)
		return nil, fmt.Errorf("multi-pack index: %w", err)
	}
	m := &midxState{ix: ix, mm: mm, stamp: stampOf(fi)}
	for _, pi := range ix.Packs() {
		m.packs = append(m.packs, &packFile{id: pi.ID, path: filepath.Join(s.packsDir(), pi.ID.String()+".pack"), size: pi.Size})
	}
	m.gone = make([]bool, len(m.packs))
	return m, nil
}

// swapMidx makes next the multi-pack index: its packs replace the
// uncovered packs they cover (whose own index maps are released).
func (s *Store) swapMidx(next *midxState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		next.close()
		return
	}
	covered := make(map[cas.ID]int, len(next.packs))
	for i, p := range next.packs {
		covered[p.id] = i
		if old, ok := s.byID[p.id]; ok && old.idx == nil {
			next.packs[i] = old // same pack, same open file
		}
	}
	var keep []*packFile
	for _, p := range s.packs {
		if i, ok := covered[p.id]; ok {
			p.close()
			next.packs[i] = &packFile{id: p.id, path: p.path, size: p.size}
			continue
		}
		keep = append(keep, p)
	}
	s.packs = keep
	if s.mid != nil {
		for _, p := range s.mid.packs {
			if _, ok := covered[p.id]; !ok && s.byID[p.id] == p {
				delete(s.byID, p.id) // not in the new index: found again by Refresh
			}
		}
		s.mid.close()
	}
	for _, p := range next.packs {
		s.byID[p.id] = p
	}
	s.mid = next
}

// consolidate writes a multi-pack index over every pack the store knows,
// if more than midxThreshold packs are outside the current one (or force).
// Failure only costs speed: the packs' own indexes still serve.
func (s *Store) consolidate(force bool) error {
	s.mu.RLock()
	n := len(s.packs)
	base := s.mid
	var packs []midx.Pack
	for _, p := range s.packs {
		packs = append(packs, midx.FromIndex(p.idx))
	}
	var gone map[cas.ID]bool
	if base != nil {
		gone = map[cas.ID]bool{}
		for i, g := range base.gone {
			if g {
				gone[base.packs[i].id] = true
			}
		}
	}
	if n <= midxThreshold && !force || n == 0 && (base == nil || len(gone) == 0) {
		s.mu.RUnlock()
		return nil
	}
	// Written under the read lock: the maps it reads stay mapped.
	f, err := s.tmpFile("midx-*.tmp")
	if err != nil {
		s.mu.RUnlock()
		return fmt.Errorf("write multi-pack index: %w", err)
	}
	if base != nil {
		_, err = midx.Rewrite(f, base.ix, func(pi midx.PackInfo) bool { return !gone[pi.ID] }, packs)
	} else {
		_, err = midx.Write(f, packs)
	}
	s.mu.RUnlock()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), s.midxPath())
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write multi-pack index: %w", err)
	}
	if err := syncDir(s.packsDir()); err != nil {
		return err
	}
	return s.Refresh()
}
