package transfer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"golang.org/x/sync/errgroup"
)

// ErrLocalMissing is wrapped when a file to push is not whole in the local
// store.
var ErrLocalMissing = errors.New("not in the local store")

// Options tune transfers. The zero value is usable.
type Options struct {
	// Workers bounds concurrent requests; 0 means 8.
	Workers int
	// PackSize is the size at which upload packs are sealed; 0 means
	// remotestore.DefaultPackSize.
	PackSize int64
	// Progress, if set, is called (from any goroutine, possibly
	// concurrently) as bytes move.
	Progress func(Progress)
	// Repair (Push) reads back what the remote has of the files first,
	// and uploads again what no copy there holds intact.
	Repair bool
	// VerifyLocal (Fetch) reads back what the local store has of the
	// files, and fetches again what is damaged.
	VerifyLocal bool
}

// Progress reports a transfer's advance.
type Progress struct {
	Done, Total int64 // bytes
}

func (o Options) norm() Options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	return o
}

// Stats counts what a transfer did.
type Stats struct {
	Files        int   // files transferred (anything of them)
	FilesPresent int   // files the other side already had whole
	Chunks       int   // chunks transferred
	Packs        int   // packs uploaded (push)
	Bytes        int64 // payload bytes sent or received (stored, compressed size)
	Requests     int64 // requests made to the remote
	Repaired     int   // objects uploaded again because the remote's copies were damaged (push with Repair)
}

// Push uploads to r what the files ptrs point to need and r lacks. It
// fails with an error wrapping ErrLocalMissing, before uploading anything,
// if the local store cannot provide a file whole.
func Push(ctx context.Context, st *store.Store, r *remotestore.Store, ptrs []pointer.Pointer, opts Options) (stats Stats, err error) {
	opts = opts.norm()
	start := r.Requests()
	defer func() { stats.Requests = r.Requests() - start }()
	files := distinct(ptrs)
	if len(files) == 0 {
		return stats, nil
	}
	syncIndexes := r.Sync
	if opts.Repair {
		syncIndexes = r.SyncFresh
	}
	if err := syncIndexes(ctx); err != nil {
		return stats, err
	}
	if err := r.CheckCondemned(); err != nil {
		return stats, err
	}
	if opts.Repair {
		n, err := r.RepairIndexes(ctx)
		if err != nil {
			return stats, err
		}
		stats.Repaired += n
	}
	// A file the remote has whole needs nothing, and need not be local
	// (a clone made without data pushes commits whose trees name files it
	// never fetched). Every other file must be whole locally before
	// anything is sent. Files are taken one at a time: only the ids of
	// what must go up are kept (a push of a million files holds no
	// million chunk lists).
	bad := map[cas.ID]bool{}
	onRemote := func(id cas.ID) bool { return !bad[id] && r.Has(id) }
	type object struct {
		id   cas.ID
		kind cas.Kind
	}
	var need, manifests []object
	queued := map[cas.ID]struct{}{}
	var total int64
	queue := func(id cas.ID, kind cas.Kind) bool {
		if _, ok := queued[id]; ok {
			return true
		}
		if onRemote(id) {
			return false
		}
		queued[id] = struct{}{}
		if kind == cas.KindManifest {
			manifests = append(manifests, object{id, kind})
		} else {
			need = append(need, object{id, kind})
		}
		if e, ok := st.Lookup(id); ok {
			total += pack.EntryHeaderSize + int64(e.StoredLen)
		}
		return true
	}
	take := func(p pointer.Pointer, m *manifest.Manifest) {
		sent := false
		for _, c := range m.Chunks {
			sent = queue(c.ID, cas.KindChunk) || sent
		}
		if mid, ok := manifest.ObjectID(p); ok {
			sent = queue(mid, cas.KindManifest) || sent
		}
		if sent {
			stats.Files++
		} else {
			stats.FilesPresent++
		}
	}
	var local []pointer.Pointer
	var mans []*manifest.Manifest // with Repair only
	for _, p := range files {
		there := remoteHasFile(r, p)
		if there && !opts.Repair {
			stats.FilesPresent++
			continue
		}
		m, err := localManifest(ctx, st, p)
		if err != nil {
			if there { // repair: nothing here to repair it with
				stats.FilesPresent++
				continue
			}
			return stats, err
		}
		if !opts.Repair {
			take(p, m)
			continue
		}
		local = append(local, p)
		mans = append(mans, m)
	}
	if opts.Repair {
		var err error
		if bad, err = damagedOnRemote(ctx, r, local, mans, opts); err != nil {
			return stats, err
		}
		stats.Repaired += len(bad)
		for i, p := range local {
			take(p, mans[i])
		}
	}
	if len(need)+len(manifests) == 0 {
		return stats, nil
	}
	var mu sync.Mutex // guards done
	var done int64
	u := r.NewUpload(ctx, remotestore.UploadOptions{
		TempDir:  st.TempDir(),
		PackSize: opts.PackSize,
		Workers:  max(1, opts.Workers/2), // packs in flight (each a temporary file)
		Progress: func(n int64) {
			if opts.Progress == nil {
				return
			}
			mu.Lock()
			done += n
			d := min(done, total)
			mu.Unlock()
			opts.Progress(Progress{Done: d, Total: total})
		},
	})
	// Objects are read (and S2 chunks recompressed with zstd) by workers,
	// and added to the upload from this goroutine in the order asked for,
	// so that a file's chunks stay together in the remote's packs (one
	// ranged read for a run of them).
	type job struct {
		o      object
		method compress.Method
		rawLen int
		stored []byte
		err    error
		done   chan struct{}
	}
	workers := runtime.GOMAXPROCS(0)
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan *job, 2*workers)
	order := make(chan *job, 2*workers)
	g.Go(func() error {
		defer close(jobs)
		defer close(order)
		for _, o := range append(need, manifests...) {
			j := &job{o: o, done: make(chan struct{})}
			select {
			case order <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
			jobs <- j // cannot block: jobs holds as many as order
		}
		return nil
	})
	for range workers {
		g.Go(func() error {
			for j := range jobs {
				e, stored, err := st.GetStored(gctx, j.o.id)
				if err == nil {
					j.method, j.rawLen = e.Method, int(e.RawLen)
					j.stored, j.method, err = st.Codec().Recompress(nil, stored, e.Method, j.rawLen)
				}
				j.err = err
				close(j.done)
			}
			return nil
		})
	}
	var addErr error
	stopped := false
	for j := range order {
		if addErr == nil {
			select {
			case <-j.done:
			case <-gctx.Done():
				addErr = gctx.Err()
				continue
			}
		}
		switch {
		case addErr != nil:
		case j.err != nil:
			addErr = fmt.Errorf("read %s %s for upload: %w", j.o.kind, j.o.id.Short(), j.err)
		default:
			if addErr = u.Add(j.o.id, j.o.kind, j.method, j.rawLen, j.stored); addErr == nil && j.o.kind == cas.KindChunk {
				stats.Chunks++
			}
		}
		if addErr != nil && !stopped {
			stopped = true
			err := addErr
			g.Go(func() error { return err }) // cancels the feeder and workers
		}
	}
	if err := g.Wait(); err != nil || addErr != nil {
		u.Abort()
		if addErr == nil {
			addErr = err
		}
		return stats, addErr
	}
	us, err := u.Finish()
	stats.Packs, stats.Bytes = us.Packs, us.Bytes
	if err != nil {
		return stats, err
	}
	return stats, r.WriteCatalog(ctx)
}

