package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// Defaults of RetryOptions.
const (
	DefaultAttempts            = 5
	DefaultUnreachableAttempts = 2
	DefaultRequestTimeout      = 20 * time.Second
	DefaultPutTimeout          = 2 * time.Minute
	DefaultMinPutRate          = 256 << 10 // bytes per second
	DefaultMinGetRate          = 64 << 10  // bytes per second
	DefaultMinListRate         = 50        // objects per second
	DefaultRateWindow          = 20 * time.Second
	DefaultResumeProgress      = 1 << 20 // bytes
	DefaultBaseDelay           = 100 * time.Millisecond
	DefaultMaxDelay            = 5 * time.Second
	DefaultMaxRetryWait        = 30 * time.Second
	DefaultBreakerCooldown     = 30 * time.Second
)

// RetryOptions tune NewRetrying. The zero value gives the defaults.
type RetryOptions struct {
	// Attempts bounds the tries of one request, the first included; 0
	// means DefaultAttempts. UnreachableAttempts (0: the default) bounds
	// those among them that found the remote unreachable (see
	// NewRetrying): a server that does not answer costs two tries, not
	// five. A Get or List that made enough progress before failing starts
	// counting again (see ResumeProgress).
	Attempts, UnreachableAttempts int
	// RequestTimeout bounds each try of Stat and Delete, and each wait of
	// Get and List for the back end (opening, then every read of the
	// body; every next object of a listing): it is a limit on time
	// without progress, not on a whole download. 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MinGetRate (bytes per second) and MinListRate (objects per second)
	// are the slowest a Get body and a listing may be: once the first
	// byte (object) of a try has arrived, every RateWindow of the back
	// end's time must bring MinGetRate*RateWindow bytes (MinListRate*
	// RateWindow objects), or the try fails as too slow. Windows follow
	// one another; they do not slide. The time the caller holds the turn
	// (between reads, inside List's fn) does not count. 0 means the
	// defaults; a rate < 0 turns its check off.
	MinGetRate, MinListRate int64
	RateWindow              time.Duration
	// PutTimeout bounds each try of Put; 0 means DefaultPutTimeout. A
	// large object gets longer: the time to send it at MinPutRate bytes
	// per second (0 means DefaultMinPutRate), if that is more.
	PutTimeout time.Duration
	MinPutRate int64
	// ResumeProgress is how many bytes a Get must deliver between two
	// failures for the second to start the count of tries afresh; 0
	// means DefaultResumeProgress. (A List starts afresh whenever a try
	// brought an object not seen before.)
	ResumeProgress int64
	// Before try n+1 the decorator sleeps for a random duration between
	// 0 and min(MaxDelay, BaseDelay<<(n-1)) ("full jitter"). 0 means
	// DefaultBaseDelay and DefaultMaxDelay.
	BaseDelay, MaxDelay time.Duration
	// MaxRetryWait bounds the sum of those sleeps over one request, all
	// resumes of a Get included: a failure whose sleep would take the sum
	// past it is final. 0 means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// BreakerCooldown is how long requests fail at once after one gave up
	// because the remote was unreachable (see NewRetrying). 0 means
	// DefaultBreakerCooldown; < 0 turns the circuit breaker off.
	BreakerCooldown time.Duration
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
	// Now is the circuit breaker's clock; nil means time.Now. (Deadlines
	// and rate windows run on real timers.) It may be called
	// concurrently.
	Now func() time.Time
}

