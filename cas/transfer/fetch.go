package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"golang.org/x/sync/errgroup"
)

// Range coalescing: chunks of one pack closer than maxGap are read with
// one request, up to maxRange bytes.
const (
	maxGap   = 256 << 10
	maxRange = 16 << 20
)

// Complete reports whether st can reassemble the file p points to without
// fetching anything.
func Complete(ctx context.Context, st *store.Store, p pointer.Pointer) bool {
	if p.Size == 0 {
		return true
	}
	_, err := localManifest(ctx, st, p)
	return err == nil
}

// want is a chunk to download.
type want struct {
	id  cas.ID
	len uint32
	loc manifest.Location
}

// Fetch downloads into st what st needs to reassemble the files ptrs
// point to: for each file it cannot reassemble, the located manifest from
// r, then the missing chunks, coalesced into ranged reads. Every chunk is
// checked against its id before it is stored; when Fetch returns nil the
// files are complete in st. A file r has no data for fails with an error
// wrapping ErrRemoteMissing.
func Fetch(ctx context.Context, st *store.Store, r *Remote, ptrs []pointer.Pointer, opts Options) (stats Stats, err error) {
	opts = opts.norm()
	start := r.Requests()
	defer func() { stats.Requests = r.Requests() - start }()
	var files []pointer.Pointer
	for _, p := range distinct(ptrs) {
		if Complete(ctx, st, p) {
			stats.FilesPresent++
		} else {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return stats, nil
	}
	// Located manifests, in parallel.
	locs := make([]*manifest.Located, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Workers)
	for i, p := range files {
		g.Go(func() error {
			l, err := r.Located(gctx, p.OID)
			if err != nil {
				return err
			}
			if l.Size != p.Size {
				return fmt.Errorf("manifest of %s on %s: %w: %d bytes, pointer says %d", p.OID.Short(), r, cas.ErrCorrupt, l.Size, p.Size)
			}
			locs[i] = l
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return stats, err
	}
	// The chunks st lacks, once each, grouped by pack.
	byPack := map[cas.ID][]want{}
	seen := map[cas.ID]bool{}
	var total int64
	for _, l := range locs {
		for i, c := range l.Chunks {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			if ok, _ := st.Has(ctx, c.ID); ok {
				continue
			}
			w := want{id: c.ID, len: c.Len, loc: l.Locs[i]}
			byPack[w.loc.Pack] = append(byPack[w.loc.Pack], w)
			total += int64(w.loc.StoredLen)
		}
	}
	pk := st.NewPacker()
	defer pk.Close()
	if err := downloadChunks(ctx, st, r, byPack, total, pk, opts, &stats); err != nil {
		return stats, err
	}
	// The plain manifests, so that the files are whole locally.
	for _, l := range locs {
		m := l.Manifest
		raw := m.Encode()
		stored, method := st.Codec().Compress(nil, raw)
		if err := pk.Add(m.ID(), cas.KindManifest, method, len(raw), stored); err != nil {
			return stats, err
		}
	}
	if err := pk.Flush(ctx); err != nil {
		return stats, err
	}
	stats.Files = len(files)
	return stats, nil
}

// span is one ranged read: the chunks of one pack it covers.
type span struct {
	pack       cas.ID
	start, end int64
	chunks     []want
}

// spans coalesces the wanted chunks of one pack into ranged reads.
func spans(pid cas.ID, ws []want) []span {
	slices.SortFunc(ws, func(a, b want) int { return int(a.loc.Offset - b.loc.Offset) })
	var out []span
	for _, w := range ws {
		start := w.loc.Offset
		end := start + pack.EntryHeaderSize + int64(w.loc.StoredLen)
		if n := len(out); n > 0 && start-out[n-1].end <= maxGap && end-out[n-1].start <= maxRange {
			out[n-1].end = max(out[n-1].end, end)
			out[n-1].chunks = append(out[n-1].chunks, w)
			continue
		}
		out = append(out, span{pack: pid, start: start, end: end, chunks: []want{w}})
	}
	return out
}

type fetched struct {
	id     cas.ID
	e      pack.Entry
	stored []byte
}

// downloadChunks reads the spans in parallel, checks every chunk, and adds
// them to pk from this goroutine.
func downloadChunks(ctx context.Context, st *store.Store, r *Remote, byPack map[cas.ID][]want, total int64, pk *store.Packer, opts Options, stats *Stats) error {
	var all []span
	for pid, ws := range byPack {
		all = append(all, spans(pid, ws)...)
	}
	g, gctx := errgroup.WithContext(ctx)
	out := make(chan []fetched, opts.Workers)
	var done atomic.Int64
	g.Go(func() error {
		defer close(out)
		wg, wctx := errgroup.WithContext(gctx)
		wg.SetLimit(opts.Workers)
		for _, s := range all {
			wg.Go(func() error {
				fs, err := readSpan(wctx, st.Codec(), r, s)
				if err != nil {
					return err
				}
				select {
				case out <- fs:
				case <-wctx.Done():
					return wctx.Err()
				}
				if opts.Progress != nil {
					opts.Progress(Progress{Done: done.Add(s.end - s.start), Total: total})
				}
				return nil
			})
		}
		return wg.Wait()
	})
	var addErr error
	for fs := range out {
		if addErr != nil {
			continue // drain
		}
		for _, f := range fs {
			if err := pk.Add(f.id, cas.KindChunk, f.e.Method, int(f.e.RawLen), f.stored); err != nil {
				addErr = err
				break
			}
			stats.Chunks++
			stats.Bytes += int64(len(f.stored))
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return addErr
}

// readSpan reads one range of a remote pack and checks every chunk in it.
func readSpan(ctx context.Context, codec *compress.Codec, r *Remote, s span) ([]fetched, error) {
	name := packName(s.pack)
	rc, err := r.b.Get(ctx, name, s.start, s.end-s.start, remote.GetOptions{})
	if err != nil {
		if errors.Is(err, remote.ErrNotExist) || errors.Is(err, remote.ErrRange) {
			return nil, fmt.Errorf("%w: pack %s on %s (named by a manifest): %v", ErrRemoteMissing, s.pack.Short(), r, err)
		}
		return nil, fmt.Errorf("read %s [%d, %d) from %s: %w", name, s.start, s.end, r, err)
	}
	defer rc.Close()
	buf := make([]byte, s.end-s.start)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("read %s [%d, %d) from %s: %w", name, s.start, s.end, r, err)
	}
	out := make([]fetched, 0, len(s.chunks))
	for _, w := range s.chunks {
		f, err := checkChunk(codec, buf[w.loc.Offset-s.start:], w)
		if err != nil {
			return nil, fmt.Errorf("chunk %s in %s at offset %d on %s: %w", w.id.Short(), name, w.loc.Offset, r, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// checkChunk parses the entry at the start of b and verifies it is w.
func checkChunk(codec *compress.Codec, b []byte, w want) (fetched, error) {
	e, err := pack.ParseEntryHeader(b, w.loc.Offset)
	if err != nil {
		return fetched{}, fmt.Errorf("%w: %v", cas.ErrCorrupt, err)
	}
	if e.ID != w.id || e.Kind != cas.KindChunk || e.StoredLen != w.loc.StoredLen || e.RawLen != w.len || uint8(e.Method) != w.loc.Method {
		return fetched{}, fmt.Errorf("%w: entry header does not match the manifest", cas.ErrCorrupt)
	}
	stored := b[pack.EntryHeaderSize : pack.EntryHeaderSize+int(e.StoredLen)]
	if err := store.CheckStored(codec, e, stored); err != nil {
		return fetched{}, err
	}
	return fetched{id: w.id, e: e, stored: stored}, nil
}
