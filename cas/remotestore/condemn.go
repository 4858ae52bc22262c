package remotestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/remote"
)

// Remote prune (FORMAT.md, "Remote prune"): a prune never deletes a pack
// at once. It condemns it in condemnedName with the time, and deletes it
// only in a later prune, at least the grace period later, if it is still
// condemned and still needed by nothing. A push treats the objects of
// condemned packs as absent (it uploads them again rather than rely on
// them), and a prune that finds a condemned pack needed again revives it.
const condemnedName = "prune/condemned"

// maxCondemnedLen bounds the record read from a remote.
const maxCondemnedLen = 16 << 20

// condemnedRecord is condemnedName's JSON.
type condemnedRecord struct {
	Version int                  `json:"version"`
	Packs   map[string]time.Time `json:"packs"` // pack id -> when condemned
}

// readCondemned reads the condemned packs; a remote that has no record has
// none.
func (s *Store) readCondemned(ctx context.Context) (map[cas.ID]time.Time, error) {
	b, err := s.getAll(ctx, condemnedName, maxCondemnedLen)
	if notExist(err) {
		return map[cas.ID]time.Time{}, nil
	}
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("read %s from %s: %w", condemnedName, s, err)
	}
	var rec condemnedRecord
	if err == nil {
		if err := json.Unmarshal(b, &rec); err != nil || rec.Version != 1 {
			return nil, fmt.Errorf("%s on %s is not a condemned-pack record of version 1 (%v): a newer git-lode wrote it, or it is damaged; pushes and prunes refuse until it is fixed; deleting it is safe (packs it condemned are then only condemned again, afresh, by the next prune)", condemnedName, s, err)
		}
	}
	out := map[cas.ID]time.Time{}
	for hex, t := range rec.Packs {
		if id, err := cas.ParseID(hex); err == nil {
			out[id] = t
		}
	}
	return out, nil
}

// CheckCondemned returns why the last Sync could not read the record of
// condemned packs, or nil. A reader need not care (condemned packs are
// still read), but a writer must: a push that cannot tell which packs are
// condemned could rely on one that a prune is about to delete.
func (s *Store) CheckCondemned() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.condemnedErr
}

// Condemned returns the packs the last Sync found condemned, and when.
func (s *Store) Condemned() map[cas.ID]time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[cas.ID]time.Time, len(s.condemned))
	for id, t := range s.condemned {
		out[id] = t
	}
	return out
}

// WriteCondemned replaces the record of condemned packs.
func (s *Store) WriteCondemned(ctx context.Context, packs map[cas.ID]time.Time) error {
	rec := condemnedRecord{Version: 1, Packs: map[string]time.Time{}}
	for id, t := range packs {
		rec.Packs[id.String()] = t.UTC()
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := s.b.Put(ctx, condemnedName, bytes.NewReader(b), int64(len(b)), remote.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("write %s on %s: %w", condemnedName, s, err)
	}
	s.mu.Lock()
	s.condemned, s.condemnedErr = packs, nil
	s.mu.Unlock()
	return nil
}

// PackInfo describes one pack of the remote that the merged index uses.
type PackInfo struct {
	ID   cas.ID
	Size int64
}

// Packs lists the packs in use after the last Sync, sorted by id.
func (s *Store) Packs() []PackInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []PackInfo
	for id, p := range s.packs {
		out = append(out, PackInfo{id, p.size})
	}
	if m := s.mid; m != nil {
		for _, pi := range m.ix.Packs() {
			n := m.num[pi.ID]
			if !m.gone[n] && s.packs[pi.ID] == nil {
				out = append(out, PackInfo{pi.ID, pi.Size})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.Compare(out[j].ID) < 0 })
	return out
}

// Unindexed returns the packs the last Sync saw listed without an index
// (left by killed pushes; no reader uses them), with their sizes.
func (s *Store) Unindexed() map[cas.ID]int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[cas.ID]int64, len(s.unindexed))
	for id, n := range s.unindexed {
		out[id] = n
	}
	return out
}

