package remotestore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"golang.org/x/sync/errgroup"
)

// DefaultPackSize is the size at which upload packs are sealed: the unit
// in which an interrupted push resumes (a pack not yet published is sent
// again whole). 16 MiB is also the most one coalesced read fetches, so
// readers lose nothing to smaller packs; local packs stay at 64 MiB.
const DefaultPackSize = 16 << 20

// UploadOptions tune an Upload. TempDir is required.
type UploadOptions struct {
	// TempDir holds the packs being written and uploaded.
	TempDir string
	// PackSize is the size at which packs are sealed; 0 means
	// DefaultPackSize.
	PackSize int64
	// Workers bounds the packs uploading at once (and so the temporary
	// packs on disk); 0 means 4.
	Workers int
	// Progress, if set, is called (from any goroutine) with the number of
	// bytes that went up since its last call.
	Progress func(n int64)
}

// UploadStats counts what an Upload sent.
type UploadStats struct {
	Packs, Objects int
	Bytes          int64 // stored bytes of the objects
}

// Upload writes objects into new packs and publishes them on the remote:
// each pack before its index, and manifests only after every chunk added
// before them is published (they go into the last pack, which is
// uploaded after all others). Add and Finish are called from one
// goroutine. Its error is sticky.
type Upload struct {
	s    *Store
	opts UploadOptions
	ctx  context.Context // the caller's
	g    *errgroup.Group // background uploads of full packs
	gctx context.Context // g's, done once g.Wait returns

	w         *pack.Writer
	f         *os.File
	manifests []pendingObject
	stats     UploadStats
	err       error
}

type pendingObject struct {
	id     cas.ID
	method compress.Method
	rawLen int
	stored []byte
}

