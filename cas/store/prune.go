package store

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pack"
)

// PruneOptions tune Prune. The zero value is usable.
type PruneOptions struct {
	// DryRun computes what would be freed and changes nothing.
	DryRun bool
	// RepackBelow: a pack whose live bytes are less than this fraction
	// of its bytes is rewritten with the live objects only; 0 means 0.5.
	RepackBelow float64
	// MinAge: packs modified more recently than this are left alone
	// (they may be a writer's that does not take the store lock); 0
	// means none.
	MinAge time.Duration
}

// PruneStats says what Prune did, or would do.
type PruneStats struct {
	Packs          int   // packs looked at
	PacksDeleted   int   // packs with no live object, removed
	PacksRepacked  int   // packs rewritten with their live objects only
	PacksYoung     int   // packs left alone for their age
	ObjectsDropped int   // objects no longer stored
	BytesBefore    int64 // pack bytes before
	BytesFreed     int64 // pack bytes freed (a repack's new pack subtracted)
}

// Prune removes from the store every object keep rejects: packs with no
// object keep accepts are deleted, packs mostly made of rejected objects
// are rewritten with the accepted ones (published before the old pack is
// removed), the others are left as they are. The caller holds Lock (so
// that no writer relies on what keep rejects) and decides keep from
// everything that may need an object. A prune killed at any point leaves
// a valid store: a pack is only removed once what it held that is kept is
// in a published pack.
func (s *Store) Prune(ctx context.Context, keep func(cas.ID) bool, opts PruneOptions) (PruneStats, error) {
	var st PruneStats
	if opts.RepackBelow <= 0 {
		opts.RepackBelow = 0.5
	}
	if err := s.Refresh(); err != nil {
		return st, err
	}
	cutoff := time.Now().Add(-opts.MinAge)
	changed := false
	for _, pi := range s.Packs() {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Packs++
		st.BytesBefore += pi.Size
		if opts.MinAge > 0 {
			if fi, err := os.Stat(pi.Path); err == nil && fi.ModTime().After(cutoff) {
				st.PacksYoung++
				continue
			}
		}
		own, err := s.loadPack(pi.ID)
		if err != nil {
			continue // damaged or gone: verify reports it; nothing to decide on
		}
		var live, dead int
		var liveBytes int64
		for i := 0; i < own.idx.Len(); i++ {
			e, err := own.idx.Entry(i)
			if err != nil {
				continue
			}
			if keep(e.ID) {
				live++
				liveBytes += pack.EntryHeaderSize + int64(e.StoredLen)
			} else {
				dead++
			}
		}
		own.close()
		switch {
		case dead == 0:
			continue
		case live == 0:
			st.PacksDeleted++
			st.BytesFreed += pi.Size
		case float64(liveBytes) < opts.RepackBelow*float64(pi.Size):
			st.PacksRepacked++
			st.BytesFreed += pi.Size - liveBytes - pack.HeaderSize
		default:
			continue // mostly live: rewriting it would cost more than it frees
		}
		st.ObjectsDropped += dead
		if opts.DryRun {
			continue
		}
		s.mu.RLock()
		p := s.byID[pi.ID]
		s.mu.RUnlock()
		if p == nil {
			continue
		}
		if live > 0 {
			if err := s.rewriteKeeping(ctx, p, keep); err != nil {
				return st, fmt.Errorf("prune: repack %s: %w", pi.ID.Short(), err)
			}
		} else if err := s.removePack(p); err != nil {
			return st, fmt.Errorf("prune: %w", err)
		}
		changed = true
	}
	if changed {
		// The multi-pack index still lists what was removed; write it
		// again without it.
		if err := s.consolidate(true); err != nil {
			return st, err
		}
	}
	return st, nil
}

// rewriteKeeping replaces pack p by a pack of its objects that keep
// accepts (and that read back valid), and removes p.
func (s *Store) rewriteKeeping(ctx context.Context, p *packFile, keep func(cas.ID) bool) error {
	own, err := s.loadPack(p.id)
	if err != nil {
		return err
	}
	defer own.close()
	pk := s.newUnlockedPacker()
	defer pk.Close()
	for i := 0; i < own.idx.Len(); i++ {
		e, err := own.idx.Entry(i)
		if err != nil || !keep(e.ID) {
			continue
		}
		stored, err := s.readStored(location{p, e})
		if err != nil {
			continue
		}
		if _, err := s.decode(location{p, e}, stored, nil); err != nil {
			continue // damaged: not worth keeping; a fetch gets it again
		}
		if err := pk.Add(e.ID, e.Kind, e.Method, int(e.RawLen), stored); err != nil {
			return err
		}
	}
	if err := pk.Flush(ctx); err != nil {
		return err
	}
	return s.removePack(p)
}
