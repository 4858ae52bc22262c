package remotestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// Coalescing: objects of one pack closer than MaxGap are read with one
// request, as long as the bytes fetched and decoded for it stay under
// maxSpan.
const (
	MaxGap  = 256 << 10
	maxSpan = 16 << 20
)

// Defaults of ReadOptions.
const (
	DefaultWorkers = 8
	DefaultMemory  = 64 << 20
)

// Want is an object to read.
type Want struct {
	ID   cas.ID
	Kind cas.Kind
	// MaxRaw bounds a manifest's raw length (manifest.MaxEncodedLen of
	// its file's size); a record claiming more is not read. Chunks are
	// bounded by the format.
	MaxRaw int64
}

// ChunkWant is the Want of chunk id.
func ChunkWant(id cas.ID) Want { return Want{ID: id, Kind: cas.KindChunk} }

// ManifestWant is the Want of the manifest of the file p points to, and
// false if the file has none.
func ManifestWant(p pointer.Pointer) (Want, bool) {
	id, ok := manifest.ObjectID(p)
	return Want{ID: id, Kind: cas.KindManifest, MaxRaw: manifest.MaxEncodedLen(p.Size)}, ok
}

// ReadOptions tune Read. The zero value is usable.
type ReadOptions struct {
	// Ordered delivers objects in the order asked for, and coalesces
	// only neighbours in that order (a reader streaming one file);
	// otherwise objects come as their reads complete, and everything
	// close together in a pack is coalesced (a fetch of many files).
	Ordered bool
	// Workers bounds ranged reads in flight; 0 means DefaultWorkers.
	Workers int
	// Memory bounds the bytes fetched and decoded but not yet handed to
	// fn; 0 means DefaultMemory.
	Memory int64
	// OnFail, if set, is told of each object that no copy could be read
	// of (missing, or every copy damaged), and Read goes on with the
	// others; without it the first such object ends Read with its error.
	// It is called from Read's goroutine.
	OnFail func(w Want, err error)
	// Progress, if set, is called with the number of bytes of each
	// ranged read once it has arrived, from any goroutine.
	Progress func(n int64)
}

// Object is a verified object read from the remote. Its slices are valid
// only during the call to Read's fn.
type Object struct {
	Want
	Entry  pack.Entry // the index record of the copy read; Offset is in its remote pack
	Pack   cas.ID
	Stored []byte // as stored in the pack
	Raw    []byte // decoded and checked against ID
}

// item is one object to read and the copies it may be read from.
type item struct {
	want Want
	locs []Loc
}

// span is one ranged read: objects of one pack, by their primary copies.
type span struct {
	pack       cas.ID
	start, end int64
	items      []*item
	cost       int64 // bytes fetched plus bytes decoded

	objs   []Object
	failed []failure
	err    error
	done   chan struct{}
}

type failure struct {
	want Want
	err  error
}

