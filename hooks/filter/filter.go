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
// error naming the file. When the data a valid pointer names is not local
// and cannot be fetched, Smudge returns an *UnavailableError before it
// writes anything, so that its caller can decide what the file becomes
// (git-lode answers git with the pointer itself, and says so); data that
// fails verification is never written.
//
// With PassBelow set (the size rule, `git lode track --above`: a catch-all
// attribute sends every file to the filter), Clean returns content smaller
// than the threshold unchanged, byte for byte, so that git stores exactly
// the blob it would store without lode; a file at or above it is cleaned.
// Until a file reaches the threshold its start is held (in memory up to
// spoolMemory, then in a temporary file in the store): the answer cannot
// begin before Clean knows which it is. Content below the threshold that
// is a valid pointer is returned as it is either way, and smudge treats it
// as a pointer, as it must for files that the threshold did send to lode;
// content that only starts like one passes smudge unchanged.
//
// A Git LFS pointer is left as it is by Clean (its content is in Git LFS's
// store) and, with Filter.LFS set, turned into its content by Smudge,
// checked against its SHA-256: history from before a move from Git LFS
// checks out under filter=lode.
package filter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
	// PassBelow, if more than 0, is the size rule: Clean returns content
	// of fewer bytes unchanged, byte for byte, so that git stores it as
	// it would without lode (a valid pointer stays the pointer it is).
	// Larger content is cleaned as usual. Smudge then passes content
	// that starts like a pointer but is not a valid one through unchanged
	// too (it is such a small file) rather than failing.
	PassBelow int64

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

// LFSReader writes the content of a Git LFS object (lfs.Source), checked;
// an error wrapping lfs.ErrMissing means it wrote nothing.
type LFSReader interface {
	WriteTo(ctx context.Context, p lfs.Pointer, w io.Writer) error
}

// SmallFile is the size up to which Clean handles a file whole in memory,
// on one goroutine, rather than through the streaming pipeline.
const SmallFile = 512 << 10

// ErrMissingObject is wrapped when smudge needs an object that is not
// available; the message names the file and the oid.
var ErrMissingObject = errors.New("object not available")

// UnavailableError is what Smudge returns when the data of the file a
// valid pointer names is not in the local store and could not be fetched
// (no Fetch, or Fetch failed for it). Smudge returns it before writing
// anything, so the caller may still answer with content of its own: the
// pointer itself (Text), which is what git stores, never any of the data.
// It wraps ErrMissingObject and the cause.
type UnavailableError struct {
	Pointer pointer.Pointer
	Text    []byte // the pointer as git stored it (Encode of Pointer)
	Err     error  // why the data could not be had
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%v: the data of oid %s (%d bytes) is not in the local store and could not be fetched: %v", ErrMissingObject, e.Pointer.OID, e.Pointer.Size, e.Err)
}

// Unwrap gives ErrMissingObject and the cause, for errors.Is.
func (e *UnavailableError) Unwrap() []error { return []error{ErrMissingObject, e.Err} }

// LFSUnavailableError is what Smudge returns, before writing anything,
// for a Git LFS pointer whose object is neither in Git LFS's store nor to
// be had through it. The caller may answer with the pointer (Text), as Git
// LFS does when it cannot download. It wraps ErrMissingObject and the
// cause (which wraps lfs.ErrMissing).
type LFSUnavailableError struct {
	Pointer lfs.Pointer
	Text    []byte // the pointer as git stored it
	Err     error
}

func (e *LFSUnavailableError) Error() string {
	return fmt.Sprintf("%v: the file is a Git LFS pointer (oid %s, %d bytes): %v", ErrMissingObject, e.Pointer, e.Pointer.Size, e.Err)
}

