package transfer

import (
	"context"
	"fmt"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
)

// DefaultGrace is how long a condemned pack waits on a remote before a
// prune deletes it: longer than any push takes, from its first look at the
// remote's indexes to git updating the refs it pushed.
const DefaultGrace = 24 * time.Hour

// RemoteLive returns the objects the files ptrs point to need on r: each
// file's manifest and chunks (the chunk lists from st where they are,
// else from r). A file whose chunk list is nowhere contributes what is
// known of it (its manifest id, or its only chunk).
func RemoteLive(ctx context.Context, st *store.Store, r *remotestore.Store, ptrs []pointer.Pointer) (map[cas.ID]struct{}, error) {
	live := map[cas.ID]struct{}{}
	var remoteOnly []pointer.Pointer
	for _, p := range distinct(ptrs) {
		if id, ok := manifest.ObjectID(p); ok {
			live[id] = struct{}{}
		} else if p.SingleChunk() {
			live[p.OID] = struct{}{}
			continue
		}
		m, err := filer.Manifest(ctx, st, p)
		if err != nil {
			remoteOnly = append(remoteOnly, p)
			continue
		}
		for _, c := range m.Chunks {
			live[c.ID] = struct{}{}
		}
	}
	if len(remoteOnly) == 0 {
		return live, nil
	}
	err := r.Manifests(ctx, remoteOnly, remotestore.ReadOptions{OnFail: func(remotestore.Want, error) {}}, func(_ pointer.Pointer, m *manifest.Manifest, _ *remotestore.Object) error {
		for _, c := range m.Chunks {
			live[c.ID] = struct{}{}
		}
		return nil
	})
	return live, err
}

