package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// stall describes a deadline of one try: what the back end failed to do
// in time.
type stall struct {
	what string        // without slow: "no answer", "no progress"
	slow bool          // a rate window closed short
	d    time.Duration // the time allowed, or the window
	n    int64         // slow: units in the window
	need int64         // slow: units a window needs
	unit string        // slow: "bytes", "objects"
	loc  string        // the remote
}

func (s stall) String() string {
	if s.slow {
		unit := s.unit
		if s.n == 1 {
			unit = strings.TrimSuffix(unit, "s")
		}
		return fmt.Sprintf("too slow: %d %s in %v from %s (at least %d expected)", s.n, unit, s.d, s.loc, s.need)
	}
	return fmt.Sprintf("%s within %v from %s", s.what, s.d, s.loc)
}

// stallError is a try that ran out of time. It hides the error the back
// end reported then, usually context.Canceled, from errors.Is, and is a
// timeout.
type stallError struct {
	s   stall
	err error // nil if the decorator noticed without cancelling the try
}

// newStallError returns the error of a try that failed as s, the back end
// reporting err.
func newStallError(s stall, err error) *stallError {
	if errors.Is(err, errExpired) || errors.Is(err, context.Canceled) {
		err = nil // says nothing more
	}
	return &stallError{s: s, err: err}
}

func (e *stallError) Error() string {
	if e.err == nil {
		return e.s.String()
	}
	return fmt.Sprintf("%v (%v)", e.s, e.err)
}

func (e *stallError) Is(target error) bool { return target == context.DeadlineExceeded }

func (e *stallError) Timeout() bool { return true }

// watchdog is the context of one try: cancelled when the timer runs out
// while armed. Its methods are called by the goroutine making the try;
// only the timer's own function runs elsewhere. Stop it when the try is
// over.
type watchdog struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	running bool   // armed and not paused since
	armed   stall  // what the current (or last) arming waits for
	fired   *stall // set when pause or stop found the timer run out
}

// errExpired is the cancel cause of a watchdog that ran out. Clients
// that report the cause of a cancelled request (net/http does) say this.
var errExpired = errors.New("deadline of the retrying decorator")

func newWatchdog(parent context.Context, d time.Duration, s stall) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, armed: s, running: true}
	w.timer = time.AfterFunc(d, func() { cancel(errExpired) })
	return w
}

// pause stops the clock (while the caller, not the back end, has the
// turn).
func (w *watchdog) pause() {
	if w.running && !w.timer.Stop() && w.fired == nil {
		s := w.armed
		w.fired = &s
	}
	w.running = false
}

// arm restarts the clock: the try fails as s after d without a pause.
func (w *watchdog) arm(d time.Duration, s stall) {
	w.pause()
	w.armed = s
	w.running = true
	w.timer.Reset(d)
}

func (w *watchdog) stop() {
	w.pause()
	w.cancel(nil)
}

// expired reports whether the timer ran out, and what it was waiting for.
func (w *watchdog) expired() (stall, bool) {
	if context.Cause(w.ctx) != errExpired {
		return stall{}, false
	}
	if w.fired != nil {
		return *w.fired, true
	}
	return w.armed, true
}

// meter enforces a minimum rate on one try of a Get body or a listing:
// once the first unit has arrived, each window of the back end's time
// must bring at least need units. Windows follow one another, so a try
// that is too slow fails within two windows of it becoming so. The zero
// value, and a meter with need <= 0, never fails.
type meter struct {
	window  time.Duration
	need    int64         // units per window
	started bool          // the first unit has arrived
	active  time.Duration // back end's time in the current window
	n       int64         // units in the current window
}

// newMeter returns a meter asking rate units per second over window.
func newMeter(rate int64, window time.Duration) meter {
	return meter{window: window, need: int64(float64(rate) * window.Seconds())}
}

// limit returns how much longer the back end may take before the current
// window closes short, if that can happen.
func (m *meter) limit() (time.Duration, bool) {
	if m.need <= 0 || !m.started || m.n >= m.need {
		return 0, false
	}
	return m.window - m.active, true
}

// add accounts for a turn of the back end that took d and brought n
// units. It reports false when the window closed short.
func (m *meter) add(d time.Duration, n int64) bool {
	if m.need <= 0 {
		return true
	}
	if !m.started {
		// The window opens with the first unit: the wait for it is
		// bounded by the deadline without progress.
		m.started = n > 0
		m.n = n
		return true
	}
	m.active += d
	m.n += n
	if m.active < m.window {
		return true
	}
	if m.n < m.need {
		return false
	}
	m.active, m.n = 0, 0
	return true
}