// Unwrap gives ErrMissingObject and the cause, for errors.Is.
func (e *LFSUnavailableError) Unwrap() []error { return []error{ErrMissingObject, e.Err} }

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
	if f.PassBelow > 0 && n <= SmallFile && int64(n) < f.PassBelow {
		_, err := w.Write(head)
		return err
	}
	if f.PassBelow > int64(n) && n > SmallFile {
		// The size rule needs to know whether the file reaches the
		// threshold before it can pass the file through.
		rest, reached, done, err := f.readUpTo(r, f.PassBelow-int64(n))
		if err != nil {
			return err
		}
		defer done()
		if !reached {
			if _, err := w.Write(head); err != nil {
				return err
			}
			_, err := io.Copy(w, rest)
			return err
		}
		r = io.MultiReader(rest, r)
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

// spoolMemory is how much of a file the size rule holds in memory while it
// finds out whether the file reaches the threshold; the rest goes to a
// temporary file in the store.
const spoolMemory = 16 << 20

// readUpTo reads up to limit bytes of r and returns a reader over them,
// whether it read all limit of them (r may have more), and a function that
// releases what holds them. Bytes beyond spoolMemory are kept in a
// temporary file in the store's tmp directory.
func (f *Filter) readUpTo(r io.Reader, limit int64) (rd io.Reader, reached bool, done func(), err error) {
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, r, min(limit, spoolMemory))
	switch {
	case err == io.EOF:
		return &mem, false, func() {}, nil
	case err != nil:
		return nil, false, nil, fmt.Errorf("read: %w", err)
	case n == limit:
		return &mem, true, func() {}, nil
	}
	tmp, err := os.CreateTemp(f.Store.TempDir(), "size-rule-*.tmp")
	if err != nil {
		return nil, false, nil, fmt.Errorf("hold the file while checking its size: %w", err)
	}
	done = func() { tmp.Close(); os.Remove(tmp.Name()) }
	m, err := io.CopyN(tmp, r, limit-n)
	if err != nil && err != io.EOF {
		done()
		return nil, false, nil, fmt.Errorf("hold the file while checking its size: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		done()
		return nil, false, nil, fmt.Errorf("hold the file while checking its size: %w", err)
	}
	return io.MultiReader(&mem, tmp), n+m == limit, done, nil
}

// Smudge reads what git stored for a file from r and writes the file's
// content to w. Errors do not name the file; callers add it. On error,
// what was written to w must be discarded (git does so when told the
// filter failed), except after an *UnavailableError, which Smudge returns
// before writing anything: the data is not local and could not be
// fetched, and the caller decides what the file becomes.
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
			err := f.LFS.WriteTo(ctx, lp, w)
			if errors.Is(err, lfs.ErrMissing) && ctx.Err() == nil {
				return &LFSUnavailableError{Pointer: lp, Text: bytes.Clone(head), Err: err}
			}
			if err != nil {
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
	if err != nil && bytes.Contains(head, []byte("\r\n")) {
		// git turned the pointer's line ends into CRLF on the way out
		// (text=auto with core.autocrlf, where -text is not set).
		if q, qerr := pointer.Parse(bytes.ReplaceAll(head, []byte("\r\n"), []byte("\n"))); qerr == nil {
			p, err = q, nil
		}
	}
	if errors.Is(err, pointer.ErrNotPointer) {
		_, err := br.WriteTo(w)
		return err
	}
	if err != nil && f.PassBelow > 0 {
		// Under the size rule this is a small file that clean passed
		// through, as it passes every file that is not a valid pointer.
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
	if !transfer.Complete(ctx, f.Store, p) {
		err := f.delay.failure(p.OID) // a delayed batch already tried
		switch {
		case err != nil:
		case f.Fetch == nil:
			err = fmt.Errorf("%w: not in the local store %s, and there is no remote to fetch it from", cas.ErrNotFound, f.Store.Dir())
		default:
			err = f.Fetch(ctx, []pointer.Pointer{p})
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("oid %s: %w", p.OID, err)
			}
			return &UnavailableError{Pointer: p, Text: p.Encode(), Err: err}
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
