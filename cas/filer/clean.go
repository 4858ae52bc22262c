package filer

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/chunker"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/zeebo/blake3"
	"golang.org/x/sync/errgroup"
)

// Sink receives the objects that Clean produces.
type Sink interface {
	// Has reports whether the object is already stored. It is called
	// from several goroutines at once; a false "false" only costs a
	// duplicate Add.
	Has(id cas.ID) bool
	// Add stores one object. It is called from one goroutine at a time.
	// stored is only valid during the call.
	Add(id cas.ID, kind cas.Kind, method compress.Method, rawLen int, stored []byte) error
}

// Options tune the pipelines. The zero value is usable.
type Options struct {
	// Workers is the number of hashing/compressing (Clean) or fetching
	// (Smudge) goroutines; 0 means GOMAXPROCS.
	Workers int
	// Ahead is how many chunks may be in flight; 0 means 4 per worker.
	Ahead int
}

func (o Options) norm() Options {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Ahead <= 0 {
		o.Ahead = 4 * o.Workers
	}
	if o.Ahead < o.Workers {
		o.Ahead = o.Workers
	}
	return o
}

type cleanJob struct {
	seq    int    // chunk number in the file
	raw    []byte // cap chunker.MaxSize
	stored []byte // compression output buffer
	id     cas.ID
	method compress.Method
	out    []byte // what to store: raw or stored
	known  bool   // already in the sink
	done   chan struct{}
}

// Clean reads a file from r to its end, stores its new chunks and (for a
// file of more than one chunk) its manifest in sink, and returns its
// pointer, which binds the manifest by its id. An empty file stores
// nothing and returns a pointer of size 0. The caller makes the sink durable
// (Packer.Flush) before handing the pointer to git.
func Clean(ctx context.Context, r io.Reader, sink Sink, codec *compress.Codec, opts Options) (pointer.Pointer, error) {
	opts = opts.norm()
	g, ctx := errgroup.WithContext(ctx)

	free := make(chan *cleanJob, opts.Ahead)
	for range opts.Ahead {
		free <- &cleanJob{raw: make([]byte, 0, chunker.MaxSize), done: make(chan struct{}, 1)}
	}
	work := make(chan *cleanJob, opts.Ahead)
	order := make(chan *cleanJob, opts.Ahead)

	var oid cas.ID
	// Cutter: chunks the stream, hashes the whole file, hands out jobs.
	g.Go(func() error {
		defer close(work)
		defer close(order)
		fileHash := blake3.New()
		c := chunker.New(r)
		for seq := 0; ; seq++ {
			chunk, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("read content: %w", err)
			}
			fileHash.Write(chunk)
			var j *cleanJob
			select {
			case j = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			j.seq = seq
			j.raw = append(j.raw[:0], chunk...)
			work <- j // cannot block: at most Ahead jobs exist
			order <- j
		}
		fileHash.Sum(oid[:0])
		return nil
	})
	// Workers: hash each chunk, compress those the sink lacks.
	fc := codec.ForFile()
	for range opts.Workers {
		g.Go(func() error {
			for j := range work {
				j.id = cas.Sum(j.raw)
				j.known = sink.Has(j.id)
				if !j.known {
					j.out, j.method = fc.Compress(j.stored, j.raw, j.seq)
					if j.method != compress.None {
						j.stored = j.out
					}
				}
				j.done <- struct{}{}
			}
			return nil
		})
	}
	// Writer (this goroutine): add in file order, build the manifest.
	var b manifest.Builder
	var werr error
	for j := range order {
		select {
		case <-j.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		b.Add(j.id, len(j.raw))
		if !j.known && werr == nil {
			if err := sink.Add(j.id, cas.KindChunk, j.method, len(j.raw), j.out); err != nil {
				werr = fmt.Errorf("store chunk: %w", err)
			}
		}
		free <- j
		if werr != nil {
			break
		}
	}
	if werr != nil {
		// Cancels ctx, which stops the cutter; work and order never
		// block it, since both hold as many jobs as exist.
		g.Go(func() error { return werr })
	}
	if err := g.Wait(); err != nil {
		return pointer.Pointer{}, err
	}
	if b.Len() <= 1 {
		// Empty, or one chunk: that chunk is the file, and its id is
		// the oid. No manifest is needed.
		return pointer.New(oid, b.Size(), cas.ID{}), nil
	}
	m := b.Finish(oid)
	raw := m.Encode()
	mid := cas.Sum(raw)
	if !sink.Has(mid) {
		stored, method := codec.Compress(nil, raw)
		if err := sink.Add(mid, cas.KindManifest, method, len(raw), stored); err != nil {
			return pointer.Pointer{}, fmt.Errorf("store manifest: %w", err)
		}
	}
	return pointer.New(oid, b.Size(), mid), nil
}

// CleanBytes is Clean for content held whole in memory, done on the
// calling goroutine with no pipeline: what small files want, for which
// setting up Clean's workers and buffers costs more than the work. scratch,
// if not nil, is reused for compressed output and returned grown; the
// pointer is the one Clean would return for the same content.
func CleanBytes(ctx context.Context, data []byte, sink Sink, codec *compress.Codec, scratch []byte) (pointer.Pointer, []byte, error) {
	oid := cas.Sum(data)
	if len(data) == 0 {
		return pointer.New(oid, 0, cas.ID{}), scratch, nil
	}
	fc := codec.ForFile()
	var b manifest.Builder
	for off, seq := 0, 0; off < len(data); seq++ {
		if err := ctx.Err(); err != nil {
			return pointer.Pointer{}, scratch, err
		}
		n := chunker.Boundary(data[off:])
		c := data[off : off+n]
		id := oid // a file of one chunk: the chunk is the file
		if n < len(data) {
			id = cas.Sum(c)
		}
		if !sink.Has(id) {
			out, method := fc.Compress(scratch, c, seq)
			if method != compress.None {
				scratch = out
			}
			if err := sink.Add(id, cas.KindChunk, method, n, out); err != nil {
				return pointer.Pointer{}, scratch, fmt.Errorf("store chunk: %w", err)
			}
		}
		b.Add(id, n)
		off += n
	}
	if b.Len() == 1 {
		return pointer.New(oid, b.Size(), cas.ID{}), scratch, nil
	}
	m := b.Finish(oid)
	raw := m.Encode()
	mid := cas.Sum(raw)
	if !sink.Has(mid) {
		stored, method := codec.Compress(nil, raw)
		if err := sink.Add(mid, cas.KindManifest, method, len(raw), stored); err != nil {
			return pointer.Pointer{}, scratch, fmt.Errorf("store manifest: %w", err)
		}
	}
	return pointer.New(oid, b.Size(), mid), scratch, nil
}