// Read reads the objects wants lists and calls fn with each, one call at
// a time, from the calling goroutine: in order with opts.Ordered, else as
// they arrive (and once per distinct id). See the package documentation
// for what is checked. An object with no good copy is reported to
// opts.OnFail, or ends Read with an error wrapping ErrMissing (no copy)
// or cas.ErrCorrupt (no copy passed the checks). An error from fn ends
// Read and is returned as is.
func (s *Store) Read(ctx context.Context, wants []Want, opts ReadOptions, fn func(Object) error) error {
	if len(wants) == 0 {
		return nil
	}
	if err := s.ensureSynced(ctx); err != nil {
		return err
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Memory <= 0 {
		opts.Memory = DefaultMemory
	}
	fail := func(w Want, err error) error {
		if opts.OnFail == nil {
			return err
		}
		opts.OnFail(w, err)
		return nil
	}
	var items []*item
	seen := map[cas.ID]bool{}
	for _, w := range wants {
		if !opts.Ordered {
			if seen[w.ID] {
				continue
			}
			seen[w.ID] = true
		}
		locs := s.usable(w)
		if len(locs) == 0 {
			if err := fail(w, fmt.Errorf("%w: %s %s is not on %s", ErrMissing, w.Kind, w.ID.Short(), s)); err != nil {
				return err
			}
			continue
		}
		items = append(items, &item{want: w, locs: locs})
	}
	spans := plan(items, opts.Ordered, min(maxSpan, opts.Memory))

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := semaphore.NewWeighted(opts.Memory)
	arrived := make(chan *span, len(spans))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers + 1) // the feeder, and the readers it starts
	g.Go(func() error {
		for _, sp := range spans {
			if err := sem.Acquire(gctx, min(sp.cost, opts.Memory)); err != nil {
				return err
			}
			g.Go(func() error {
				s.readSpan(gctx, sp, opts.Progress)
				close(sp.done)
				arrived <- sp // cannot block: room for every span
				return nil
			})
		}
		return nil
	})
	deliver := func(sp *span) error {
		defer sem.Release(min(sp.cost, opts.Memory))
		if sp.err != nil {
			return sp.err
		}
		for _, f := range sp.failed {
			if err := fail(f.want, f.err); err != nil {
				return err
			}
		}
		for _, o := range sp.objs {
			if err := fn(o); err != nil {
				return err
			}
		}
		return nil
	}
	// Readers keep their errors in their span, so the group only ends
	// early when the caller's ctx does.
	var err error
	for i := 0; i < len(spans) && err == nil; i++ {
		sp := spans[i]
		if opts.Ordered {
			select {
			case <-sp.done:
			case <-gctx.Done():
				sp = nil
			}
		} else {
			sp = nil
			select {
			case sp = <-arrived:
			case <-gctx.Done():
			}
		}
		if sp == nil {
			err = fmt.Errorf("read from %s: %w", s, parent.Err())
			break
		}
		err = deliver(sp)
	}
	cancel()
	g.Wait()
	return err
}