// NewUpload starts an upload to s. The caller calls Finish (or Abort).
func (s *Store) NewUpload(ctx context.Context, opts UploadOptions) *Upload {
	if opts.PackSize <= 0 {
		opts.PackSize = DefaultPackSize
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	return &Upload{s: s, opts: opts, ctx: ctx, g: g, gctx: gctx}
}

// Add queues one object given by its stored bytes (valid only during the
// call). The caller has checked that they decode to an object with this
// id and kind.
func (u *Upload) Add(id cas.ID, kind cas.Kind, method compress.Method, rawLen int, stored []byte) error {
	if u.err != nil {
		return u.err
	}
	if u.gctx.Err() != nil {
		// A background upload failed, or the caller gave up.
		err := u.g.Wait()
		if err == nil {
			err = u.ctx.Err()
		}
		if err == nil {
			err = context.Canceled
		}
		return u.fail(err)
	}
	if kind == cas.KindManifest {
		u.manifests = append(u.manifests, pendingObject{id, method, rawLen, bytes.Clone(stored)})
		return nil
	}
	if err := u.add(id, kind, method, rawLen, stored); err != nil {
		return u.fail(err)
	}
	if u.w.Size() >= u.opts.PackSize || u.w.Len() >= store.MaxPackObjects {
		u.sealInBackground()
	}
	return u.err
}

func (u *Upload) add(id cas.ID, kind cas.Kind, method compress.Method, rawLen int, stored []byte) error {
	if err := u.ctx.Err(); err != nil {
		return err
	}
	if u.w == nil {
		f, err := os.CreateTemp(u.opts.TempDir, "upload-*.pack")
		if err != nil {
			return fmt.Errorf("create upload pack: %w", err)
		}
		u.f, u.w = f, pack.NewWriter(f)
	}
	if err := u.w.Add(id, kind, method, rawLen, stored); err != nil {
		return err
	}
	u.stats.Objects++
	u.stats.Bytes += int64(len(stored))
	return nil
}

func (u *Upload) fail(err error) error {
	if u.err == nil {
		u.err = err
	}
	return u.err
}

// seal finishes the current pack and returns it for uploading.
func (u *Upload) seal() (*os.File, cas.ID, []byte, error) {
	f, w := u.f, u.w
	u.f, u.w = nil, nil
	if u.s.knownPack(w.PeekID()) {
		// The same objects in the same order make the same pack: the
		// remote holds (or held) it, perhaps condemned by a prune that
		// will delete it whatever this push uploads under its name. An
		// object that nothing names makes this pack a different one.
		var filler [16]byte
		if _, err := rand.Read(filler[:]); err != nil {
			discard(f)
			return nil, cas.ID{}, nil, err
		}
		if err := w.Add(cas.Sum(filler[:]), cas.KindChunk, compress.None, len(filler), filler[:]); err != nil {
			discard(f)
			return nil, cas.ID{}, nil, err
		}
	}
	id, idx, err := w.Finish()
	if err != nil {
		discard(f)
		return nil, cas.ID{}, nil, err
	}
	u.stats.Packs++
	return f, id, idx, nil
}

func (u *Upload) sealInBackground() {
	f, id, idx, err := u.seal()
	if err != nil {
		u.fail(err)
		return
	}
	u.g.Go(func() error {
		defer discard(f)
		return u.s.uploadPack(u.gctx, id, f, idx, u.opts.Progress)
	})
}

// Finish uploads what is left, then the manifests, and returns once every
// object added is published (or the first error).
func (u *Upload) Finish() (UploadStats, error) {
	if u.err != nil {
		u.Abort()
		return u.stats, u.err
	}
	if err := u.g.Wait(); err != nil {
		u.Abort()
		return u.stats, u.fail(err)
	}
	for _, m := range u.manifests {
		if err := u.add(m.id, cas.KindManifest, m.method, m.rawLen, m.stored); err != nil {
			u.Abort()
			return u.stats, u.fail(err)
		}
	}
	u.manifests = nil
	if u.w == nil {
		return u.stats, nil
	}
	f, id, idx, err := u.seal()
	if err != nil {
		return u.stats, u.fail(err)
	}
	defer discard(f)
	if err := u.s.uploadPack(u.ctx, id, f, idx, u.opts.Progress); err != nil {
		return u.stats, u.fail(err)
	}
	return u.stats, nil
}

// Abort discards what was not uploaded yet.
func (u *Upload) Abort() {
	u.fail(errors.New("upload aborted"))
	u.g.Wait()
	if u.f != nil {
		discard(u.f)
		u.f, u.w = nil, nil
	}
}

func discard(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// uploadPack publishes one pack: the pack, then its index, which it also
// caches.
func (s *Store) uploadPack(ctx context.Context, id cas.ID, f *os.File, idx []byte, progress func(int64)) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var src io.ReaderAt = f
	if progress != nil {
		src = &progressReader{r: f, report: progress}
	}
	hash := func() ([]byte, error) {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, fi.Size())); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	if err := s.b.Put(ctx, packName(id), src, fi.Size(), remote.PutOptions{ContentType: "application/octet-stream", SHA256: hash}); err != nil {
		return fmt.Errorf("upload pack %s to %s: %w", id.Short(), s, err)
	}
	if err := s.b.Put(ctx, indexName(id), bytes.NewReader(idx), int64(len(idx)), remote.PutOptions{ContentType: "application/octet-stream"}); err != nil {
		return fmt.Errorf("upload index of pack %s to %s: %w", id.Short(), s, err)
	}
	ix, err := pack.ParseIndex(idx)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.cachePath(id), idx); err != nil {
		return fmt.Errorf("cache index of pack %s: %w", id.Short(), err)
	}
	s.addPack(id, ix)
	return nil
}

// progressReader reports the bytes read from r as they are read for the
// first time: a retried upload reads again from the start, which is not
// new progress.
type progressReader struct {
	r      io.ReaderAt
	report func(int64)
	mu     sync.Mutex // guards high
	high   int64
}

func (p *progressReader) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.r.ReadAt(b, off)
	p.mu.Lock()
	delta := off + int64(n) - p.high
	if delta > 0 {
		p.high += delta
	}
	p.mu.Unlock()
	if delta > 0 {
		p.report(delta)
	}
	return n, err
}
