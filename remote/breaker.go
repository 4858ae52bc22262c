package remote

import (
	"fmt"
	"sync"
	"time"
)

// breaker is the retrying decorator's circuit breaker: after a request
// gave up because the remote was unreachable, it refuses tries for
// cooldown, then lets them out as probes (one unreachable try each) until
// one succeeds. See NewRetrying.
type breaker struct {
	// Written once by NewRetrying.
	cooldown time.Duration // < 0: never open
	now      func() time.Time

	mu      sync.Mutex // guards the fields below
	tripped bool       // a request gave up unreachable, none answered since
	until   time.Time  // while tripped, tries before this are refused
	at      time.Time  // when it tripped
	what    string     // the request that gave up, for messages
	cause   error      // its last error
}

// trip opens the breaker after the request what gave up with err.
func (b *breaker) trip(what string, err error) {
	if b.cooldown < 0 {
		return
	}
	now := b.now()
	b.mu.Lock()
	b.tripped, b.at, b.until, b.what, b.cause = true, now, now.Add(b.cooldown), what, err
	b.mu.Unlock()
}

// answered closes the breaker: the remote has answered a request.
func (b *breaker) answered() {
	b.mu.Lock()
	b.tripped, b.cause = false, nil
	b.mu.Unlock()
}

// isOpen reports whether tries are refused now.
func (b *breaker) isOpen() bool {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tripped && now.Before(b.until)
}

// probing reports whether the cooldown is over but no request has
// succeeded since: a try that finds the remote unreachable is then final.
func (b *breaker) probing() bool {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tripped && !now.Before(b.until)
}

// refuse returns the error for a try of the request what while the
// breaker is open, or nil.
func (b *breaker) refuse(what string) error {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.tripped || !now.Before(b.until) {
		return nil
	}
	return fmt.Errorf("%s: not tried, %w: %s gave up %v ago (next try allowed in %v): %w",
		what, ErrUnreachable, b.what, round(now.Sub(b.at)), round(b.until.Sub(now)), b.cause)
}