// PackEntries returns the index records of pack id, from the checked local
// copy of its index.
func (s *Store) PackEntries(id cas.ID) ([]pack.Entry, error) {
	b, err := readLimited(s.cachePath(id), MaxIndexLen)
	if err != nil {
		return nil, fmt.Errorf("index of pack %s: %w", id.Short(), err)
	}
	ix, err := pack.ParseIndex(b)
	if err == nil {
		err = ix.Verify()
	}
	if err == nil && ix.ID() != id {
		err = fmt.Errorf("%w: index checksum does not match its name", pack.ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("index of pack %s: %w", id.Short(), err)
	}
	out := make([]pack.Entry, 0, ix.Len())
	for i := 0; i < ix.Len(); i++ {
		e, err := ix.Entry(i)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// DeletePack removes pack id from the remote: its index first, so that no
// reader finds it any more, then the pack. A pack already gone is no error.
func (s *Store) DeletePack(ctx context.Context, id cas.ID, indexed bool) error {
	names := []string{packName(id)}
	if indexed {
		names = []string{indexName(id), packName(id)}
	}
	for _, name := range names {
		if err := s.b.Delete(ctx, name); err != nil && !notExist(err) {
			if errors.Is(err, remote.ErrPermission) || errors.Is(err, remote.ErrReadOnly) {
				return fmt.Errorf("delete %s on %s: %w (pruning a remote needs credentials that may delete)", name, s, err)
			}
			return fmt.Errorf("delete %s on %s: %w", name, s, err)
		}
	}
	s.mu.Lock()
	delete(s.packs, id)
	if m := s.mid; m != nil {
		if n, ok := m.num[id]; ok {
			m.gone[n] = true
		}
	}
	delete(s.condemned, id)
	s.mu.Unlock()
	return nil
}

// knownPack reports whether the last Sync saw pack id on the remote, in
// use, condemned or without an index.
func (s *Store) knownPack(id cas.ID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.packs[id] != nil || s.isCondemned(id) {
		return true
	}
	if _, ok := s.unindexed[id]; ok {
		return true
	}
	if m := s.mid; m != nil {
		if n, ok := m.num[id]; ok && !m.gone[n] {
			return true
		}
	}
	return false
}

// isCondemned reports whether pack id is condemned. s.mu is held.
func (s *Store) isCondemned(id cas.ID) bool {
	_, ok := s.condemned[id]
	return ok
}

// parseUnindexed returns, of the names listed under packs/ (with sizes),
// the packs without an index.
func parseUnindexed(sizes map[string]int64) map[cas.ID]int64 {
	out := map[cas.ID]int64{}
	for name, n := range sizes {
		hex, ok := strings.CutSuffix(name, ".pack")
		if !ok {
			continue
		}
		if _, ok := sizes[hex+".idx"]; ok {
			continue
		}
		if id, err := cas.ParseID(hex); err == nil {
			out[id] = n
		}
	}
	return out
}

// pruneLockName is the object a prune holds while it runs, so that two
// prunes do not race on the condemned record. It is a courtesy lock (the
// back ends offer no compare-and-swap here): it stops a second prune that
// starts while one runs, and expires after pruneLockTTL in case a prune
// was killed.
const pruneLockName = "prune/lock"

const pruneLockTTL = time.Hour

type pruneLock struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
	Token  string    `json:"token"` // tells the holder's lock from a later one
}

// ErrPruneRunning means another prune holds the remote's prune lock.
var ErrPruneRunning = errors.New("another prune of this remote is running")

// LockPrune takes the remote's prune lock for holder (who, for messages)
// and returns its release.
func (s *Store) LockPrune(ctx context.Context, holder string, now time.Time) (func(), error) {
	if b, err := s.getAll(ctx, pruneLockName, 1<<16); err == nil {
		var l pruneLock
		if json.Unmarshal(b, &l) == nil && now.Sub(l.Since) < pruneLockTTL {
			return nil, fmt.Errorf("%w: %s since %s (if it was killed, delete %s on %s, or wait until the lock expires at %s)", ErrPruneRunning, l.Holder, l.Since.Format(time.RFC3339), pruneLockName, s, l.Since.Add(pruneLockTTL).Format(time.RFC3339))
		}
	} else if !notExist(err) {
		return nil, fmt.Errorf("read %s on %s: %w", pruneLockName, s, err)
	}
	mine := pruneLock{Holder: holder, Since: now.UTC(), Token: rand.Text()}
	b, _ := json.Marshal(mine)
	if err := s.b.Put(ctx, pruneLockName, bytes.NewReader(b), int64(len(b)), remote.PutOptions{ContentType: "application/json"}); err != nil {
		if errors.Is(err, remote.ErrPermission) || errors.Is(err, remote.ErrReadOnly) {
			return nil, fmt.Errorf("write %s on %s: %w (pruning a remote needs credentials that may write and delete)", pruneLockName, s, err)
		}
		return nil, fmt.Errorf("write %s on %s: %w", pruneLockName, s, err)
	}
	return func() {
		// Only the lock this prune took: if it outlived its time, another
		// prune may hold the name now.
		ctx := context.WithoutCancel(ctx)
		if b, err := s.getAll(ctx, pruneLockName, 1<<16); err == nil {
			var l pruneLock
			if json.Unmarshal(b, &l) == nil && l.Token == mine.Token {
				_ = s.b.Delete(ctx, pruneLockName)
			}
		}
	}, nil
}
