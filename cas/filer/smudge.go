package filer

import (
	"context"
	"fmt"
	"io"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"
)

// ErrMismatch is wrapped when reassembled content does not match its
// pointer (wrong length or oid). It also wraps cas.ErrCorrupt.
var ErrMismatch = fmt.Errorf("%w: content does not match its pointer", cas.ErrCorrupt)

// Manifest returns the chunk list of the file p points to, checked
// against p: for a file of one chunk it is that chunk (whose id is the
// oid), otherwise the manifest from g, which must be the one the pointer
// names (see manifest.ForPointer). For a version 1 pointer the list is not
// bound to the pointer; only the whole file's hash checks it.
func Manifest(ctx context.Context, g cas.Getter, p pointer.Pointer) (*manifest.Manifest, error) {
	if p.Size == 0 {
		return &manifest.Manifest{OID: p.OID}, nil
	}
	if p.SingleChunk() {
		return manifest.Single(p.OID, p.Size), nil
	}
	mid, _ := manifest.ObjectID(p)
	raw, err := g.Get(ctx, mid)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", p.OID.Short(), err)
	}
	m, err := manifest.ForPointer(raw, p)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", p.OID.Short(), err)
	}
	return m, nil
}

type smudgeJob struct {
	c    manifest.Chunk
	buf  []byte // owned by the job, reused across chunks
	data []byte // the chunk's verified bytes, possibly in buf
	err  error
	done chan struct{}
}

// Smudge writes the content of the file p points to into w. Every chunk is
// verified before it is written, and the whole content is checked against
// p at the end: if that fails, Smudge returns an error wrapping
// ErrMismatch, and the caller must discard what was written.
func Smudge(ctx context.Context, p pointer.Pointer, g cas.Getter, w io.Writer, opts Options) error {
	if p.Size == 0 {
		return nil
	}
	m, err := Manifest(ctx, g, p)
	if err != nil {
		return err
	}
	if len(m.Chunks) <= serialChunks {
		return writeSerial(ctx, m, g, w, p.SingleChunk())
	}
	return WriteChunks(ctx, m, g, w, opts)
}

// serialChunks is the number of chunks up to which a file is written on
// the calling goroutine: for small files the pipeline's set-up costs more
// than the work.
const serialChunks = 2

// writeSerial writes m's chunks in order from the calling goroutine and
// checks the whole content against the oid, unless the file is one chunk
// of a version 2 pointer: then the chunk's own check (its id is the oid)
// is that check.
func writeSerial(ctx context.Context, m *manifest.Manifest, g cas.Getter, w io.Writer, single bool) error {
	get := func(ctx context.Context, id cas.ID) ([]byte, error) { return g.Get(ctx, id) }
	if ig, ok := g.(cas.IntoGetter); ok {
		get = func(ctx context.Context, id cas.ID) ([]byte, error) { return ig.GetInto(ctx, id, nil) }
	}
	h := blake3.New()
	for _, c := range m.Chunks {
		data, err := get(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("file %s at offset %d: %w", m.OID.Short(), c.Offset, err)
		}
		if len(data) != int(c.Len) {
			return fmt.Errorf("file %s at offset %d: chunk %s: %w: %d bytes, manifest says %d", m.OID.Short(), c.Offset, c.ID.Short(), cas.ErrCorrupt, len(data), c.Len)
		}
		if !single {
			h.Write(data)
		}
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("write content: %w", err)
		}
	}
	if single && m.Chunks[0].ID == m.OID {
		return nil
	}
	var got cas.ID
	h.Sum(got[:0])
	if got != m.OID {
		return fmt.Errorf("file %s: %w: reassembled content hashes to %s", m.OID.Short(), ErrMismatch, got.Short())
	}
	return nil
}

// WriteChunks fetches m's chunks ahead with workers and writes them in
// order, while another goroutine hashes what was written; the whole
// file's hash is checked at the end. Jobs and their buffers cycle through
// a free list, so memory stays at Ahead chunks however large the file.
func WriteChunks(ctx context.Context, m *manifest.Manifest, g cas.Getter, w io.Writer, opts Options) error {
	opts = opts.norm()
	get := func(ctx context.Context, id cas.ID, buf []byte) ([]byte, error) { return g.Get(ctx, id) }
	if ig, ok := g.(cas.IntoGetter); ok {
		get = ig.GetInto
	}
	eg, ctx := errgroup.WithContext(ctx)
	free := make(chan *smudgeJob, opts.Ahead)
	for range opts.Ahead {
		free <- &smudgeJob{done: make(chan struct{}, 1)}
	}
	work := make(chan *smudgeJob, opts.Ahead)
	order := make(chan *smudgeJob, opts.Ahead)
	hashq := make(chan *smudgeJob, opts.Ahead)

	// Feeder: hands out chunks in file order.
	eg.Go(func() error {
		defer close(work)
		defer close(order)
		for _, c := range m.Chunks {
			var j *smudgeJob
			select {
			case j = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			j.c, j.data, j.err = c, nil, nil
			work <- j // never blocks: at most Ahead jobs exist
			order <- j
		}
		return nil
	})
	// Workers: fetch and verify.
	for range opts.Workers {
		eg.Go(func() error {
			for j := range work {
				j.data, j.err = get(ctx, j.c.ID, j.buf)
				if j.err == nil {
					if cap(j.data) > cap(j.buf) {
						j.buf = j.data[:0]
					}
					if len(j.data) != int(j.c.Len) {
						j.err = fmt.Errorf("chunk %s: %w: %d bytes, manifest says %d", j.c.ID.Short(), cas.ErrCorrupt, len(j.data), j.c.Len)
					}
				}
				j.done <- struct{}{}
			}
			return nil
		})
	}
	// Hasher: hashes written chunks in order, then frees their jobs.
	var got cas.ID
	eg.Go(func() error {
		h := blake3.New()
		for j := range hashq {
			h.Write(j.data)
			free <- j
		}
		h.Sum(got[:0])
		return nil
	})
	// Writer (this goroutine): writes in file order.
	var werr error
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			werr = err
			break
		}
		if j.err != nil {
			werr = fmt.Errorf("file %s at offset %d: %w", m.OID.Short(), j.c.Offset, j.err)
			break
		}
		if _, err := w.Write(j.data); err != nil {
			werr = fmt.Errorf("write content: %w", err)
			break
		}
		hashq <- j // never blocks: at most Ahead jobs exist
	}
	close(hashq)
	if werr != nil {
		// Cancels ctx, which stops the feeder and the workers.
		eg.Go(func() error { return werr })
		for range order {
		}
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	if got != m.OID {
		return fmt.Errorf("file %s: %w: reassembled content hashes to %s", m.OID.Short(), ErrMismatch, got.Short())
	}
	return nil
}