// usable returns the copies of w whose records fit what w may be.
func (s *Store) usable(w Want) []Loc {
	locs := s.Locate(w.ID)
	out := locs[:0]
	for _, l := range locs {
		if l.Entry.Kind != w.Kind || (w.MaxRaw > 0 && int64(l.Entry.RawLen) > w.MaxRaw) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// plan cuts the items' primary copies into ranged reads.
func plan(items []*item, ordered bool, limit int64) []*span {
	newSpan := func(it *item) *span {
		e := it.locs[0].Entry
		return &span{pack: it.locs[0].Pack, start: e.Offset, end: e.End(), items: []*item{it}, cost: e.End() - e.Offset + int64(e.RawLen), done: make(chan struct{})}
	}
	join := func(sp *span, it *item) bool {
		e := it.locs[0].Entry
		if it.locs[0].Pack != sp.pack || e.Offset < sp.end || e.Offset-sp.end > MaxGap {
			return false
		}
		cost := e.End() - sp.start + sp.cost - (sp.end - sp.start) + int64(e.RawLen)
		if cost > limit {
			return false
		}
		sp.end, sp.cost = e.End(), cost
		sp.items = append(sp.items, it)
		return true
	}
	if !ordered {
		items = slices.Clone(items)
		slices.SortFunc(items, func(a, b *item) int {
			if c := a.locs[0].Pack.Compare(b.locs[0].Pack); c != 0 {
				return c
			}
			return int(a.locs[0].Entry.Offset - b.locs[0].Entry.Offset)
		})
	}
	var out []*span
	for _, it := range items {
		if n := len(out); n > 0 && join(out[n-1], it) {
			continue
		}
		out = append(out, newSpan(it))
	}
	return out
}

// readSpan fetches one span and checks its objects; an object whose copy
// there fails is read from its other copies, one by one.
func (s *Store) readSpan(ctx context.Context, sp *span, progress func(int64)) {
	buf, err := s.fetch(ctx, sp.pack, sp.start, sp.end)
	if err != nil && !unusable(err) {
		sp.err = err
		return
	}
	if err == nil && progress != nil {
		progress(sp.end - sp.start)
	}
	for _, it := range sp.items {
		var o Object
		cerr := err
		if cerr == nil {
			l := it.locs[0]
			o, cerr = s.check(buf[l.Entry.Offset-sp.start:], it.want, l)
		}
		for _, l := range it.locs[1:] {
			if cerr == nil {
				break
			}
			if ctx.Err() != nil {
				sp.err = ctx.Err()
				return
			}
			b, ferr := s.fetch(ctx, l.Pack, l.Entry.Offset, l.Entry.End())
			switch {
			case ferr == nil:
				if progress != nil {
					progress(int64(len(b)))
				}
				o, cerr = s.check(b, it.want, l)
			case unusable(ferr):
				cerr = ferr
			default:
				sp.err = ferr
				return
			}
		}
		if cerr != nil {
			sp.failed = append(sp.failed, failure{it.want, fmt.Errorf("%s %s on %s: %w", it.want.Kind, it.want.ID.Short(), s, cerr)})
			continue
		}
		sp.objs = append(sp.objs, o)
	}
}

// unusable reports whether a read error means the copy cannot be had (so
// another copy may be tried) rather than that the remote failed.
func unusable(err error) bool {
	return notExist(err) || errors.Is(err, remote.ErrRange) || errors.Is(err, cas.ErrCorrupt) || errors.Is(err, io.ErrUnexpectedEOF)
}

// fetch reads [start, end) of a pack.
func (s *Store) fetch(ctx context.Context, pid cas.ID, start, end int64) ([]byte, error) {
	rc, err := s.b.Get(ctx, packName(pid), start, end-start, remote.GetOptions{})
	if err != nil {
		if notExist(err) {
			return nil, fmt.Errorf("%w: pack %s: %v", ErrMissing, pid.Short(), err)
		}
		return nil, fmt.Errorf("read %s [%d, %d) from %s: %w", packName(pid), start, end, s, err)
	}
	defer rc.Close()
	buf := make([]byte, end-start)
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s is shorter than its index says", cas.ErrCorrupt, packName(pid))
		}
		return nil, fmt.Errorf("read %s [%d, %d) from %s: %w", packName(pid), start, end, s, err)
	}
	return buf, nil
}

// check parses the entry at the start of b, which the copy l says holds
// w, and verifies it: header as indexed, decoded once, checked against
// its id.
func (s *Store) check(b []byte, w Want, l Loc) (Object, error) {
	e, err := pack.ParseEntryHeader(b, l.Entry.Offset)
	if err != nil {
		return Object{}, fmt.Errorf("%w: %v", cas.ErrCorrupt, err)
	}
	if e != l.Entry {
		return Object{}, fmt.Errorf("%w: entry header at offset %d of pack %s does not match its index", cas.ErrCorrupt, e.Offset, l.Pack.Short())
	}
	stored := b[pack.EntryHeaderSize : e.End()-e.Offset]
	raw, err := s.codec.Decompress(nil, stored, e.Method, int(e.RawLen))
	if err != nil {
		return Object{}, fmt.Errorf("%w: %v", cas.ErrCorrupt, err)
	}
	if err := store.CheckObject(w.ID, w.Kind, raw); err != nil {
		return Object{}, fmt.Errorf("in pack %s at offset %d: %w", l.Pack.Short(), e.Offset, err)
	}
	return Object{Want: w, Entry: e, Pack: l.Pack, Stored: stored, Raw: raw}, nil
}

// Manifest returns the chunk list of the file p points to, from the
// remote, checked against p (manifest.ForPointer): for a version 2
// pointer it is bound to the pointer. For a version 1 pointer it is not,
// and the caller must check the whole file against the oid before it
// trusts the list; such a manifest is looked for in the packs, then as a
// located manifest of layout 1.
func (s *Store) Manifest(ctx context.Context, p pointer.Pointer) (*manifest.Manifest, error) {
	var out *manifest.Manifest
	err := s.Manifests(ctx, []pointer.Pointer{p}, ReadOptions{}, func(_ pointer.Pointer, m *manifest.Manifest, _ *Object) error {
		out = m
		return nil
	})
	return out, err
}

