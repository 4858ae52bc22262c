package filter

import (
	"bytes"
	"context"
	"sync"

	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/transfer"
)

// MaxParallelFetches bounds the files fetched at once for delayed smudges.
const MaxParallelFetches = 4

// delayState tracks smudges that were delayed while their data downloads.
type delayState struct {
	mu      sync.Mutex // guards pending
	pending int        // delayed files not yet reported by Available
	ready   chan string
	sem     chan struct{} // bounds concurrent fetches
	wg      sync.WaitGroup
}

// Delay starts downloading the data of a file that git allows to be
// smudged later, and reports whether it did. Files whose data is local, or
// content that is not a pointer, are not delayed. It implements
// filterproc's Delayer together with Available.
func (f *Filter) Delay(ctx context.Context, path string, content []byte) bool {
	if f.Fetch == nil || f.SkipSmudge || len(content) > pointer.MaxLen {
		return false
	}
	p, err := pointer.Parse(bytes.Clone(content))
	if err != nil || transfer.Complete(ctx, f.Store, p) {
		return false
	}
	d := &f.delay
	d.mu.Lock()
	if d.ready == nil {
		d.ready = make(chan string, 1024)
		d.sem = make(chan struct{}, MaxParallelFetches)
	}
	d.pending++
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.sem <- struct{}{}
		// A failure is reported when git asks for the file again: Smudge
		// then tries once more and says why it could not.
		_ = f.Fetch(ctx, p)
		<-d.sem
		d.ready <- path
	}()
	return true
}

// Available blocks until at least one delayed file is ready and returns
// the ready ones; it returns nothing when no delayed file remains.
func (f *Filter) Available(ctx context.Context) ([]string, error) {
	d := &f.delay
	d.mu.Lock()
	n := d.pending
	d.mu.Unlock()
	if n == 0 {
		return nil, nil
	}
	var out []string
	select {
	case p := <-d.ready:
		out = append(out, p)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for more := true; more; {
		select {
		case p := <-d.ready:
			out = append(out, p)
		default:
			more = false
		}
	}
	d.mu.Lock()
	d.pending -= len(out)
	d.mu.Unlock()
	return out, nil
}

// Wait waits for the downloads Delay started.
func (f *Filter) Wait() { f.delay.wg.Wait() }
