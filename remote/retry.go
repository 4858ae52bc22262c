package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Defaults of RetryOptions.
const (
	DefaultAttempts       = 5
	DefaultRequestTimeout = 30 * time.Second
	DefaultPutTimeout     = 2 * time.Minute
	DefaultMinPutRate     = 256 << 10 // bytes per second
	DefaultBaseDelay      = 100 * time.Millisecond
	DefaultMaxDelay       = 5 * time.Second
)

// RetryOptions tune NewRetrying. The zero value gives the defaults.
type RetryOptions struct {
	// Attempts bounds the tries of one request, the first included; 0
	// means DefaultAttempts. A Get or List that makes progress before
	// failing starts counting again (see NewRetrying).
	Attempts int
	// RequestTimeout bounds each try of Stat and Delete, and each wait of
	// Get and List for the back end (opening, then every read of the
	// body; every next object of a listing): it is a limit on time
	// without progress, not on a whole download. 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// PutTimeout bounds each try of Put; 0 means DefaultPutTimeout. A
	// large object gets longer: the time to send it at MinPutRate bytes
	// per second (0 means DefaultMinPutRate), if that is more.
	PutTimeout time.Duration
	MinPutRate int64
	// Before try n+1 the decorator sleeps for a random duration between
	// 0 and min(MaxDelay, BaseDelay<<(n-1)) ("full jitter"). 0 means
	// DefaultBaseDelay and DefaultMaxDelay.
	BaseDelay, MaxDelay time.Duration
	// OnRetry, if set, is called before each sleep with the operation
	// (OpGet, ...), the object name (the prefix for OpList), the number
	// of the try that failed and its error. It is called on the goroutine
	// making the request, possibly from many goroutines at once.
	OnRetry func(op, name string, attempt int, err error)
	// Sleep waits for d or until ctx is done, returning ctx.Err() then;
	// nil means a timer. Tests inject one that does not sleep.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1) for the jitter; nil means
	// math/rand/v2.Float64. It may be called concurrently.
	Rand func() float64
}

// NewRetrying returns b with a deadline on every request and bounded
// retries with exponential backoff and full jitter.
//
// A failed try is retried unless the error is permanent (IsPermanent), the
// caller's ctx is done, or the tries are used up. The error returned then
// is the last one: as is when permanent, wrapping ctx.Err() as well when
// the caller's ctx ended, and otherwise wrapped with the operation, the
// name and the number of tries. A try that hit its own deadline fails with
// an error that wraps context.DeadlineExceeded (and not the
// context.Canceled a back end may report for it), so that errors.Is(err,
// context.Canceled) means the caller cancelled.
//
// A Get is resumed transparently: when reading the body fails, the rest of
// the range is asked for again from the current position, and the caller
// sees one uninterrupted stream. Since every read that delivers bytes is
// progress, the try count restarts then; a connection that keeps dropping
// slows a download down but does not fail it. The reader must not be
// closed while a Read is in progress; cancel ctx to abort one. List likewise resumes by
// listing again and skipping names already passed to fn; an error from fn
// is never retried. Put reads src again from offset 0 on each try.
//
// Because a try can succeed on the back end while its answer is lost, a
// Delete that is retried may report ErrNotExist for an object that its
// earlier try removed; callers deleting should take ErrNotExist as done.
func NewRetrying(b Backend, opts RetryOptions) Backend {
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.PutTimeout <= 0 {
		opts.PutTimeout = DefaultPutTimeout
	}
	if opts.MinPutRate <= 0 {
		opts.MinPutRate = DefaultMinPutRate
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = DefaultBaseDelay
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	return &retrying{b: b, opts: opts}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type retrying struct {
	b    Backend
	opts RetryOptions
}

// backoff is the sleep before the try after try n.
func (r *retrying) backoff(n int) time.Duration {
	ceil := r.opts.MaxDelay
	if n < 32 {
		if d := r.opts.BaseDelay << (n - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(r.opts.Rand() * float64(ceil))
}

// next decides what follows the failure err of try n of op on name, made
// under watchdog w: it returns nil after sleeping if another try is due,
// or the error to return.
func (r *retrying) next(ctx context.Context, op, name string, n int, w *watchdog, err error) error {
	if ctx.Err() != nil {
		return withCtx(ctx, err)
	}
	if IsPermanent(err) {
		return err
	}
	if w.expired() {
		err = &timeoutError{d: w.d, err: err}
	}
	if n >= r.opts.Attempts {
		return fmt.Errorf("%s %s: gave up after %d attempts: %w", op, name, n, err)
	}
	if r.opts.OnRetry != nil {
		r.opts.OnRetry(op, name, n, err)
	}
	if r.opts.Sleep(ctx, r.backoff(n)) != nil || ctx.Err() != nil {
		return withCtx(ctx, fmt.Errorf("%s %s: waiting to retry after %d attempts: %w", op, name, n, err))
	}
	return nil
}

// withCtx makes sure err wraps ctx.Err().
func withCtx(ctx context.Context, err error) error {
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", err, ctx.Err())
}

// timeoutError is a try that hit its deadline. It hides the error the back
// end reported, which is usually context.Canceled, from errors.Is.
type timeoutError struct {
	d   time.Duration
	err error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("no progress within %v (%v)", e.d, e.err)
}

func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

func (e *timeoutError) Timeout() bool { return true }

// watchdog is the context of one try: cancelled when the timer runs out
// while armed. Stop it when the try is over.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	d      time.Duration
}

// errExpired is the cancel cause of a watchdog that ran out.
var errExpired = errors.New("watchdog expired")

func newWatchdog(parent context.Context, d time.Duration) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, d: d}
	w.timer = time.AfterFunc(d, func() { cancel(errExpired) })
	return w
}

// pause stops the clock (while the caller, not the back end, has the turn).
func (w *watchdog) pause() { w.timer.Stop() }

// resume restarts the clock from d.
func (w *watchdog) resume() { w.timer.Reset(w.d) }

func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(nil)
}