// Manifests fetches, with coalesced reads, the chunk lists of the files
// ptrs point to (each distinct file once), checks each against its
// pointer, and calls fn with it, from the calling goroutine. obj is the
// manifest object read (nil for files of one chunk or none, and for a
// located manifest of layout 1), for callers that store it.
func (s *Store) Manifests(ctx context.Context, ptrs []pointer.Pointer, opts ReadOptions, fn func(p pointer.Pointer, m *manifest.Manifest, obj *Object) error) error {
	byID := map[cas.ID][]pointer.Pointer{}
	var wants []Want
	for _, p := range ptrs {
		w, ok := ManifestWant(p)
		if !ok {
			m := &manifest.Manifest{OID: p.OID}
			if p.SingleChunk() {
				m = manifest.Single(p.OID, p.Size)
			}
			if err := fn(p, m, nil); err != nil {
				return err
			}
			continue
		}
		if _, dup := byID[w.ID]; !dup {
			wants = append(wants, w)
		}
		byID[w.ID] = append(byID[w.ID], p)
	}
	var legacy []pointer.Pointer
	var firstErr error
	onFail := opts.OnFail
	opts.Ordered = false
	opts.OnFail = func(w Want, err error) {
		ps := byID[w.ID]
		if errors.Is(err, ErrMissing) && ps[0].V1 {
			legacy = append(legacy, ps[0]) // perhaps a remote of layout 1
			return
		}
		if errors.Is(err, ErrMissing) {
			err = s.missing(ps[0])
		} else {
			err = fmt.Errorf("manifest of %s: %w", ps[0].OID.Short(), err)
		}
		if onFail != nil {
			onFail(w, err)
		} else if firstErr == nil {
			firstErr = err
		}
	}
	err := s.Read(ctx, wants, opts, func(o Object) error {
		for _, p := range byID[o.ID] {
			m, err := manifest.ForPointer(o.Raw, p)
			if err != nil {
				return fmt.Errorf("manifest of %s on %s: %w", p.OID.Short(), s, err)
			}
			if err := fn(p, m, &o); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = firstErr
	}
	if err != nil {
		return err
	}
	for _, p := range legacy {
		m, err := s.located(ctx, p)
		if err != nil {
			if onFail != nil {
				w, _ := ManifestWant(p)
				onFail(w, err)
				continue
			}
			return err
		}
		if err := fn(p, m, nil); err != nil {
			return err
		}
	}
	return nil
}

// missing is the error for a file p whose data the remote does not have.
func (s *Store) missing(p pointer.Pointer) error {
	return fmt.Errorf("%w: %s has no data for oid %s (was it pushed from the clone that committed it?)", ErrMissing, s, p.OID.Short())
}

// Missing is the error for a file p whose data (or part of it) the remote
// does not have, wrapping ErrMissing.
func (s *Store) Missing(p pointer.Pointer) error { return s.missing(p) }

// located reads the located manifest of layout 1 of a version 1 pointer.
func (s *Store) located(ctx context.Context, p pointer.Pointer) (*manifest.Manifest, error) {
	b, err := s.getAll(ctx, manifestName(p.OID), manifest.MaxLocatedLen(p.Size))
	if notExist(err) {
		return nil, s.missing(p)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch manifest of %s from %s: %w", p.OID.Short(), s, err)
	}
	l, err := manifest.DecodeLocated(b, p.OID)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s on %s: %w: %v", p.OID.Short(), s, cas.ErrCorrupt, err)
	}
	if l.Size != p.Size {
		return nil, fmt.Errorf("manifest of %s on %s: %w: %d bytes, pointer says %d", p.OID.Short(), s, cas.ErrCorrupt, l.Size, p.Size)
	}
	return &l.Manifest, nil
}