// NewRetrying returns b with a deadline on every request and bounded
// retries with exponential backoff and full jitter.
//
// A failed try is retried unless the error is permanent (IsPermanent), the
// caller's ctx is done, or the tries are used up. The error returned then
// is the last one: as is when permanent, wrapping ctx.Err() as well when
// the caller's ctx ended, and otherwise wrapped with the operation, the
// name, the remote's Location and the number of tries. A try that hit its
// own deadline or was too slow fails with an error that wraps
// context.DeadlineExceeded (and not the context.Canceled a back end may
// report for it), so that errors.Is(err, context.Canceled) means the
// caller cancelled.
//
// A try finds the remote unreachable when it hit one of the decorator's
// deadlines, was too slow (see RetryOptions.MinGetRate), timed out in the
// back end's own client (connecting, waiting for the response header:
// errors with a Timeout() bool method that says so), or could not
// connect (a dial error: refused, no route, unknown host). Such tries
// count against UnreachableAttempts as well as Attempts, and the final
// error of a request that gave up on one also wraps ErrUnreachable.
//
// Circuit breaker: once a request has given up because the remote was
// unreachable, every request through the same decorator fails at once,
// for BreakerCooldown, with an error wrapping ErrUnreachable and the
// cause; requests already under way give up at their next unreachable
// failure. After the cooldown requests go out again, but until one
// succeeds each gives up after its first unreachable try. A success, or
// an answer that is a permanent error, closes the breaker. So one process
// pays the retry budget once against a dead remote, not once per file.
//
// A Get is resumed transparently: when reading the body fails, the rest of
// the range is asked for again from the current position, and the caller
// sees one uninterrupted stream. A failure after ResumeProgress bytes
// since the previous one starts the count of tries afresh; a connection
// that keeps dropping after a few bytes fails the Get after Attempts
// tries. The reader must not be closed while a Read is in progress;
// cancel ctx to abort one. List likewise resumes by listing again and
// skipping names already passed to fn; an error from fn is never retried.
// Put reads src again from offset 0 on each try.
//
// Because a try can succeed on the back end while its answer is lost, a
// Delete that is retried may report ErrNotExist for an object that its
// earlier try removed; callers deleting should take ErrNotExist as done.
func NewRetrying(b Backend, opts RetryOptions) Backend {
	defaults := []struct {
		v *int64
		d int64
	}{
		{&opts.MinPutRate, DefaultMinPutRate},
		{&opts.MinGetRate, DefaultMinGetRate},
		{&opts.MinListRate, DefaultMinListRate},
		{&opts.ResumeProgress, DefaultResumeProgress},
	}
	for _, x := range defaults {
		if *x.v == 0 {
			*x.v = x.d
		}
	}
	if opts.MinPutRate < 0 {
		opts.MinPutRate = DefaultMinPutRate
	}
	if opts.ResumeProgress < 0 {
		opts.ResumeProgress = DefaultResumeProgress
	}
	durations := []struct {
		v *time.Duration
		d time.Duration
	}{
		{&opts.RequestTimeout, DefaultRequestTimeout},
		{&opts.PutTimeout, DefaultPutTimeout},
		{&opts.RateWindow, DefaultRateWindow},
		{&opts.BaseDelay, DefaultBaseDelay},
		{&opts.MaxDelay, DefaultMaxDelay},
		{&opts.MaxRetryWait, DefaultMaxRetryWait},
	}
	for _, x := range durations {
		if *x.v <= 0 {
			*x.v = x.d
		}
	}
	if opts.BreakerCooldown == 0 {
		opts.BreakerCooldown = DefaultBreakerCooldown
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.UnreachableAttempts <= 0 {
		opts.UnreachableAttempts = DefaultUnreachableAttempts
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &retrying{b: b, opts: opts, loc: b.Location()}
	r.br.cooldown = opts.BreakerCooldown
	r.br.now = opts.Now
	return r
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
	// Written once by NewRetrying.
	b    Backend
	opts RetryOptions
	loc  string // b.Location()

	br breaker
}

// request is the retry state of one call (a Get with all its resumes).
type request struct {
	op, name string
	tries    int           // failed tries since counting (re)started
	unreach  int           // of which found the remote unreachable
	waited   time.Duration // backoff slept, over the whole request
}

// describe names request q for messages: "get packs/x from s3://b/p".
func (r *retrying) describe(q *request) string {
	switch q.op {
	case OpGet:
		return fmt.Sprintf("get %s from %s", q.name, r.loc)
	case OpPut:
		return fmt.Sprintf("put %s to %s", q.name, r.loc)
	case OpList:
		return fmt.Sprintf("list %s* on %s", q.name, r.loc)
	}
	return fmt.Sprintf("%s %s on %s", q.op, q.name, r.loc)
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

// next decides what follows the failure err of a try of q, made under
// watchdog w: it returns nil after sleeping if another try is due, or the
// error to return.
func (r *retrying) next(ctx context.Context, q *request, w *watchdog, err error) error {
	if ctx.Err() != nil {
		return withCtx(ctx, err)
	}
	if IsPermanent(err) {
		r.br.answered()
		return err
	}
	if s, ok := w.expired(); ok {
		err = newStallError(s, err)
	}
	q.tries++
	unreach := isUnreachable(err)
	if unreach {
		q.unreach++
	}
	limit := r.opts.UnreachableAttempts
	if r.br.probing() {
		limit = 1
	}
	switch {
	case q.tries >= r.opts.Attempts, unreach && q.unreach >= limit:
		return r.giveUp(q, unreach, "", err)
	case unreach && r.br.isOpen():
		// Another request found the remote unreachable meanwhile.
		return r.giveUp(q, unreach, "", err)
	}
	d := r.backoff(q.tries)
	if q.waited+d > r.opts.MaxRetryWait {
		return r.giveUp(q, unreach, fmt.Sprintf(", having waited %v to retry (at most %v)", round(q.waited), r.opts.MaxRetryWait), err)
	}
	if r.opts.OnRetry != nil {
		r.opts.OnRetry(q.op, q.name, q.tries, err)
	}
	q.waited += d
	if r.opts.Sleep(ctx, d) != nil || ctx.Err() != nil {
		return withCtx(ctx, fmt.Errorf("%s: waiting to retry after %s: %w", r.describe(q), attempts(q.tries), err))
	}
	return nil
}

// giveUp returns the final error of q, whose last try failed with err,
// and opens the circuit breaker if the remote was unreachable.
func (r *retrying) giveUp(q *request, unreach bool, why string, err error) error {
	what := r.describe(q)
	if !unreach {
		return fmt.Errorf("%s: gave up after %s%s: %w", what, attempts(q.tries), why, err)
	}
	r.br.trip(what, err)
	return fmt.Errorf("%s: gave up after %s%s (%w): %w", what, attempts(q.tries), why, ErrUnreachable, err)
}

// refuse returns the circuit breaker's error for a try of q, or nil if
// the try may go out. A ctx that is done is left to the back end, which
// fails with its error as the contract says.
func (r *retrying) refuse(ctx context.Context, q *request) error {
	if ctx.Err() != nil || !r.br.isOpen() {
		return nil // the common case, without formatting a message
	}
	return r.br.refuse(r.describe(q))
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// round shortens d for messages.
func round(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// withCtx makes sure err wraps ctx.Err().
func withCtx(ctx context.Context, err error) error {
	if errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", err, ctx.Err())
}

// isUnreachable reports whether err says the remote did not answer in
// time or could not be reached (see NewRetrying).
func isUnreachable(err error) bool {
	var t interface{ Timeout() bool }
	if errors.As(err, &t) && t.Timeout() {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// do runs f until it succeeds or next says to stop, each try under a
// watchdog of d that is never paused: a plain deadline.
func (r *retrying) do(ctx context.Context, q *request, d time.Duration, f func(context.Context) error) error {
	for {
		if err := r.refuse(ctx, q); err != nil {
			return err
		}
		w := newWatchdog(ctx, d, stall{what: "no answer", d: d, loc: r.loc})
		err := f(w.ctx)
		w.stop()
		if err == nil {
			r.br.answered()
			return nil
		}
		if err := r.next(ctx, q, w, err); err != nil {
			return err
		}
	}
}

func (r *retrying) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions) error {
	d := r.opts.PutTimeout
	if t := time.Duration(float64(size) / float64(r.opts.MinPutRate) * float64(time.Second)); t > d {
		d = t
	}
	return r.do(ctx, &request{op: OpPut, name: name}, d, func(ctx context.Context) error {
		return r.b.Put(ctx, name, src, size, opts)
	})
}

func (r *retrying) Stat(ctx context.Context, name string) (Info, error) {
	var info Info
	err := r.do(ctx, &request{op: OpStat, name: name}, r.opts.RequestTimeout, func(ctx context.Context) error {
		var err error
		info, err = r.b.Stat(ctx, name)
		return err
	})
	return info, err
}

func (r *retrying) Delete(ctx context.Context, name string) error {
	return r.do(ctx, &request{op: OpDelete, name: name}, r.opts.RequestTimeout, func(ctx context.Context) error {
		return r.b.Delete(ctx, name)
	})
}

// errListSlow stops a listing that the meter found too slow.
var errListSlow = errors.New("listing too slow")

func (r *retrying) List(ctx context.Context, prefix string, opts ListOptions, fn func(Info) error) error {
	q := &request{op: OpList, name: prefix}
	seen := map[string]struct{}{}
	var fnErr error
	for {
		if err := r.refuse(ctx, q); err != nil {
			return err
		}
		m := newMeter(r.opts.MinListRate, r.opts.RateWindow)
		w := newWatchdog(ctx, r.opts.RequestTimeout, stall{what: "no answer", d: r.opts.RequestTimeout, loc: r.loc})
		before := len(seen)
		slow := false
		start := time.Now()
		err := r.b.List(w.ctx, prefix, opts, func(info Info) error {
			w.pause()
			if !m.add(time.Since(start), 1) {
				slow = true
				return errListSlow
			}
			if _, ok := seen[info.Name]; !ok {
				seen[info.Name] = struct{}{}
				if fnErr = fn(info); fnErr != nil {
					return fnErr
				}
			}
			r.arm(w, &m, "objects")
			start = time.Now()
			return nil
		})
		w.stop()
		if fnErr != nil {
			if err == nil {
				err = fnErr
			}
			return err
		}
		if slow {
			err = &stallError{s: r.slow(&m, "objects")}
		}
		if err == nil {
			r.br.answered()
			return nil
		}
		if len(seen) > before {
			q.tries, q.unreach = 0, 0 // progress: count afresh
		}
		if err := r.next(ctx, q, w, err); err != nil {
			return err
		}
	}
}

// arm starts w for the back end's next turn in a try measured by m: no
// progress within RequestTimeout, or too slow if m's window would close
// short first.
func (r *retrying) arm(w *watchdog, m *meter, unit string) {
	d, s := r.opts.RequestTimeout, stall{what: "no progress", d: r.opts.RequestTimeout, loc: r.loc}
	if left, ok := m.limit(); ok && left < d {
		d, s = left, r.slow(m, unit)
	}
	w.arm(d, s)
}

// slow describes the failure of m's current window.
func (r *retrying) slow(m *meter, unit string) stall {
	return stall{slow: true, d: m.window, n: m.n, need: m.need, unit: unit, loc: r.loc}
}

func (r *retrying) Location() string { return r.loc }

func (r *retrying) Close() error { return r.b.Close() }

func (r *retrying) Get(ctx context.Context, name string, off, length int64, opts GetOptions) (io.ReadCloser, error) {
	g := &resumingReader{r: r, ctx: ctx, q: request{op: OpGet, name: name}, off: off, length: length, opts: opts}
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
	q           request
	off, length int64 // as asked for
	opts        GetOptions

	pos       int64         // bytes delivered so far
	sinceFail int64         // bytes delivered since the last failed try
	body      io.ReadCloser // of the current try; nil between tries
	w         *watchdog     // of the current try
	m         meter         // of the current try
	err       error         // sticky: io.EOF, the final error, or errClosed
}

var errClosed = errors.New("read after Close")

// open asks the back end for the rest of the range, retrying.
func (g *resumingReader) open() error {
	for {
		if err := g.r.refuse(g.ctx, &g.q); err != nil {
			return err
		}
		length := g.length
		if length >= 0 {
			length -= g.pos
		}
		d := g.r.opts.RequestTimeout
		w := newWatchdog(g.ctx, d, stall{what: "no answer", d: d, loc: g.r.loc})
		body, err := g.r.b.Get(w.ctx, g.q.name, g.off+g.pos, length, g.opts)
		w.pause()
		if err == nil {
			g.body, g.w, g.m = body, w, newMeter(g.r.opts.MinGetRate, g.r.opts.RateWindow)
			return nil
		}
		w.stop()
		if err := g.failed(w, err); err != nil {
			return err
		}
	}
}

// failed handles the failure err of the current try, made under w.
func (g *resumingReader) failed(w *watchdog, err error) error {
	if g.sinceFail >= g.r.opts.ResumeProgress {
		g.q.tries, g.q.unreach = 0, 0 // progress: count afresh
	}
	g.sinceFail = 0
	return g.r.next(g.ctx, &g.q, w, err)
}

func (g *resumingReader) Read(p []byte) (int, error) {
	for g.err == nil {
		if g.body == nil {
			if err := g.open(); err != nil {
				g.err = err
				break
			}
		}
		g.r.arm(g.w, &g.m, "bytes")
		start := time.Now()
		n, err := g.body.Read(p)
		g.w.pause()
		g.pos += int64(n)
		g.sinceFail += int64(n)
		if err == nil && !g.m.add(time.Since(start), int64(n)) {
			err = &stallError{s: g.r.slow(&g.m, "bytes")}
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF:
			g.r.br.answered()
			g.err = io.EOF
			return n, io.EOF
		}
		w := g.w
		g.closeBody()
		if g.length >= 0 && g.pos >= g.length {
			g.r.br.answered()
			g.err = io.EOF // all there: the failure does not matter
			return n, io.EOF
		}
		if err := g.failed(w, err); err != nil {
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
