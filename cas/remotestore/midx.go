package remotestore

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/midx"
)

// The merged index of a remote's packs is kept, beside the cached
// indexes, as a multi-pack index (package cas/midx) once more than
// midxThreshold packs are outside it: a process then maps one file instead
// of reading every cached index, and a lookup is one binary search
// whatever the number of packs. It is derived from indexes that passed
// every check, is checked itself (structure and checksum) when loaded,
// and a pack it covers is used only while the remote lists it with the
// size it gives.
const (
	midxFile      = "remote.midx"
	midxThreshold = 16
)

// remoteMidx is a loaded multi-pack index of the remote's packs. Set
// once; gone is updated under Store.mu.
type remoteMidx struct {
	ix   *midx.Index
	mm   []byte
	num  map[cas.ID]int // pack id -> pack number
	size []int64        // by pack number
	gone []bool         // by pack number: not listed, or listed at another size
}

func (m *remoteMidx) close() {
	if m != nil && m.mm != nil {
		syscall.Munmap(m.mm)
		m.mm = nil
	}
}

// loadMidx maps and checks the cached multi-pack index, if there is one.
func (s *Store) loadMidx() (*remoteMidx, error) {
	path := filepath.Join(s.cacheDir, midxFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 || fi.Size() > 1<<40 {
		return nil, fmt.Errorf("%s: %d bytes", path, fi.Size())
	}
	mm, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	ix, err := midx.Open(mm)
	if err == nil {
		err = ix.Verify()
	}
	if err != nil {
		syscall.Munmap(mm)
		os.Remove(path)
		return nil, err
	}
	m := &remoteMidx{ix: ix, mm: mm, num: map[cas.ID]int{}}
	for i, p := range ix.Packs() {
		m.num[p.ID] = i
		m.size = append(m.size, p.Size)
	}
	m.gone = make([]bool, len(m.size))
	return m, nil
}

// rebuildMidx writes a multi-pack index over every pack in use (those the
// current one covers and are not gone, and the others), maps it, and
// drops the others' indexes from memory. Failure only costs speed.
func (s *Store) rebuildMidx() error {
	s.mu.RLock()
	var packs []midx.Pack
	for _, p := range s.packs {
		packs = append(packs, midx.FromIndex(p.idx))
	}
	base := s.mid
	f, err := os.CreateTemp(s.cacheDir, ".tmp-midx-*")
	if err == nil {
		if base != nil {
			_, err = midx.Rewrite(f, base.ix, func(pi midx.PackInfo) bool {
				n := base.num[pi.ID]
				return !base.gone[n] && s.packs[pi.ID] == nil
			}, packs)
		} else {
			_, err = midx.Write(f, packs)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	s.mu.RUnlock()
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(s.cacheDir, midxFile))
	}
	if err != nil {
		if f != nil {
			os.Remove(f.Name())
		}
		return fmt.Errorf("write the remote's multi-pack index: %w", err)
	}
	next, err := s.loadMidx()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.packs {
		if n, ok := next.num[id]; ok && next.size[n] == p.size {
			delete(s.packs, id)
		}
	}
	s.mid.close()
	s.mid = next
	return nil
}
