package filter

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/transfer"
)

// Delayed smudges are fetched in batches: git sends every file it lets the
// filter delay before it asks which are ready, so the files whose data is
// not local are gathered and fetched together, one transfer (manifests,
// then chunks, with reads coalesced across files) per batch, while git
// writes out the files of earlier batches.
const (
	// MaxBatchFiles and MaxBatchBytes bound one batch.
	MaxBatchFiles = 8192
	MaxBatchBytes = 1 << 30
	// gatherWait is how long a batch waits for more files to arrive
	// before it starts, once git stops sending them.
	gatherWait = 20 * time.Millisecond
	// maxQueued bounds the files queued and not yet in a batch: Delay
	// waits for the batcher beyond it (git waits for the answer), so
	// that the queue does not grow with the number of files.
	maxQueued = 2 * MaxBatchFiles
	// readyInMemory bounds the pathnames of fetched files held in memory
	// until git asks for them (after it has sent every file); the rest
	// wait in a temporary file.
	readyInMemory = 16384
)

// delayState tracks smudges that were delayed while their data downloads.
type delayState struct {
	mu      sync.Mutex // guards everything below
	queue   []delayedFile
	running bool      // a batcher is running
	pending int       // delayed files not yet reported by Available
	ready   pathQueue // fetched (or failed: Smudge says why), not yet reported
	// listed holds the pointers of the files Available returned last,
	// by pathname, until git asks for them again (before it asks which
	// are ready next): at most readyInMemory of them.
	listed map[string]pointer.Pointer
	wake   chan struct{} // signalled when ready grows; cap 1
	taken  *sync.Cond    // on mu: signalled when the batcher takes from the queue
	wg     sync.WaitGroup
	// failed holds why the files of a batch that could not be fetched
	// were not, by oid, so that Smudge does not try each again.
	failed map[cas.ID]error
}

// failure returns why a batch could not fetch the file of oid, or nil.
func (d *delayState) failure(oid cas.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.failed[oid]
}

type delayedFile struct {
	path string
	p    pointer.Pointer
}

// Delay queues the download of a file that git allows to be smudged later,
// and reports whether it did. Files whose data is local, or content that
// is not a pointer, are not delayed. It implements filterproc's Delayer
// together with Available.
func (f *Filter) Delay(ctx context.Context, path string, content []byte) bool {
	if f.Fetch == nil || f.SkipSmudge || len(content) > pointer.MaxLen {
		return false
	}
	p, err := pointer.Parse(bytes.Clone(content))
	if err != nil || f.Flush(ctx) != nil || transfer.Complete(ctx, f.Store, p) || f.delay.failure(p.OID) != nil {
		return false // Smudge answers at once (an earlier batch failed: with why)
	}
	d := &f.delay
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.wake == nil {
		d.wake = make(chan struct{}, 1)
		d.taken = sync.NewCond(&d.mu)
		d.ready = pathQueue{dir: f.Store.TempDir(), memMax: readyInMemory}
	}
	for d.running && len(d.queue) >= maxQueued && ctx.Err() == nil {
		d.taken.Wait()
	}
	d.queue = append(d.queue, delayedFile{path, p})
	d.pending++
	if !d.running {
		d.running = true
		d.wg.Add(1)
		go f.fetchBatches(ctx)
	}
	return true
}

// fetchBatches fetches queued files batch by batch until the queue is
// empty. A failed batch still marks its files ready: git then asks for
// them, and Smudge returns an *UnavailableError for each file the batch
// could not fetch, with why, without trying again.
func (f *Filter) fetchBatches(ctx context.Context) {
	d := &f.delay
	defer d.wg.Done()
	for {
		// Let the queue fill while git is still sending files.
		for n := -1; ; {
			d.mu.Lock()
			m := len(d.queue)
			d.mu.Unlock()
			if m == n || m >= MaxBatchFiles || ctx.Err() != nil {
				break
			}
			n = m
			time.Sleep(gatherWait)
		}
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		var batch []delayedFile
		var size int64
		for len(d.queue) > 0 && len(batch) < MaxBatchFiles && (len(batch) == 0 || size+d.queue[0].p.Size <= MaxBatchBytes) {
			size += d.queue[0].p.Size
			batch = append(batch, d.queue[0])
			d.queue = d.queue[1:]
		}
		if len(d.queue) == 0 {
			d.queue = nil // let the backing array go
		}
		d.taken.Broadcast()
		d.mu.Unlock()
		ptrs := make([]pointer.Pointer, len(batch))
		for i, b := range batch {
			ptrs[i] = b.p
		}
		err := f.Fetch(ctx, ptrs)
		var byOID map[cas.ID]error
		var fe *transfer.FetchError
		if errors.As(err, &fe) {
			byOID = fe.ByOID()
		}
		d.mu.Lock()
		for _, b := range batch {
			d.ready.Push(b)
			if err == nil || ctx.Err() != nil {
				continue
			}
			ferr := err // the whole batch failed
			if byOID != nil {
				ferr = byOID[b.p.OID]
			}
			if ferr != nil {
				if d.failed == nil {
					d.failed = map[cas.ID]error{}
				}
				d.failed[b.p.OID] = ferr
			}
		}
		d.mu.Unlock()
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// Available blocks until at least one delayed file is ready and returns
// the ready ones; it returns nothing when no delayed file remains.
func (f *Filter) Available(ctx context.Context) ([]string, error) {
	d := &f.delay
	for {
		d.mu.Lock()
		if d.pending == 0 {
			d.mu.Unlock()
			return nil, nil
		}
		if d.ready.Len() > 0 {
			files, err := d.ready.Take(readyInMemory)
			d.pending -= len(files)
			d.listed = make(map[string]pointer.Pointer, len(files))
			out := make([]string, len(files))
			for i, f := range files {
				d.listed[f.path] = f.p
				out[i] = f.path
			}
			d.mu.Unlock()
			if len(out) > 0 {
				err = nil // the rest comes next time, or fails then
			}
			return out, err
		}
		wake := d.wake
		d.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// DelayedPointer returns the pointer of a delayed file that Available
// listed last, as git asks for it again, and forgets it; false if it has
// none for path (the caller reads it back from git).
func (f *Filter) DelayedPointer(path string) ([]byte, bool) {
	d := &f.delay
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.listed[path]
	if !ok {
		return nil, false
	}
	delete(d.listed, path)
	return p.Encode(), true
}

// Wait waits for the downloads Delay started.
func (f *Filter) Wait() { f.delay.wg.Wait() }