// PruneRemoteOptions tune PruneRemote.
type PruneRemoteOptions struct {
	// Grace is how long a condemned pack waits before it is deleted
	// (DefaultGrace is right for shared remotes). 0 deletes at once,
	// which is safe only when nothing pushes meanwhile.
	Grace time.Duration
	// DryRun decides and reports, and changes nothing.
	DryRun bool
	// RepackBelow: a pack whose live bytes are less than this fraction of
	// its size is repacked (its live objects uploaded into a new pack,
	// the old one condemned); 0 means 0.5.
	RepackBelow float64
	// TempDir holds the packs a repack writes. Required unless DryRun.
	TempDir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// PruneRemoteStats says what PruneRemote did, or would do.
type PruneRemoteStats struct {
	Packs          int   // packs in use on the remote
	Condemned      int   // packs condemned by this prune
	Revived        int   // condemned packs needed again
	Deleted        int   // packs deleted
	Repacked       int   // packs whose live objects went into new packs
	Waiting        int   // condemned packs whose grace has not passed
	BytesBefore    int64 // of the packs in use
	BytesFreed     int64 // deleted now
	BytesCondemned int64 // to be freed by a later prune, once the grace has passed
}

// PruneRemote frees space on r: live says which objects the kept history
// needs. It never deletes a pack that nothing had condemned: a pack that
// no live object is in is condemned (recorded with the time), and deleted
// by a later prune once Grace has passed, if it is still condemned and
// still not needed; a condemned pack needed again is revived. Pushes
// treat condemned packs' objects as absent, so a push that starts after a
// condemnation never relies on it, and one that started before finishes
// well within the grace. Packs mostly dead are repacked: their live
// objects go into a new pack (published as a push publishes) and the old
// one is condemned. Packs left without an index by killed pushes are
// condemned and deleted the same way. (FORMAT.md, "Remote prune".)
func PruneRemote(ctx context.Context, r *remotestore.Store, live func(cas.ID) bool, opts PruneRemoteOptions) (PruneRemoteStats, error) {
	var st PruneRemoteStats
	if opts.RepackBelow <= 0 {
		opts.RepackBelow = 0.5
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := r.Sync(ctx); err != nil {
		return st, err
	}
	if err := r.CheckCondemned(); err != nil {
		return st, err
	}
	t := now()
	cond := r.Condemned()
	changed := false
	expired := func(id cas.ID) bool {
		when, ok := cond[id]
		return ok && t.Sub(when) >= opts.Grace
	}
	remove := func(id cas.ID, size int64, indexed bool) error {
		st.Deleted++
		st.BytesFreed += size
		delete(cond, id)
		changed = true
		if opts.DryRun {
			return nil
		}
		return r.DeletePack(ctx, id, indexed)
	}
	condemn := func(id cas.ID, size int64, indexed bool) error {
		if _, ok := cond[id]; !ok {
			cond[id] = t
			st.Condemned++
			changed = true
		}
		if expired(id) {
			return remove(id, size, indexed)
		}
		st.Waiting++
		st.BytesCondemned += size
		return nil
	}
	var repack []remotestore.PackInfo
	for _, pi := range r.Packs() {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Packs++
		st.BytesBefore += pi.Size
		entries, err := r.PackEntries(pi.ID)
		if err != nil {
			continue // no usable index here: nothing to decide on
		}
		// A pack is needed if a live object is in it; a condemned one only
		// if a live object has no copy outside condemned packs (Has does
		// not count those): a repacked pack's live objects are elsewhere.
		nlive, needed := 0, false
		var liveBytes int64
		for _, e := range entries {
			if live(e.ID) {
				nlive++
				liveBytes += pack.EntryHeaderSize + int64(e.StoredLen)
				needed = needed || !r.Has(e.ID)
			}
		}
		_, wasCondemned := cond[pi.ID]
		switch {
		case wasCondemned && needed:
			delete(cond, pi.ID)
			st.Revived++
			changed = true
		case wasCondemned:
			if err := condemn(pi.ID, pi.Size, true); err != nil {
				return st, err
			}
		case nlive == 0:
			if err := condemn(pi.ID, pi.Size, true); err != nil {
				return st, err
			}
		case float64(liveBytes) < opts.RepackBelow*float64(pi.Size):
			repack = append(repack, pi)
		}
	}
	// Packs a killed push left without an index.
	for id, size := range r.Unindexed() {
		if err := condemn(id, size, false); err != nil {
			return st, err
		}
	}
	// Condemned packs the remote no longer lists are gone.
	listed := map[cas.ID]bool{}
	for _, pi := range r.Packs() {
		listed[pi.ID] = true
	}
	for id := range r.Unindexed() {
		listed[id] = true
	}
	for id := range cond {
		if !listed[id] {
			delete(cond, id)
			changed = true
		}
	}
	if len(repack) > 0 {
		if err := repackRemote(ctx, r, repack, live, opts, &st, condemn); err != nil {
			return st, err
		}
	}
	if changed && !opts.DryRun {
		if err := r.WriteCondemned(ctx, cond); err != nil {
			return st, err
		}
		if st.Deleted > 0 {
			if err := r.WriteCatalog(ctx); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

// repackRemote uploads the live objects of packs into new packs and
// condemns the old ones.
func repackRemote(ctx context.Context, r *remotestore.Store, packs []remotestore.PackInfo, live func(cas.ID) bool, opts PruneRemoteOptions, st *PruneRemoteStats, condemn func(cas.ID, int64, bool) error) error {
	if opts.DryRun {
		for _, pi := range packs {
			st.Repacked++
			if err := condemn(pi.ID, pi.Size, true); err != nil {
				return err
			}
		}
		return nil
	}
	var wants []remotestore.Want
	seen := map[cas.ID]bool{}
	for _, pi := range packs {
		entries, err := r.PackEntries(pi.ID)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !live(e.ID) || seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			wants = append(wants, remotestore.Want{ID: e.ID, Kind: e.Kind, MaxRaw: int64(e.RawLen)})
		}
	}
	u := r.NewUpload(ctx, remotestore.UploadOptions{TempDir: opts.TempDir})
	err := r.Read(ctx, wants, remotestore.ReadOptions{}, func(o remotestore.Object) error {
		return u.Add(o.ID, o.Kind, o.Entry.Method, int(o.Entry.RawLen), o.Stored)
	})
	if err != nil {
		u.Abort()
		return fmt.Errorf("repack: read live objects: %w", err)
	}
	if _, err := u.Finish(); err != nil {
		return fmt.Errorf("repack: %w", err)
	}
	// Only now that the live objects are published elsewhere.
	for _, pi := range packs {
		st.Repacked++
		if err := condemn(pi.ID, pi.Size, true); err != nil {
			return err
		}
	}
	return nil
}
