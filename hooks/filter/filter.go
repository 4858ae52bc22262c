// Package filter is lode's clean and smudge filter: what git runs through
// `git-lode filter-process` (package filterproc speaks the protocol and
// calls this package's Filter) and through the one-shot `git-lode clean`
// and `git-lode smudge` commands.
//
// Clean turns file content into a pointer, storing the content's chunks in
// the local store; content that already is a valid pointer is returned
// unchanged, so cleaning is idempotent. The files one filter process
// cleans share packs (one pack per file made thousands of tiny packs and
// three fsyncs per file): with Batch set, a pack is published (durable,
// readable by every process) when it is full, when Flush is called (the
// filter process calls it when git closes the filter, and when it has been
// idle for IdleFlush), and before this filter smudges anything; without
// Batch, before each Clean returns. Smudge turns a pointer back into content,
// verifying every byte; content that is not a lode pointer passes through
// unchanged, so histories from before `git lode track` still check out,
// while something that claims to be a lode pointer but is damaged is an
// error naming the file. A Git LFS pointer is left as it is by Clean (its
// content is in Git LFS's store) and, with Filter.LFS set, turned into its
// content by Smudge, checked against its SHA-256: history from before a
// move from Git LFS checks out under filter=lode.
package filter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/hooks/lfs"
	"golang.org/x/sync/singleflight"
	"sync"
	"time"
)

// Filter cleans and smudges files. Its fields are set once; it is then
// safe for concurrent use.
type Filter struct {
	// Store receives cleaned content and serves smudged content.
	Store *store.Store
	// SkipSmudge leaves pointers as they are on smudge.
	SkipSmudge bool
	// Options tune the clean and smudge pipelines.
	Options filer.Options
	// Batch lets the files cleaned share packs (see the package
	// documentation); the caller must call Flush before it exits.
	Batch bool
	// Fetch, if set, downloads into Store what it lacks of the files ps
	// point to, as many as it can: Smudge calls it before reassembling a
	// file whose data is not local, and delayed smudges (Delay) call it
	// with many files at once.
	Fetch func(ctx context.Context, ps []pointer.Pointer) error
	// Repair, if set, replaces object id (a chunk or the manifest of the
	// file p points to) in Store with an intact copy from elsewhere,
	// dropping the damaged one; Smudge calls it when it meets a damaged
	// or missing object, then reads the object again.
	Repair func(ctx context.Context, p pointer.Pointer, id cas.ID) error
	// LFS, if set, gives the content of files that git holds as Git LFS
	// pointers (history from before a move from Git LFS, under a path
	// that now says filter=lode): Smudge writes it, checked against the
	// pointer's SHA-256, instead of passing the pointer through.
	LFS LFSReader

	delay   delayState
	repairs singleflight.Group // keyed by object id
	readers sync.Pool          // of *bufio.Reader, for Smudge

	mu      sync.Mutex    // guards the fields below; held while cleaning or flushing
	small   []byte        // SmallFile+1 bytes: a file's start, or all of it
	scratch []byte        // compression output of CleanBytes, reused
	pk      *store.Packer // shared by the files cleaned, with Batch
	pending time.Time     // when the oldest unpublished object was added; zero if none
	last    time.Time     // when the last Clean ended
}

// Flush publishes what the files cleaned so far stored: when it returns
// nil, their data is durable and readable by every process.
func (f *Filter) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushLocked(ctx)
}

func (f *Filter) flushLocked(ctx context.Context) error {
	if f.pk == nil || f.pending.IsZero() {
		return nil
	}
	err := f.pk.Flush(ctx)
	f.pending = time.Time{}
	if err != nil {
		// A packer's error is sticky: start afresh, so that later files
		// can be stored once the problem is gone.
		f.pk.Close()
		f.pk = nil
		return fmt.Errorf("store the data of the files cleaned: %w", err)
	}
	return nil
}

// FlushWhenIdle publishes the shared packs once no Clean has run for idle,
// checking every idle/2, until ctx ends: a pointer's data is then durable
// shortly after the last file of a git command, without waiting for git
// to close the filter. Errors go to report.
func (f *Filter) FlushWhenIdle(ctx context.Context, idle time.Duration, report func(error)) {
	t := time.NewTicker(idle / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		if !f.pending.IsZero() && time.Since(f.last) >= idle {
			if err := f.flushLocked(ctx); err != nil && report != nil {
				report(err)
			}
		}
		f.mu.Unlock()
	}
}

// LFSReader writes the content of a Git LFS object (lfs.Source). On
// error, what it wrote is discarded.
type LFSReader interface {
	WriteTo(ctx context.Context, p lfs.Pointer, w io.Writer) error
}

// SmallFile is the size up to which Clean handles a file whole in memory,
// on one goroutine, rather than through the streaming pipeline.
const SmallFile = 512 << 10

// ErrMissingObject is wrapped when smudge needs an object that is not
// available; the message names the file and the oid.
var ErrMissingObject = errors.New("object not available")

