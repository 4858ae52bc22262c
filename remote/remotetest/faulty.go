package remotetest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/lodevcs/lode/remote"
)

var _ remote.Backend = (*Faulty)(nil)

// Faulty is a remote.Backend that passes calls to another one and injects
// the faults it is told to. Faults are added by its methods, at any time
// and from any goroutine; several may be active at once and are applied
// in the order they were added. Where a method takes op, "" means any
// operation (remote.OpGet, ...); where it takes name, "" means any name
// (for List, name is compared with the prefix). A count n < 0 means "every time,
// until Reset".
//
// A fault that fails a call does so before the call reaches the wrapped
// back end, so the store is unchanged. Faults in a Get body act on the
// bytes as the caller reads them.
type Faulty struct {
	b remote.Backend

	mu     sync.Mutex     // guards calls and faults
	calls  map[string]int // by op, counting every call, failed or not
	faults []*fault
}

type faultKind int

const (
	failCall     faultKind = iota // err before the call
	delayCall                     // wait d before the call
	truncateBody                  // io.ErrUnexpectedEOF after at bytes of the body
	stallBody                     // wait d (or until ctx is done) after at bytes
	corruptBody                   // flip bit 0 of object byte at
	slowBody                      // at most at bytes a read, each after d
	failPutSrc                    // src fails with err from byte at
)

type fault struct {
	kind     faultKind
	op, name string
	n        int // remaining matches; < 0 unlimited
	every    int // for failCall: only every every-th matching call
	seen     int // matching calls so far, for every
	err      error
	d        time.Duration
	at       int64
}

// NewFaulty wraps b, with no faults yet.
func NewFaulty(b remote.Backend) *Faulty {
	return &Faulty{b: b, calls: map[string]int{}}
}

func (f *Faulty) add(x *fault) {
	if x.n == 0 {
		return
	}
	f.mu.Lock()
	f.faults = append(f.faults, x)
	f.mu.Unlock()
}

// FailNext makes the next n calls of op fail with an error wrapping err.
func (f *Faulty) FailNext(op string, n int, err error) {
	f.add(&fault{kind: failCall, op: op, n: n, every: 1, err: err})
}

// FailNextFor is FailNext for the calls of op on name only.
func (f *Faulty) FailNextFor(op, name string, n int, err error) {
	f.add(&fault{kind: failCall, op: op, name: name, n: n, every: 1, err: err})
}

// FailEvery makes every nth call of op (the nth, the 2nth, ...: counted
// from now) fail with an error wrapping err.
func (f *Faulty) FailEvery(op string, n int, err error) {
	f.add(&fault{kind: failCall, op: op, n: -1, every: n, err: err})
}

// Delay makes the next n calls of op wait for d before going ahead, or
// fail with ctx's error if ctx ends first.
func (f *Faulty) Delay(op string, n int, d time.Duration) {
	f.add(&fault{kind: delayCall, op: op, n: n, d: d})
}

// TruncateGet makes the next n Get bodies of name fail with
// io.ErrUnexpectedEOF once after bytes of the body have been read, as a
// dropped connection does.
func (f *Faulty) TruncateGet(name string, after int64, n int) {
	f.add(&fault{kind: truncateBody, op: remote.OpGet, name: name, n: n, at: after})
}

// StallGet makes the next n Get bodies of name stop for d once after bytes
// of the body have been read (the read then goes on), or until the Get's
// ctx ends, the read then failing with its error: a connection that hangs.
func (f *Faulty) StallGet(name string, after int64, d time.Duration, n int) {
	f.add(&fault{kind: stallBody, op: remote.OpGet, name: name, n: n, at: after, d: d})
}

// SlowGet makes the next n Get bodies of name slow: each read delivers at
// most size bytes, after waiting for every (or until the Get's ctx ends,
// the read then failing with its error). At 1 byte every 10ms a body
// yields 100 bytes per second.
func (f *Faulty) SlowGet(name string, size int, every time.Duration, n int) {
	f.add(&fault{kind: slowBody, op: remote.OpGet, name: name, n: n, at: int64(max(size, 1)), d: every})
}

// CorruptGet flips the lowest bit of the byte at offset off of object name
// in every Get body that covers it, until Reset. The stored object is
// intact.
func (f *Faulty) CorruptGet(name string, off int64) {
	f.add(&fault{kind: corruptBody, op: remote.OpGet, name: name, n: -1, at: off})
}

// FailPutAfter makes the next n Puts of name hand the wrapped back end a
// source that fails with an error wrapping err once it is read at or
// beyond offset after: an upload interrupted halfway, which must leave no
// object.
func (f *Faulty) FailPutAfter(name string, after int64, n int, err error) {
	f.add(&fault{kind: failPutSrc, op: remote.OpPut, name: name, n: n, at: after, err: err})
}

// Reset removes every fault. Call counts are kept.
func (f *Faulty) Reset() {
	f.mu.Lock()
	f.faults = nil
	f.mu.Unlock()
}

// Calls returns how many calls of op have been made ("" for all).
func (f *Faulty) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op != "" {
		return f.calls[op]
	}
	total := 0
	for _, n := range f.calls {
		total += n
	}
	return total
}