// OnRemote reports whether the merged index of r (as last synced) has the
// file p points to whole: its manifest (published only after its chunks),
// or its only chunk. It makes no request; the empty file is always there.
func OnRemote(r *remotestore.Store, p pointer.Pointer) bool {
	return p.Size == 0 || remoteHasFile(r, p)
}

// remoteHasFile reports whether r's index has the file p points to whole:
// its manifest (published only after its chunks), or its only chunk.
func remoteHasFile(r *remotestore.Store, p pointer.Pointer) bool {
	if id, ok := manifest.ObjectID(p); ok {
		return r.Has(id)
	}
	return r.Has(p.OID)
}

// damagedOnRemote reads back every object of the files that the remote's
// index lists, and returns those no copy of which reads back intact.
func damagedOnRemote(ctx context.Context, r *remotestore.Store, files []pointer.Pointer, mans []*manifest.Manifest, opts Options) (map[cas.ID]bool, error) {
	var wants []remotestore.Want
	for i, p := range files {
		if w, ok := remotestore.ManifestWant(p); ok && r.Has(w.ID) {
			wants = append(wants, w)
		}
		for _, c := range mans[i].Chunks {
			if r.Has(c.ID) {
				wants = append(wants, remotestore.ChunkWant(c.ID))
			}
		}
	}
	bad := map[cas.ID]bool{}
	err := r.Read(ctx, wants, remotestore.ReadOptions{
		Workers: opts.Workers,
		OnFail:  func(w remotestore.Want, err error) { bad[w.ID] = true },
	}, func(remotestore.Object) error { return nil })
	return bad, err
}

// distinct drops empty files and repeats.
func distinct(ptrs []pointer.Pointer) []pointer.Pointer {
	seen := map[cas.ID]bool{}
	var out []pointer.Pointer
	for _, p := range ptrs {
		if p.Size == 0 || seen[p.OID] {
			continue
		}
		seen[p.OID] = true
		out = append(out, p)
	}
	return out
}

// localManifest returns the chunk list of p from st, checked against p,
// after checking that every chunk is present.
func localManifest(ctx context.Context, st *store.Store, p pointer.Pointer) (*manifest.Manifest, error) {
	m, err := filer.Manifest(ctx, st, p)
	if errors.Is(err, cas.ErrNotFound) {
		return nil, fmt.Errorf("%w: the data of oid %s (%d bytes)", ErrLocalMissing, p.OID, p.Size)
	}
	if err != nil {
		return nil, err
	}
	for _, c := range m.Chunks {
		if ok, _ := st.Has(ctx, c.ID); !ok {
			return nil, fmt.Errorf("%w: chunk %s of oid %s", ErrLocalMissing, c.ID.Short(), p.OID)
		}
	}
	return m, nil
}