// expired reports whether the timer ran out (before stop).
func (w *watchdog) expired() bool { return context.Cause(w.ctx) == errExpired }

// do runs f until it succeeds or next says to stop, each try under a
// watchdog of d that is never paused: a plain deadline.
func (r *retrying) do(ctx context.Context, op, name string, d time.Duration, f func(context.Context) error) error {
	for n := 1; ; n++ {
		w := newWatchdog(ctx, d)
		err := f(w.ctx)
		w.stop()
		if err == nil {
			return nil
		}
		if err := r.next(ctx, op, name, n, w, err); err != nil {
			return err
		}
	}
}

func (r *retrying) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions) error {
	d := r.opts.PutTimeout
	if t := time.Duration(float64(size) / float64(r.opts.MinPutRate) * float64(time.Second)); t > d {
		d = t
	}
	return r.do(ctx, OpPut, name, d, func(ctx context.Context) error {
		return r.b.Put(ctx, name, src, size, opts)
	})
}

func (r *retrying) Stat(ctx context.Context, name string) (Info, error) {
	var info Info
	err := r.do(ctx, OpStat, name, r.opts.RequestTimeout, func(ctx context.Context) error {
		var err error
		info, err = r.b.Stat(ctx, name)
		return err
	})
	return info, err
}

func (r *retrying) Delete(ctx context.Context, name string) error {
	return r.do(ctx, OpDelete, name, r.opts.RequestTimeout, func(ctx context.Context) error {
		return r.b.Delete(ctx, name)
	})
}

func (r *retrying) List(ctx context.Context, prefix string, opts ListOptions, fn func(Info) error) error {
	seen := map[string]struct{}{}
	var fnErr error
	for n := 1; ; n++ {
		w := newWatchdog(ctx, r.opts.RequestTimeout)
		before := len(seen)
		err := r.b.List(w.ctx, prefix, opts, func(info Info) error {
			if _, ok := seen[info.Name]; ok {
				return nil
			}
			seen[info.Name] = struct{}{}
			w.pause()
			defer w.resume()
			fnErr = fn(info)
			return fnErr
		})
		w.stop()
		if fnErr != nil {
			if err == nil {
				err = fnErr
			}
			return err
		}
		if err == nil {
			return nil
		}
		if len(seen) > before {
			n = 1 // progress: count afresh
		}
		if err := r.next(ctx, OpList, prefix, n, w, err); err != nil {
			return err
		}
	}
}

func (r *retrying) Location() string { return r.b.Location() }

func (r *retrying) Close() error { return r.b.Close() }

func (r *retrying) Get(ctx context.Context, name string, off, length int64, opts GetOptions) (io.ReadCloser, error) {
	g := &resumingReader{r: r, ctx: ctx, name: name, off: off, length: length, opts: opts}
	if err := g.open(); err != nil {
		return nil, err
	}
	return g, nil
}

// resumingReader is the body of a Get through the decorator. Like any
// io.Reader it is used by one goroutine at a time.
type resumingReader struct {
	r           *retrying
	ctx         context.Context // the caller's
	name        string
	off, length int64 // as asked for
	opts        GetOptions

	pos   int64         // bytes delivered so far
	body  io.ReadCloser // of the current try; nil between tries
	w     *watchdog     // of the current try
	fails int           // failed tries since the last progress
	err   error         // sticky: io.EOF, the final error, or errClosed
}

var errClosed = errors.New("read after Close")

// open asks the back end for the rest of the range, retrying.
func (g *resumingReader) open() error {
	for {
		length := g.length
		if length >= 0 {
			length -= g.pos
		}
		w := newWatchdog(g.ctx, g.r.opts.RequestTimeout)
		body, err := g.r.b.Get(w.ctx, g.name, g.off+g.pos, length, g.opts)
		w.pause()
		if err == nil {
			g.body, g.w = body, w
			return nil
		}
		w.stop()
		g.fails++
		if err := g.r.next(g.ctx, OpGet, g.name, g.fails, w, err); err != nil {
			return err
		}
	}
}

func (g *resumingReader) Read(p []byte) (int, error) {
	for g.err == nil {
		if g.body == nil {
			if err := g.open(); err != nil {
				g.err = err
				break
			}
		}
		g.w.resume()
		n, err := g.body.Read(p)
		g.w.pause()
		g.pos += int64(n)
		if n > 0 {
			g.fails = 0
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF:
			g.err = io.EOF
			return n, io.EOF
		}
		w := g.w
		g.closeBody()
		if g.length >= 0 && g.pos >= g.length {
			g.err = io.EOF // all there: the failure does not matter
			return n, io.EOF
		}
		g.fails++
		if err := g.r.next(g.ctx, OpGet, g.name, g.fails, w, err); err != nil {
			g.err = err
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, g.err
}

func (g *resumingReader) closeBody() error {
	if g.body == nil {
		return nil
	}
	err := g.body.Close()
	g.w.stop()
	g.body, g.w = nil, nil
	return err
}

func (g *resumingReader) Close() error {
	err := g.closeBody()
	if g.err == nil || g.err == io.EOF {
		g.err = errClosed
	}
	return err
}
