package remotetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lodevcs/lode/remote"
)

// OpenHostile returns a back end that reads the objects served at url
// ("http://127.0.0.1:port", no trailing slash; every path serves the same
// body) through a client with timeouts.
type OpenHostile func(t *testing.T, url string, timeouts remote.HTTPTimeouts) remote.Backend

// hostileTimeouts are the client timeouts RunHostile asks for.
var hostileTimeouts = remote.HTTPTimeouts{Dial: time.Second, TLSHandshake: time.Second, ResponseHeader: 300 * time.Millisecond}

// RunHostile checks that a back end wrapped in remote.NewRetrying fails in
// bounded time, with errors naming the remote, against the hostile
// servers: a silent one (the client's response-header timeout ends each
// try; two tries; then the circuit breaker refuses further requests at
// once), one dripping a body at 1 byte/s (too slow: two tries of one rate
// window each), and one breaking every response after 100 bytes (five
// tries, then the Get fails; with enough progress per try it completes).
// Timeouts and windows are short so that it runs in seconds.
func RunHostile(t *testing.T, open OpenHostile, opts HostileOptions) {
	t.Run("Silent", func(t *testing.T) { t.Parallel(); testSilent(t, open) })
	t.Run("Drip", func(t *testing.T) { t.Parallel(); testDrip(t, open) })
	t.Run("Breaking", func(t *testing.T) { t.Parallel(); testBreaking(t, open, opts) })
}

// HostileOptions adjust RunHostile to a back end. The zero value is the
// default.
type HostileOptions struct {
	// ResumesBodies says that the back end's client resumes a broken body
	// by itself, out of the decorator's sight (Google's storage library
	// does, with every request it makes making progress): a Get from the
	// breaking server is then only checked to return the right bytes or
	// fail, in bounded time.
	ResumesBodies bool
}

func readAll(ctx context.Context, b remote.Backend, name string) ([]byte, error) {
	rc, err := b.Get(ctx, name, 0, -1, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// wantMessage checks that err's message holds every part of want.
func wantMessage(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: message %q lacks %q", what, err, w)
		}
	}
}

func testSilent(t *testing.T, open OpenHostile) {
	srv := NewSilentServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, op := range []string{remote.OpStat, remote.OpGet} {
		b := remote.NewRetrying(open(t, srv.URL, hostileTimeouts), remote.RetryOptions{})
		before := srv.Requests()
		start := time.Now()
		var err error
		if op == remote.OpStat {
			_, err = b.Stat(ctx, "packs/x")
		} else {
			_, err = readAll(ctx, b, "packs/x")
		}
		el := time.Since(start)
		if !errors.Is(err, remote.ErrUnreachable) || ctx.Err() != nil {
			t.Fatalf("%s from a silent server: %v after %v", op, err, el)
		}
		t.Logf("%s after %v: %v", op, el.Round(time.Millisecond), err)
		wantMessage(t, op, err, op+" packs/x ", b.Location()+": gave up after 2 attempts (remote unreachable)")
		// Two tries of 300ms, and at most 100ms of backoff.
		if el < 600*time.Millisecond || el > 3*time.Second {
			t.Errorf("%s took %v to fail, want about 2 x 300ms", op, el)
		}
		if n := srv.Requests() - before; n < 1 || n > 2 {
			t.Errorf("%s: %d connections, want 1 or 2", op, n)
		}
		// The breaker is open: the next request fails at once.
		before, start = srv.Requests(), time.Now()
		_, err = readAll(ctx, b, "packs/y")
		if !errors.Is(err, remote.ErrUnreachable) || time.Since(start) > 100*time.Millisecond || srv.Requests() != before {
			t.Errorf("Get after %s gave up: %v after %v", op, err, time.Since(start))
		}
		t.Logf("then Get: %v", err)
		wantMessage(t, "Get after "+op+" gave up", err, "get packs/y from "+b.Location()+": not tried, remote unreachable: "+op+" packs/x ")
		b.Close()
	}
}

func testDrip(t *testing.T, open OpenHostile) {
	data := Data(40, 1<<20)
	srv := NewDripServer(t, data, time.Second)
	o := remote.RetryOptions{RateWindow: time.Second} // MinGetRate: the default
	b := remote.NewRetrying(open(t, srv.URL, hostileTimeouts), o)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	got, err := readAll(ctx, b, "packs/x")
	el := time.Since(start)
	if !errors.Is(err, remote.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Fatalf("Get at 1 byte/s: %d bytes, %v after %v", len(got), err, el)
	}
	t.Logf("after %v: %v", el.Round(time.Millisecond), err)
	wantMessage(t, "Get at 1 byte/s", err, "get packs/x from "+b.Location()+": gave up after 2 attempts (remote unreachable): too slow: ",
		" in 1s from "+b.Location()+" (at least 65536 expected)")
	if len(got) < 2 || !bytes.Equal(got, data[:len(got)]) {
		t.Errorf("%d bytes before failing, want the first ones", len(got))
	}
	// Two windows of a second after the first byte, and a little backoff.
	if el < 2*time.Second || el > 6*time.Second {
		t.Errorf("took %v to fail, want about 2s", el)
	}
	if srv.Requests() != 2 {
		t.Errorf("%d requests, want 2", srv.Requests())
	}
}

func testBreaking(t *testing.T, open OpenHostile, opts HostileOptions) {
	data := Data(41, 64<<10)
	srv := NewBreakingServer(t, data, 100)
	b := remote.NewRetrying(open(t, srv.URL, hostileTimeouts), remote.RetryOptions{})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	got, err := readAll(ctx, b, "packs/x")
	el := time.Since(start)
	if opts.ResumesBodies {
		t.Logf("after %v and %d requests: %d bytes, %v", el.Round(time.Millisecond), srv.Requests(), len(got), err)
		if (err == nil && !bytes.Equal(got, data)) || (err != nil && !bytes.Equal(got, data[:len(got)])) || ctx.Err() != nil {
			t.Errorf("Get breaking every 100 bytes: %d bytes, %v", len(got), err)
		}
		return
	}
	if err == nil || errors.Is(err, remote.ErrUnreachable) || ctx.Err() != nil {
		t.Fatalf("Get breaking every 100 bytes: %d bytes, %v after %v", len(got), err, el)
	}
	t.Logf("after %v: %v", el.Round(time.Millisecond), err)
	wantMessage(t, "Get breaking every 100 bytes", err, "get packs/x from "+b.Location()+": gave up after 5 attempts: ")
	if !bytes.Equal(got, data[:500]) || srv.Requests() != 5 {
		t.Errorf("%d bytes after %d requests, want 500 after 5", len(got), srv.Requests())
	}
	if el > 5*time.Second {
		t.Errorf("took %v to fail", el)
	}
	// Each break after enough progress: the Get resumes to the end.
	srv = NewBreakingServer(t, data[:3000], 100)
	b = remote.NewRetrying(open(t, srv.URL, hostileTimeouts), remote.RetryOptions{ResumeProgress: 100, BaseDelay: time.Millisecond})
	defer b.Close()
	if got, err := readAll(ctx, b, "packs/x"); err != nil || !bytes.Equal(got, data[:3000]) || srv.Requests() != 30 {
		t.Errorf("Get resuming every 100 bytes: %d bytes, %v, after %d requests", len(got), err, srv.Requests())
	}
}