// take counts a call and returns the faults that apply to it, consuming
// one use of each.
func (f *Faulty) take(op, name string) []fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	var out []fault
	kept := f.faults[:0]
	for _, x := range f.faults {
		keep := true
		if (x.op == "" || x.op == op) && (x.name == "" || x.name == name) {
			apply := true
			if x.kind == failCall && x.every > 1 {
				x.seen++
				apply = x.seen%x.every == 0
			}
			if apply {
				out = append(out, *x)
				if x.n > 0 {
					x.n--
				}
				keep = x.n != 0
			}
		}
		if keep {
			kept = append(kept, x)
		}
	}
	clear(f.faults[len(kept):])
	f.faults = kept
	return out
}

// before applies the faults that act before a call reaches the back end.
func before(ctx context.Context, op, name string, faults []fault) error {
	for _, x := range faults {
		switch x.kind {
		case failCall:
			return fmt.Errorf("%s %s: injected fault: %w", op, name, x.err)
		case delayCall:
			if err := wait(ctx, x.d); err != nil {
				return fmt.Errorf("%s %s: during injected delay: %w", op, name, err)
			}
		}
	}
	return nil
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (f *Faulty) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts remote.PutOptions) error {
	faults := f.take(remote.OpPut, name)
	if err := before(ctx, remote.OpPut, name, faults); err != nil {
		return err
	}
	for _, x := range faults {
		if x.kind == failPutSrc {
			src = &failingReaderAt{r: src, at: x.at, err: x.err}
		}
	}
	return f.b.Put(ctx, name, src, size, opts)
}

type failingReaderAt struct {
	r   io.ReaderAt
	at  int64
	err error
}

func (r *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.at {
		return 0, fmt.Errorf("injected source failure at byte %d: %w", off, r.err)
	}
	if int64(len(p)) > r.at-off {
		n, err := r.r.ReadAt(p[:r.at-off], off)
		if err == nil || err == io.EOF {
			err = fmt.Errorf("injected source failure at byte %d: %w", r.at, r.err)
		}
		return n, err
	}
	return r.r.ReadAt(p, off)
}

func (f *Faulty) Get(ctx context.Context, name string, off, length int64, opts remote.GetOptions) (io.ReadCloser, error) {
	faults := f.take(remote.OpGet, name)
	if err := before(ctx, remote.OpGet, name, faults); err != nil {
		return nil, err
	}
	rc, err := f.b.Get(ctx, name, off, length, opts)
	if err != nil {
		return nil, err
	}
	var body []fault
	for _, x := range faults {
		if x.kind == truncateBody || x.kind == stallBody || x.kind == corruptBody || x.kind == slowBody {
			body = append(body, x)
		}
	}
	if len(body) == 0 {
		return rc, nil
	}
	return &faultyBody{ctx: ctx, rc: rc, off: off, faults: body}, nil
}

// faultyBody applies body faults to a Get body.
type faultyBody struct {
	ctx    context.Context
	rc     io.ReadCloser
	off    int64 // object offset of the body's first byte
	pos    int64 // body bytes read
	faults []fault
	done   []bool // stalls already served
}

func (b *faultyBody) Read(p []byte) (int, error) {
	if b.done == nil {
		b.done = make([]bool, len(b.faults))
	}
	// Stop short of the next truncation or stall point.
	for i, x := range b.faults {
		if (x.kind != truncateBody && x.kind != stallBody) || b.done[i] {
			continue
		}
		if b.pos >= x.at {
			if x.kind == truncateBody {
				return 0, fmt.Errorf("injected truncation after %d bytes: %w", x.at, io.ErrUnexpectedEOF)
			}
			b.done[i] = true
			if err := wait(b.ctx, x.d); err != nil {
				return 0, fmt.Errorf("during injected stall: %w", err)
			}
			continue
		}
		if rest := x.at - b.pos; int64(len(p)) > rest {
			p = p[:rest]
		}
	}
	for _, x := range b.faults {
		if x.kind != slowBody {
			continue
		}
		if int64(len(p)) > x.at {
			p = p[:x.at]
		}
		if err := wait(b.ctx, x.d); err != nil {
			return 0, fmt.Errorf("during injected slowness: %w", err)
		}
	}
	n, err := b.rc.Read(p)
	for _, x := range b.faults {
		if x.kind == corruptBody {
			if i := x.at - b.off - b.pos; i >= 0 && i < int64(n) {
				p[i] ^= 1
			}
		}
	}
	b.pos += int64(n)
	return n, err
}

func (b *faultyBody) Close() error { return b.rc.Close() }

func (f *Faulty) Stat(ctx context.Context, name string) (remote.Info, error) {
	if err := before(ctx, remote.OpStat, name, f.take(remote.OpStat, name)); err != nil {
		return remote.Info{}, err
	}
	return f.b.Stat(ctx, name)
}

func (f *Faulty) List(ctx context.Context, prefix string, opts remote.ListOptions, fn func(remote.Info) error) error {
	if err := before(ctx, remote.OpList, prefix, f.take(remote.OpList, prefix)); err != nil {
		return err
	}
	return f.b.List(ctx, prefix, opts, fn)
}

func (f *Faulty) Delete(ctx context.Context, name string) error {
	if err := before(ctx, remote.OpDelete, name, f.take(remote.OpDelete, name)); err != nil {
		return err
	}
	return f.b.Delete(ctx, name)
}

// Location is the wrapped back end's, marked as faulty.
func (f *Faulty) Location() string { return "faulty:" + f.b.Location() }

// Close closes the wrapped back end.
func (f *Faulty) Close() error { return f.b.Close() }
