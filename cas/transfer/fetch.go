package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"
)

// ErrRemoteMissing is wrapped when the remote has no (intact) data for a
// file.
var ErrRemoteMissing = remotestore.ErrMissing

// Complete reports whether st can reassemble the file p points to without
// fetching anything: its chunk list is there and checks against p, and
// every chunk is present (presence only: reading them is what verifies).
func Complete(ctx context.Context, st *store.Store, p pointer.Pointer) bool {
	if p.Size == 0 {
		return true
	}
	_, err := localManifest(ctx, st, p)
	return err == nil
}

// Fetch downloads into st what st needs to reassemble the files ptrs
// point to: for the files it cannot reassemble, their chunk lists from r
// (checked against the pointers), then the chunks st lacks, coalesced into
// ranged reads across files. Every object is checked before it is stored;
// a file's manifest is stored only once its chunks are, and for a version
// 1 pointer only once the whole file has checked against its oid.
//
// Fetch gets what it can: a file the remote lacks (or holds only damaged)
// does not stop the others. When it returns nil every file is whole in st;
// otherwise the error (a *FetchError, wrapping ErrRemoteMissing or
// cas.ErrCorrupt) lists the files it could not get, and the others are
// whole in st.
func Fetch(ctx context.Context, st *store.Store, r *remotestore.Store, ptrs []pointer.Pointer, opts Options) (stats Stats, err error) {
	opts = opts.norm()
	start := r.Requests()
	defer func() { stats.Requests = r.Requests() - start }()
	var files []pointer.Pointer
	for _, p := range distinct(ptrs) {
		ok := Complete(ctx, st, p)
		if ok && opts.VerifyLocal {
			ok, err = verifyLocal(ctx, st, p, opts)
			if err != nil {
				return stats, err
			}
		}
		if ok {
			stats.FilesPresent++
		} else {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return stats, nil
	}
	failed := &FetchError{}
	byManifest := map[cas.ID]pointer.Pointer{}
	for _, p := range files {
		if w, ok := remotestore.ManifestWant(p); ok {
			byManifest[w.ID] = p
		}
	}
	type got struct {
		p   pointer.Pointer
		m   *manifest.Manifest
		obj *remotestore.Object // the manifest as read, to store; nil when none or v1
	}
	var all []got
	err = r.Manifests(ctx, files, remotestore.ReadOptions{
		Workers: opts.Workers,
		OnFail: func(w remotestore.Want, err error) {
			if p, ok := byManifest[w.ID]; ok {
				failed.add(p, err)
			}
		},
	}, func(p pointer.Pointer, m *manifest.Manifest, o *remotestore.Object) error {
		g := got{p: p, m: m}
		if o != nil {
			c := *o
			c.Stored = bytes.Clone(o.Stored)
			c.Raw = nil
			g.obj = &c
		}
		all = append(all, g)
		return nil
	})
	if err != nil {
		return stats, err
	}
	var wants []remotestore.Want
	var total int64
	wanted := map[cas.ID]bool{}
	for _, g := range all {
		for _, c := range g.m.Chunks {
			if wanted[c.ID] {
				continue
			}
			wanted[c.ID] = true
			if ok, _ := st.Has(ctx, c.ID); ok {
				continue
			}
			wants = append(wants, remotestore.ChunkWant(c.ID))
			total += int64(c.Len)
		}
	}
	pk := st.NewPacker()
	defer pk.Close()
	var done atomic.Int64
	badChunk := map[cas.ID]error{}
	err = r.Read(ctx, wants, remotestore.ReadOptions{
		Workers: opts.Workers,
		Progress: func(n int64) {
			if opts.Progress != nil {
				opts.Progress(Progress{Done: min(done.Add(n), total), Total: total})
			}
		},
		OnFail: func(w remotestore.Want, err error) { badChunk[w.ID] = err },
	}, func(o remotestore.Object) error {
		stats.Chunks++
		stats.Bytes += int64(len(o.Stored))
		return pk.Add(o.ID, o.Kind, o.Entry.Method, int(o.Entry.RawLen), o.Stored)
	})
	if err != nil {
		return stats, err
	}
	// Chunks first, durable; then the manifests, which make files whole.
	if err := pk.Flush(ctx); err != nil {
		return stats, err
	}
	for _, g := range all {
		if err := chunksFailed(g.m, badChunk); err != nil {
			if errors.Is(err, ErrRemoteMissing) {
				err = fmt.Errorf("%w (%v)", r.Missing(g.p), err)
			}
			failed.add(g.p, err)
			continue
		}
		switch {
		case g.obj != nil && !g.p.V1:
			if err := pk.Add(g.obj.ID, cas.KindManifest, g.obj.Entry.Method, int(g.obj.Entry.RawLen), g.obj.Stored); err != nil {
				return stats, err
			}
		case g.p.V1:
			// Nothing binds this chunk list to the pointer: keep it only
			// if the file it makes hashes to the oid.
			if err := filer.WriteChunks(ctx, g.m, st, io.Discard, filer.Options{}); err != nil {
				failed.add(g.p, fmt.Errorf("file %s from %s: %w", g.p.OID.Short(), r, err))
				continue
			}
			raw := g.m.EncodeV1()
			stored, method := st.Codec().Compress(nil, raw)
			if err := pk.Add(cas.ManifestID(g.p.OID), cas.KindManifest, method, len(raw), stored); err != nil {
				return stats, err
			}
		}
		stats.Files++
	}
	if err := pk.Flush(ctx); err != nil {
		return stats, err
	}
	if len(failed.Files) > 0 {
		return stats, failed
	}
	return stats, nil
}

// chunksFailed returns the failure of the first chunk of m in bad.
func chunksFailed(m *manifest.Manifest, bad map[cas.ID]error) error {
	if len(bad) == 0 {
		return nil
	}
	for _, c := range m.Chunks {
		if err, ok := bad[c.ID]; ok {
			return err
		}
	}
	return nil
}

// FetchError lists the files a Fetch could not get, with why.
type FetchError struct {
	Files []pointer.Pointer
	Errs  []error // parallel to Files
}

func (e *FetchError) add(p pointer.Pointer, err error) {
	e.Files = append(e.Files, p)
	e.Errs = append(e.Errs, err)
}

func (e *FetchError) Error() string {
	if len(e.Files) == 1 {
		return e.Errs[0].Error()
	}
	return fmt.Sprintf("%d files could not be fetched; the first, oid %s: %v", len(e.Files), e.Files[0].OID.Short(), e.Errs[0])
}

// Unwrap gives the errors of the files, for errors.Is.
func (e *FetchError) Unwrap() []error { return e.Errs }

// Failed returns the error for the file of oid, or nil. It looks through
// every file: to look up many, use ByOID.
func (e *FetchError) Failed(oid cas.ID) error {
	for i, p := range e.Files {
		if p.OID == oid {
			return e.Errs[i]
		}
	}
	return nil
}

// ByOID returns the error of each file that could not be fetched, by oid.
func (e *FetchError) ByOID() map[cas.ID]error {
	m := make(map[cas.ID]error, len(e.Files))
	for i, p := range e.Files {
		m[p.OID] = e.Errs[i]
	}
	return m
}

// verifyLocal reads back every object st has of p, drops damaged copies,
// and reports whether p is still whole.
func verifyLocal(ctx context.Context, st *store.Store, p pointer.Pointer, opts Options) (bool, error) {
	if mid, ok := manifest.ObjectID(p); ok {
		if _, err := st.Get(ctx, mid); errors.Is(err, cas.ErrCorrupt) {
			if _, err := st.DropCorrupt(ctx, mid); err != nil {
				return false, err
			}
			return false, nil
		}
	}
	m, err := filer.Manifest(ctx, st, p)
	if err != nil {
		return false, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	var damaged atomic.Bool
	for _, c := range m.Chunks {
		g.Go(func() error {
			_, err := st.Get(gctx, c.ID)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, cas.ErrCorrupt):
				damaged.Store(true)
				_, err = st.DropCorrupt(gctx, c.ID)
				return err
			case errors.Is(err, cas.ErrNotFound):
				damaged.Store(true)
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return false, err
	}
	return !damaged.Load(), nil
}

// Repair replaces damaged or missing objects of the local store with
// intact copies from r: each of wants is dropped from st if damaged, then
// read from r and stored. It is what a reader that met a damaged object
// calls before reading it again.
func Repair(ctx context.Context, st *store.Store, r *remotestore.Store, wants []remotestore.Want) error {
	for _, w := range wants {
		if _, err := st.DropCorrupt(ctx, w.ID); err != nil {
			return err
		}
	}
	pk := st.NewPacker()
	defer pk.Close()
	err := r.Read(ctx, wants, remotestore.ReadOptions{}, func(o remotestore.Object) error {
		return pk.Add(o.ID, o.Kind, o.Entry.Method, int(o.Entry.RawLen), o.Stored)
	})
	if err != nil {
		return err
	}
	return pk.Flush(ctx)
}

// VerifyFile reads the whole file p points to from r, checking its chunk
// list against p, every chunk, and the content against the oid, without
// storing anything.
func VerifyFile(ctx context.Context, r *remotestore.Store, p pointer.Pointer, opts Options) error {
	if p.Size == 0 {
		return nil
	}
	m, err := r.Manifest(ctx, p)
	if err != nil {
		return err
	}
	wants := make([]remotestore.Want, len(m.Chunks))
	for i, c := range m.Chunks {
		wants[i] = remotestore.ChunkWant(c.ID)
	}
	h := blake3.New()
	i := 0
	err = r.Read(ctx, wants, remotestore.ReadOptions{Ordered: true, Workers: opts.Workers}, func(o remotestore.Object) error {
		if len(o.Raw) != int(m.Chunks[i].Len) {
			return fmt.Errorf("chunk %s: %w: %d bytes, manifest says %d", o.ID.Short(), cas.ErrCorrupt, len(o.Raw), m.Chunks[i].Len)
		}
		i++
		h.Write(o.Raw)
		return nil
	})
	if err != nil {
		return err
	}
	var sum cas.ID
	h.Sum(sum[:0])
	if sum != p.OID {
		return fmt.Errorf("file %s on %s: %w: chunks reassemble to %s", p.OID.Short(), r, filer.ErrMismatch, sum.Short())
	}
	return nil
}

// VerifyRemote checks that r holds, intact, what the files ptrs point to
// need: their chunk lists (checked against the pointers) and every chunk,
// each read back and checked against its id, with reads coalesced across
// files. (A version 1 pointer's list binds nothing: its file is read whole
// and checked against its oid.) It returns the files with problems and
// why; a nil map means all is well. An error is returned only when the
// check could not run.
func VerifyRemote(ctx context.Context, r *remotestore.Store, ptrs []pointer.Pointer, opts Options) (map[cas.ID]error, error) {
	opts = opts.norm()
	files := distinct(ptrs)
	bad := map[cas.ID]error{}
	byManifest := map[cas.ID]pointer.Pointer{}
	for _, p := range files {
		if w, ok := remotestore.ManifestWant(p); ok {
			byManifest[w.ID] = p
		}
	}
	var mans []*manifest.Manifest
	var owners []pointer.Pointer
	err := r.Manifests(ctx, files, remotestore.ReadOptions{
		Workers: opts.Workers,
		OnFail: func(w remotestore.Want, err error) {
			if p, ok := byManifest[w.ID]; ok {
				bad[p.OID] = err
			}
		},
	}, func(p pointer.Pointer, m *manifest.Manifest, _ *remotestore.Object) error {
		if p.V1 {
			if err := VerifyFile(ctx, r, p, opts); err != nil {
				bad[p.OID] = err
			}
			return nil
		}
		mans, owners = append(mans, m), append(owners, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var wants []remotestore.Want
	for _, m := range mans {
		for _, c := range m.Chunks {
			wants = append(wants, remotestore.ChunkWant(c.ID))
		}
	}
	badChunk := map[cas.ID]error{}
	err = r.Read(ctx, wants, remotestore.ReadOptions{
		Workers: opts.Workers,
		OnFail:  func(w remotestore.Want, err error) { badChunk[w.ID] = err },
	}, func(remotestore.Object) error { return nil })
	if err != nil {
		return nil, err
	}
	for i, m := range mans {
		if err := chunksFailed(m, badChunk); err != nil {
			bad[owners[i].OID] = err
		}
	}
	if len(bad) == 0 {
		return nil, nil
	}
	return bad, nil
}
