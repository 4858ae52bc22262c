package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"golang.org/x/sync/errgroup"
)

// ErrLocalMissing is wrapped when a file to push is not in the local store.
var ErrLocalMissing = errors.New("not in the local store")

// Options tune transfers. The zero value is usable.
type Options struct {
	// Workers bounds concurrent requests; 0 means 8.
	Workers int
	// PackSize is the size at which upload packs are sealed; 0 means
	// store.DefaultPackSize.
	PackSize int64
	// Progress, if set, is called (from any goroutine, possibly
	// concurrently) as bytes move.
	Progress func(Progress)
}

// Progress reports a transfer's advance.
type Progress struct {
	Done, Total int64 // payload bytes
}

func (o Options) norm() Options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.PackSize <= 0 {
		o.PackSize = store.DefaultPackSize
	}
	return o
}

// Stats counts what a transfer did.
type Stats struct {
	Files        int   // files transferred
	FilesPresent int   // files the other side already had
	Chunks       int   // chunks transferred
	Packs        int   // packs uploaded (push)
	Bytes        int64 // payload bytes sent or received (stored, compressed size)
	Requests     int64 // requests made to the remote
}

// Push uploads to r what the files ptrs point to need and r lacks: the
// chunks (in new packs, each published before its index) and then the
// files' located manifests. It fails with an error wrapping
// ErrLocalMissing, before uploading anything, if the local store cannot
// provide a file.
func Push(ctx context.Context, st *store.Store, r *Remote, ptrs []pointer.Pointer, opts Options) (stats Stats, err error) {
	opts = opts.norm()
	start := r.Requests()
	defer func() { stats.Requests = r.Requests() - start }()
	files, err := filesLacking(ctx, r, ptrs, opts)
	if err != nil {
		return stats, err
	}
	stats.FilesPresent = len(distinct(ptrs)) - len(files)
	if len(files) == 0 {
		return stats, nil
	}
	// Every file must be whole locally before anything is sent.
	mans := make([]*manifest.Manifest, len(files))
	for i, p := range files {
		m, err := localManifest(ctx, st, p)
		if err != nil {
			return stats, err
		}
		mans[i] = m
	}
	if err := r.SyncIndexes(ctx); err != nil {
		return stats, err
	}
	var need []cas.ID
	seen := map[cas.ID]bool{}
	var total int64
	for _, m := range mans {
		for _, c := range m.Chunks {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			if _, ok := r.locate(c.ID); !ok {
				need = append(need, c.ID)
				total += int64(c.Len)
			}
		}
	}
	if err := uploadChunks(ctx, st, r, need, total, opts, &stats); err != nil {
		return stats, err
	}
	// Manifests last: each names only packs whose indexes are published.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	for _, m := range mans {
		g.Go(func() error {
			l := &manifest.Located{Manifest: *m, Locs: make([]manifest.Location, len(m.Chunks))}
			for i, c := range m.Chunks {
				loc, ok := r.locate(c.ID)
				if !ok {
					return fmt.Errorf("push %s: chunk %s is not on %s after upload", m.OID.Short(), c.ID.Short(), r)
				}
				l.Locs[i] = loc
			}
			b := l.Encode()
			if err := putBytes(gctx, r.b, manifestName(m.OID), b); err != nil {
				return fmt.Errorf("upload manifest of %s to %s: %w", m.OID.Short(), r, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return stats, err
	}
	stats.Files = len(files)
	return stats, nil
}

// filesLacking returns the distinct non-empty files of ptrs that r has no
// manifest for.
func filesLacking(ctx context.Context, r *Remote, ptrs []pointer.Pointer, opts Options) ([]pointer.Pointer, error) {
	all := distinct(ptrs)
	has := make([]bool, len(all))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	for i, p := range all {
		g.Go(func() error {
			ok, err := r.HasFile(ctx, p.OID)
			has[i] = ok
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []pointer.Pointer
	for i, p := range all {
		if !has[i] {
			out = append(out, p)
		}
	}
	return out, nil
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

// localManifest returns the manifest of p from st, checking that every
// chunk is present.
func localManifest(ctx context.Context, st *store.Store, p pointer.Pointer) (*manifest.Manifest, error) {
	mid := cas.ManifestID(p.OID)
	raw, err := st.Get(ctx, mid)
	if errors.Is(err, cas.ErrNotFound) {
		return nil, fmt.Errorf("%w: the data of oid %s (%d bytes)", ErrLocalMissing, p.OID, p.Size)
	}
	if err != nil {
		return nil, err
	}
	m, err := manifest.Decode(raw, mid)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w: %v", p.OID.Short(), cas.ErrCorrupt, err)
	}
	if m.Size != p.Size {
		return nil, fmt.Errorf("manifest of %s: %w: %d bytes, pointer says %d", p.OID.Short(), cas.ErrCorrupt, m.Size, p.Size)
	}
	for _, c := range m.Chunks {
		if ok, _ := st.Has(ctx, c.ID); !ok {
			return nil, fmt.Errorf("%w: chunk %s of oid %s", ErrLocalMissing, c.ID.Short(), p.OID)
		}
	}
	return m, nil
}

// uploadChunks copies the chunks need from st into new packs and uploads
// them, up to opts.Workers packs at a time (so at most that many temporary
// packs exist on disk).
func uploadChunks(ctx context.Context, st *store.Store, r *Remote, need []cas.ID, total int64, opts Options, stats *Stats) error {
	if len(need) == 0 {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	var done atomic.Int64
	var w *pack.Writer
	var f *os.File
	var raw int64
	seal := func() error {
		id, idx, err := w.Finish()
		tmp := f
		w, f = nil, nil
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return err
		}
		n := raw
		raw = 0
		stats.Packs++
		g.Go(func() error {
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			if err := uploadPack(ctx, r, id, tmp, idx); err != nil {
				return err
			}
			if opts.Progress != nil {
				opts.Progress(Progress{Done: done.Add(n), Total: total})
			}
			return nil
		})
		return nil
	}
	for _, id := range need {
		if err := ctx.Err(); err != nil {
			break
		}
		e, stored, err := st.GetStored(ctx, id)
		if err != nil {
			g.Go(func() error { return fmt.Errorf("read chunk %s for upload: %w", id.Short(), err) })
			break
		}
		if w == nil {
			if f, err = os.CreateTemp(st.TempDir(), "upload-*.pack"); err != nil {
				g.Go(func() error { return fmt.Errorf("create upload pack: %w", err) })
				break
			}
			w = pack.NewWriter(f)
		}
		if err := w.Add(id, e.Kind, e.Method, int(e.RawLen), stored); err != nil {
			g.Go(func() error { return err })
			break
		}
		stats.Chunks++
		stats.Bytes += int64(len(stored))
		raw += int64(e.RawLen)
		if w.Size() >= opts.PackSize {
			if err := seal(); err != nil {
				g.Go(func() error { return err })
				break
			}
		}
	}
	if w != nil {
		if ctx.Err() == nil {
			if err := seal(); err != nil {
				g.Go(func() error { return err })
			}
		} else {
			f.Close()
			os.Remove(f.Name())
		}
	}
	return g.Wait()
}

// uploadPack publishes one pack: the pack, then its index.
func uploadPack(ctx context.Context, r *Remote, id cas.ID, f *os.File, idx []byte) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := r.b.Put(ctx, packName(id), f, fi.Size(), remote.PutOptions{ContentType: "application/octet-stream"}); err != nil {
		return fmt.Errorf("upload pack %s to %s: %w", id.Short(), r, err)
	}
	if err := putBytes(ctx, r.b, indexName(id), idx); err != nil {
		return fmt.Errorf("upload index of pack %s to %s: %w", id.Short(), r, err)
	}
	ix, err := pack.ParseIndex(idx)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(r.cachePath(id), idx); err != nil {
		return fmt.Errorf("cache index of pack %s: %w", id.Short(), err)
	}
	r.addIndex(id, ix)
	return nil
}

func putBytes(ctx context.Context, b remote.Backend, name string, data []byte) error {
	return b.Put(ctx, name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{ContentType: "application/octet-stream"})
}