// Clean reads a file's content from r and writes its pointer to w. Errors
// do not name the file; callers add it. Empty content gives empty output,
// as with Git LFS, so empty files stay empty in git.
func (f *Filter) Clean(ctx context.Context, r io.Reader, w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() { f.last = time.Now() }()
	// Read what fits in the small-file buffer: most files end there, and
	// are cleaned without a pipeline (a pointer is one of them).
	if f.small == nil {
		f.small = make([]byte, SmallFile+1)
	}
	n, err := io.ReadFull(r, f.small)
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		err = nil
	default:
		return fmt.Errorf("read: %w", err)
	}
	head := f.small[:n]
	if n <= pointer.MaxLen {
		if p, perr := pointer.Parse(head); perr == nil {
			_, err := w.Write(p.Encode())
			return err
		}
		// A Git LFS pointer stays one, as Git LFS's own clean leaves
		// it: its content is in Git LFS's store, not in this file.
		if _, perr := lfs.Parse(head); perr == nil {
			_, err := w.Write(head)
			return err
		}
	}
	if f.pk == nil {
		f.pk = f.Store.NewPacker()
	}
	if f.pending.IsZero() {
		f.pending = time.Now()
	}
	var p pointer.Pointer
	if n <= SmallFile {
		p, f.scratch, err = filer.CleanBytes(ctx, head, f.pk, f.Store.Codec(), f.scratch)
	} else {
		p, err = filer.Clean(ctx, io.MultiReader(bytes.NewReader(head), r), f.pk, f.Store.Codec(), f.Options)
	}
	if err != nil {
		return err
	}
	if !f.Batch {
		if err := f.flushLocked(ctx); err != nil {
			return err
		}
	}
	if p.Size == 0 {
		return nil
	}
	_, err = w.Write(p.Encode())
	return err
}

// Smudge reads what git stored for a file from r and writes the file's
// content to w. Errors do not name the file; callers add it. On error,
// what was written to w must be discarded (git does so when told the
// filter failed).
func (f *Filter) Smudge(ctx context.Context, r io.Reader, w io.Writer) error {
	br, _ := f.readers.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(r, 64<<10)
	} else {
		br.Reset(r)
	}
	defer func() { br.Reset(nil); f.readers.Put(br) }()
	head, err := br.Peek(pointer.MaxLen + 1)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return fmt.Errorf("read: %w", err)
	}
	if f.LFS != nil && !f.SkipSmudge && len(head) <= pointer.MaxLen && lfs.MightBe(head) {
		if lp, err := lfs.Parse(head); err == nil {
			if err := f.LFS.WriteTo(ctx, lp, w); err != nil {
				return fmt.Errorf("the file in git is a Git LFS pointer (oid %s, %d bytes): %w", lp, lp.Size, err)
			}
			return nil
		}
	}
	if len(head) > pointer.MaxLen || !pointer.MightBe(head) || f.SkipSmudge {
		_, err := br.WriteTo(w)
		return err
	}
	p, err := pointer.Parse(head)
	if errors.Is(err, pointer.ErrNotPointer) {
		_, err := br.WriteTo(w)
		return err
	}
	if err != nil {
		return fmt.Errorf("the file in git claims to be a lode pointer but is not valid: %w", err)
	}
	// What this process cleaned must be readable before anything is read.
	if err := f.Flush(ctx); err != nil {
		return err
	}
	if f.Fetch != nil && !transfer.Complete(ctx, f.Store, p) {
		if err := f.Fetch(ctx, []pointer.Pointer{p}); err != nil {
			return fmt.Errorf("%w: the data of oid %s (%d bytes) is not in the local store and could not be fetched: %w", ErrMissingObject, p.OID, p.Size, err)
		}
	}
	var g cas.Getter = f.Store
	if f.Repair != nil {
		g = repairingGetter{f, p}
	}
	err = filer.Smudge(ctx, p, g, w, f.Options)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cas.ErrNotFound):
		return fmt.Errorf("%w: the data of oid %s (%d bytes) is not in the local store %s (%w)", ErrMissingObject, p.OID, p.Size, f.Store.Dir(), err)
	case errors.Is(err, cas.ErrCorrupt):
		return fmt.Errorf("the stored data of oid %s failed verification, so nothing was written; run 'git lode verify' (%w)", p.OID, err)
	}
	return fmt.Errorf("oid %s: %w", p.OID, err)
}

// repairingGetter reads from the filter's store and, when an object there
// is damaged or missing, has it repaired and reads it again.
type repairingGetter struct {
	f *Filter
	p pointer.Pointer
}

func (g repairingGetter) Get(ctx context.Context, id cas.ID) ([]byte, error) {
	return g.GetInto(ctx, id, nil)
}

func (g repairingGetter) GetInto(ctx context.Context, id cas.ID, dst []byte) ([]byte, error) {
	b, err := g.f.Store.GetInto(ctx, id, dst)
	if err == nil || !(errors.Is(err, cas.ErrCorrupt) || errors.Is(err, cas.ErrNotFound)) {
		return b, err
	}
	if _, rerr, _ := g.f.repairs.Do(string(id[:]), func() (any, error) {
		return nil, g.f.Repair(ctx, g.p, id)
	}); rerr != nil {
		return nil, fmt.Errorf("%w (and no intact copy could be had: %v)", err, rerr)
	}
	return g.f.Store.GetInto(ctx, id, dst)
}
