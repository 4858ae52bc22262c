package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lodevcs/lode/cas"
)

// DefaultGrace is how old a leftover temporary file or unindexed pack must
// be before Tidy removes it: longer than any writer keeps one.
const DefaultGrace = 24 * time.Hour

// DropCorrupt removes from the store every copy of id that fails
// verification, so that a good copy (fetched again from a remote, say) is
// the only one left, and verify no longer reports it. Packs are immutable,
// so each pack holding a bad copy is rewritten without it: every other
// object of that pack that reads back valid is copied into a new pack,
// which is published before the old pack is removed. It returns how many
// copies it dropped (0 if every copy is good or there is none).
func (s *Store) DropCorrupt(ctx context.Context, id cas.ID) (int, error) {
	s.repairMu.Lock()
	defer s.repairMu.Unlock()
	locs, err := s.lookup(id)
	if err != nil {
		return 0, err
	}
	dropped := 0
	for _, l := range locs {
		if _, err := s.read(l, nil); err == nil {
			continue
		}
		if err := s.rewriteWithout(ctx, l.p); err != nil {
			return dropped, fmt.Errorf("drop damaged copy of %s: %w", id.Short(), err)
		}
		dropped++
	}
	return dropped, nil
}

// rewriteWithout replaces pack p by a pack of its objects that read back
// valid, and removes p.
func (s *Store) rewriteWithout(ctx context.Context, p *packFile) error {
	ix := p.idx
	if ix == nil {
		// Covered by the multi-pack index: read the pack's own index,
		// which stays on disk.
		own, err := s.loadPack(p.id)
		if err != nil {
			return err
		}
		defer own.close()
		ix = own.idx
	}
	pk := s.NewPacker()
	defer pk.Close()
	for i := 0; i < ix.Len(); i++ {
		e, err := ix.Entry(i)
		if err != nil {
			continue
		}
		stored, err := s.readStored(location{p, e})
		if err != nil {
			continue
		}
		if _, err := s.decode(location{p, e}, stored, nil); err != nil {
			continue
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

// removePack forgets pack p and deletes its files: the index first, so
// that no reader discovers the pack any more, then the pack. Readers that
// looked it up already (here, or in other processes) keep reading their
// open copy: p's file and map are closed only with the Store.
func (s *Store) removePack(p *packFile) error {
	s.mu.Lock()
	if s.byID[p.id] == p {
		delete(s.byID, p.id)
		for i, q := range s.packs {
			if q == p {
				s.packs = append(s.packs[:i], s.packs[i+1:]...)
				break
			}
		}
		if m := s.mid; m != nil {
			for i, q := range m.packs {
				if q == p {
					m.gone[i] = true
				}
			}
		}
		s.retired = append(s.retired, p)
	}
	s.mu.Unlock()
	s.files.forget(p)
	base := strings.TrimSuffix(p.path, ".pack")
	for _, path := range []string{base + ".idx", p.path} {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
	}
	return syncDir(s.packsDir())
}

// RewriteMidx writes the multi-pack index again over every pack (what
// verify --fix does for a damaged one).
func (s *Store) RewriteMidx() error {
	os.Remove(s.midxPath())
	if err := s.Refresh(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.mid != nil {
		// The old one is gone from disk; forget it, so that every pack
		// has its own index loaded again before the rewrite.
		for _, p := range s.mid.packs {
			if s.byID[p.id] == p {
				delete(s.byID, p.id)
			}
		}
		s.mid.close()
		s.mid = nil
	}
	s.mu.Unlock()
	if err := s.Refresh(); err != nil {
		return err
	}
	return s.consolidate(true)
}

// Tidy removes what killed writers left behind once it is older than
// grace: files in tmp/ (temporary packs of a killed git add, upload packs
// of a killed push) and packs that never got their index; and the caches
// of remotes unused for RemoteCacheIdle. It returns the
// paths it removed. Files younger than grace may belong to a writer that
// is still running and are left alone.
func (s *Store) Tidy(grace time.Duration) ([]string, error) {
	cutoff := time.Now().Add(-grace)
	var removed []string
	old := func(path string) bool {
		fi, err := os.Lstat(path)
		return err == nil && fi.ModTime().Before(cutoff)
	}
	tmp := filepath.Join(s.dir, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tidy: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		if old(p) && os.RemoveAll(p) == nil {
			removed = append(removed, p)
		}
	}
	ents, err = os.ReadDir(s.packsDir())
	if err != nil {
		return removed, fmt.Errorf("tidy: %w", err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), ".pack")
		if !ok || names[base+".idx"] {
			continue
		}
		p := filepath.Join(s.packsDir(), e.Name())
		if old(p) && os.Remove(p) == nil {
			removed = append(removed, p)
		}
	}
	// Caches of remotes not used for a long time (a URL that changed).
	cutoff = time.Now().Add(-RemoteCacheIdle)
	ents, _ = os.ReadDir(filepath.Join(s.dir, remotesDir))
	for _, e := range ents {
		p := filepath.Join(s.dir, remotesDir, e.Name())
		if old(p) && os.RemoveAll(p) == nil {
			removed = append(removed, p)
		}
	}
	return removed, nil
}

// RemoteCacheIdle is how long the cache of a remote that is not used any
// more is kept (Tidy removes it then; it is rebuilt if needed).
const RemoteCacheIdle = 30 * 24 * time.Hour

const remotesDir = "remotes"

// RemoteCacheDir returns the directory for the local cache of the remote
// at location (its checked index copies, marks), and marks it used now.
func (s *Store) RemoteCacheDir(location string) string {
	dir := filepath.Join(s.dir, remotesDir, cas.Sum([]byte(location)).Short())
	if err := os.MkdirAll(dir, 0o755); err == nil {
		now := time.Now()
		_ = os.Chtimes(dir, now, now)
	}
	return dir
}
