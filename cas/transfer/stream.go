package transfer

import (
	"context"
	"fmt"
	"io"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/store"
	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"
)

// runs cuts a file's chunks, in file order, into ranged reads: consecutive
// chunks of one pack that lie close together share a read.
func runs(l *manifest.Located) []span {
	var out []span
	for i, c := range l.Chunks {
		loc := l.Locs[i]
		w := want{id: c.ID, len: c.Len, loc: loc}
		start := loc.Offset
		end := start + pack.EntryHeaderSize + int64(loc.StoredLen)
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.pack == loc.Pack && start >= last.end && start-last.end <= maxGap && end-last.start <= maxRange {
				last.end = end
				last.chunks = append(last.chunks, w)
				continue
			}
		}
		out = append(out, span{pack: loc.Pack, start: start, end: end, chunks: []want{w}})
	}
	return out
}

// StreamFile writes the file that l describes to w, reading it from r with
// up to opts.Workers ranged reads ahead, checking every chunk against its
// id and the whole content against the oid. It stores nothing. If it fails
// after writing, the caller must discard what was written.
func StreamFile(ctx context.Context, codec *compress.Codec, r *Remote, l *manifest.Located, w io.Writer, opts Options) error {
	opts = opts.norm()
	rs := runs(l)
	type job struct {
		s    span
		fs   []fetched
		err  error
		done chan struct{}
	}
	g, gctx := errgroup.WithContext(ctx)
	order := make(chan *job, opts.Workers)
	work := make(chan *job, opts.Workers)
	g.Go(func() error {
		defer close(order)
		defer close(work)
		for _, s := range rs {
			j := &job{s: s, done: make(chan struct{})}
			select {
			case order <- j:
			case <-gctx.Done():
				return gctx.Err()
			}
			work <- j
		}
		return nil
	})
	for range opts.Workers {
		g.Go(func() error {
			for j := range work {
				j.fs, j.err = readSpan(gctx, codec, r, j.s)
				close(j.done)
			}
			return nil
		})
	}
	h := blake3.New()
	var werr error
	for j := range order {
		if werr != nil {
			continue
		}
		select {
		case <-j.done:
		case <-gctx.Done():
			werr = gctx.Err()
			continue
		}
		if j.err != nil {
			werr = j.err
			continue
		}
		for _, f := range j.fs {
			raw, err := codec.Decompress(nil, f.stored, f.e.Method, int(f.e.RawLen))
			if err != nil {
				werr = fmt.Errorf("chunk %s: %w: %v", f.id.Short(), cas.ErrCorrupt, err)
				break
			}
			h.Write(raw)
			if _, err := w.Write(raw); err != nil {
				werr = fmt.Errorf("write content: %w", err)
				break
			}
		}
	}
	if werr != nil {
		g.Go(func() error { return werr })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var got cas.ID
	h.Sum(got[:0])
	if got != l.OID {
		return fmt.Errorf("file %s on %s: %w: chunks reassemble to %s", l.OID.Short(), r, cas.ErrCorrupt, got.Short())
	}
	return nil
}

// VerifyFile reads the whole file oid from r, checking every chunk and the
// content's hash, without storing anything.
func VerifyFile(ctx context.Context, st *store.Store, r *Remote, oid cas.ID, size int64, opts Options) error {
	if size == 0 {
		return nil
	}
	l, err := r.Located(ctx, oid)
	if err != nil {
		return err
	}
	if l.Size != size {
		return fmt.Errorf("manifest of %s on %s: %w: %d bytes, pointer says %d", oid.Short(), r, cas.ErrCorrupt, l.Size, size)
	}
	return StreamFile(ctx, st.Codec(), r, l, io.Discard, opts)
}
