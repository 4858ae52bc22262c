package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
	"github.com/lodevcs/lode/remote/remotetest"
)

var errTransient = errors.New("503 Service Unavailable (injected)")

// recorder collects what the decorator reports, and sleeps for no time.
type recorder struct {
	mu      sync.Mutex
	sleeps  []time.Duration
	retries []string // "op name attempt: err"
	errs    []error
}

func (r *recorder) opts(o remote.RetryOptions) remote.RetryOptions {
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		r.mu.Lock()
		r.sleeps = append(r.sleeps, d)
		r.mu.Unlock()
		return ctx.Err()
	}
	o.OnRetry = func(op, name string, attempt int, err error) {
		r.mu.Lock()
		r.retries = append(r.retries, fmt.Sprintf("%s %s %d", op, name, attempt))
		r.errs = append(r.errs, err)
		r.mu.Unlock()
	}
	return o
}

func put(ctx context.Context, b remote.Backend, name string, data []byte) error {
	return b.Put(ctx, name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
}

func read(ctx context.Context, b remote.Backend, name string, off, length int64) ([]byte, error) {
	rc, err := b.Get(ctx, name, off, length, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// setup returns a Faulty in-memory store holding name, and the decorator
// around it.
func setup(t *testing.T, name string, data []byte, o remote.RetryOptions) (*remotetest.Faulty, remote.Backend, *recorder) {
	t.Helper()
	f := remotetest.NewFaulty(mem.New())
	if data != nil {
		if err := put(context.Background(), f, name, data); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	return f, remote.NewRetrying(f, rec.opts(o)), rec
}

func TestRetryingConformance(t *testing.T) {
	t.Run("Plain", func(t *testing.T) {
		remotetest.Run(t, func(t *testing.T) remote.Backend {
			return remote.NewRetrying(mem.New(), (&recorder{}).opts(remote.RetryOptions{}))
		})
	})
	// Every third call fails and every body drops after 3000 bytes: the
	// decorator must hide that entirely. (With concurrent callers the
	// failures fall on tries at random, hence the many attempts.)
	t.Run("Faulty", func(t *testing.T) {
		remotetest.Run(t, func(t *testing.T) remote.Backend {
			f := remotetest.NewFaulty(mem.New())
			f.FailEvery("", 3, errTransient)
			f.TruncateGet("", 3000, -1)
			// Every 3000 bytes are enough progress to count afresh.
			return remote.NewRetrying(f, (&recorder{}).opts(remote.RetryOptions{Attempts: 20, ResumeProgress: 1000, MaxRetryWait: time.Hour}))
		})
	})
}

func TestRetriesTransient(t *testing.T) {
	data := remotetest.Data(1, 5000)
	f, b, rec := setup(t, "x", data, remote.RetryOptions{})
	f.FailNext(remote.OpGet, 2, errTransient)
	got, err := read(context.Background(), b, "x", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	if n := f.Calls(remote.OpGet); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if want := []string{"get x 1", "get x 2"}; fmt.Sprint(rec.retries) != fmt.Sprint(want) {
		t.Errorf("OnRetry calls %v, want %v", rec.retries, want)
	}
	for i, err := range rec.errs {
		if !errors.Is(err, errTransient) {
			t.Errorf("OnRetry %d: %v", i, err)
		}
	}
	for i, d := range rec.sleeps {
		if ceil := remote.DefaultBaseDelay << i; d < 0 || d > ceil {
			t.Errorf("sleep %d: %v, want within [0, %v]", i, d, ceil)
		}
	}
	for _, op := range []string{remote.OpStat, remote.OpDelete, remote.OpList, remote.OpPut} {
		f.FailNext(op, 4, errTransient)
	}
	ctx := context.Background()
	if err := put(ctx, b, "y", data); err != nil {
		t.Errorf("Put: %v", err)
	}
	if info, err := b.Stat(ctx, "y"); err != nil || info.Size != int64(len(data)) {
		t.Errorf("Stat: %v, %v", info, err)
	}
	n := 0
	if err := b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("List: %d objects, %v", n, err)
	}
	if err := b.Delete(ctx, "y"); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

func TestGivesUp(t *testing.T) {
	f, b, rec := setup(t, "packs/x", []byte("x"), remote.RetryOptions{})
	f.FailNext(remote.OpStat, -1, errTransient)
	_, err := b.Stat(context.Background(), "packs/x")
	if !errors.Is(err, errTransient) || !strings.Contains(err.Error(), "stat packs/x on faulty:mem:: gave up after 5 attempts: ") {
		t.Errorf("error %q", err)
	}
	if n := f.Calls(remote.OpStat); n != 5 {
		t.Errorf("%d calls, want 5", n)
	}
	if len(rec.sleeps) != 4 {
		t.Errorf("%d sleeps, want 4", len(rec.sleeps))
	}

	f, b, _ = setup(t, "x", []byte("x"), remote.RetryOptions{Attempts: 2})
	f.FailNext(remote.OpGet, -1, errTransient)
	if _, err := read(context.Background(), b, "x", 0, -1); !strings.Contains(err.Error(), "gave up after 2 attempts") || f.Calls(remote.OpGet) != 2 {
		t.Errorf("Attempts 2: %v after %d calls", err, f.Calls(remote.OpGet))
	}
}

func TestPermanentNotRetried(t *testing.T) {
	for _, perm := range []error{remote.ErrNotExist, remote.ErrPermission, remote.ErrReadOnly, remote.ErrRange, remote.ErrInvalidName, errors.ErrUnsupported} {
		f, b, rec := setup(t, "x", []byte("x"), remote.RetryOptions{})
		f.FailNext("", 1, perm)
		_, err := read(context.Background(), b, "x", 0, -1)
		if !errors.Is(err, perm) || f.Calls("") != 2 || len(rec.sleeps) != 0 {
			t.Errorf("%v: %v after %d calls", perm, err, f.Calls(remote.OpGet))
		}
	}
	// And from the real store.
	f, b, _ := setup(t, "x", []byte("x"), remote.RetryOptions{})
	if _, err := b.Stat(context.Background(), "missing"); !errors.Is(err, remote.ErrNotExist) || f.Calls(remote.OpStat) != 1 {
		t.Errorf("Stat of missing: %v after %d calls", err, f.Calls(remote.OpStat))
	}
	if _, err := read(context.Background(), b, "x", 5, -1); !errors.Is(err, remote.ErrRange) || f.Calls(remote.OpGet) != 1 {
		t.Errorf("Get past the end: %v after %d calls", err, f.Calls(remote.OpGet))
	}
}

func TestStopsOnCancel(t *testing.T) {
	f := remotetest.NewFaulty(mem.New())
	f.FailNext(remote.OpPut, -1, errTransient)
	ctx, cancel := context.WithCancel(context.Background())
	b := remote.NewRetrying(f, remote.RetryOptions{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel() // the user presses ^C while the decorator waits
		<-ctx.Done()
		return ctx.Err()
	}})
	err := put(ctx, b, "x", []byte("x"))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) || f.Calls(remote.OpPut) != 1 {
		t.Errorf("cancelled during backoff: %v after %d calls", err, f.Calls(remote.OpPut))
	}
	// A ctx done before the call: one try at most, its error.
	err = put(ctx, b, "x", []byte("x"))
	if !errors.Is(err, context.Canceled) || f.Calls(remote.OpPut) > 2 {
		t.Errorf("cancelled before: %v after %d calls", err, f.Calls(remote.OpPut))
	}
}

func TestGetResumesBody(t *testing.T) {
	data := remotetest.Data(2, 1<<20)
	f, b, rec := setup(t, "x", data, remote.RetryOptions{})
	f.TruncateGet("x", 100_000, 3)
	got, err := read(context.Background(), b, "x", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	if n := f.Calls(remote.OpGet); n != 4 {
		t.Errorf("%d calls, want 4", n)
	}
	if len(rec.errs) != 3 || !errors.Is(rec.errs[0], io.ErrUnexpectedEOF) {
		t.Errorf("OnRetry errors %v", rec.errs)
	}

	// A ranged Get, cut at odd places.
	f.TruncateGet("x", 123_457, 2)
	got, err = read(context.Background(), b, "x", 1000, 500_000)
	if err != nil || !bytes.Equal(got, data[1000:501_000]) {
		t.Fatalf("ranged Get: %d bytes, %v", len(got), err)
	}

	// More drops than attempts, each after ResumeProgress bytes: still
	// complete.
	f, b, _ = setup(t, "x", data, remote.RetryOptions{ResumeProgress: 10_000})
	f.TruncateGet("x", 10_000, 20)
	got, err = read(context.Background(), b, "x", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get with 20 drops: %d bytes, %v", len(got), err)
	}
}

// TestGetResumeBounded checks that a connection breaking after every few
// bytes fails the Get after Attempts tries, although each try delivered
// bytes.
func TestGetResumeBounded(t *testing.T) {
	data := remotetest.Data(2, 1<<20)
	f, b, rec := setup(t, "x", data, remote.RetryOptions{})
	f.TruncateGet("x", 10, -1)
	got, err := read(context.Background(), b, "x", 0, -1)
	if err == nil || !strings.Contains(err.Error(), "get x from faulty:mem:: gave up after 5 attempts: ") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Get breaking every 10 bytes: %v", err)
	}
	if errors.Is(err, remote.ErrUnreachable) {
		t.Errorf("%v: a connection that breaks is not an unreachable remote", err)
	}
	if len(got) != 50 || !bytes.Equal(got, data[:50]) || f.Calls(remote.OpGet) != 5 || len(rec.sleeps) != 4 {
		t.Errorf("%d bytes after %d calls and %d sleeps, want 50, 5, 4", len(got), f.Calls(remote.OpGet), len(rec.sleeps))
	}
}

func TestGetResumeGivesUp(t *testing.T) {
	data := remotetest.Data(3, 100_000)
	f, b, _ := setup(t, "x", data, remote.RetryOptions{})
	f.TruncateGet("x", 1000, 1)
	rc, err := b.Get(context.Background(), "x", 0, -1, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f.FailNext(remote.OpGet, -1, errTransient) // the server goes away
	got, err := io.ReadAll(rc)
	if !bytes.Equal(got, data[:1000]) || !errors.Is(err, errTransient) || !strings.Contains(err.Error(), "gave up after 5 attempts") {
		t.Errorf("%d bytes, %v", len(got), err)
	}
	if _, err := rc.Read(make([]byte, 10)); err == nil {
		t.Error("read after the final error succeeded")
	}
}

func TestTimeouts(t *testing.T) {
	o := remote.RetryOptions{RequestTimeout: 50 * time.Millisecond, PutTimeout: 50 * time.Millisecond}
	data := remotetest.Data(4, 10_000)
	f, b, rec := setup(t, "x", data, o)
	start := time.Now()
	f.Delay(remote.OpStat, 1, time.Minute)
	if _, err := b.Stat(context.Background(), "x"); err != nil {
		t.Errorf("Stat: %v", err)
	}
	f.Delay(remote.OpPut, 1, time.Minute)
	if err := put(context.Background(), b, "y", data); err != nil {
		t.Errorf("Put: %v", err)
	}
	f.StallGet("x", 4000, time.Minute, 1)
	if got, err := read(context.Background(), b, "x", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Errorf("stalled Get: %d bytes, %v", len(got), err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %v", el)
	}
	if len(rec.errs) != 3 {
		t.Fatalf("retries %v, want 3", rec.retries)
	}
	for _, err := range rec.errs {
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), " within 50ms from faulty:mem:") {
			t.Errorf("timeout error %q", err)
		}
	}
	// Every try timing out: the final error says so.
	f.Delay(remote.OpDelete, -1, time.Minute)
	err := b.Delete(context.Background(), "y")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("Delete timing out: %v", err)
	}
}

// TestSlowCallerNoTimeout checks that the time a caller spends between
// reads counts neither as time without progress nor against the minimum
// rate.
func TestSlowCallerNoTimeout(t *testing.T) {
	data := remotetest.Data(5, 10_000)
	// 1 MB/s over 100ms windows: 10,000 bytes in 100ms of the caller's
	// time would be too slow.
	o := remote.RetryOptions{RequestTimeout: 50 * time.Millisecond, MinGetRate: 1e6, RateWindow: 100 * time.Millisecond}
	f, b, _ := setup(t, "x", data, o)
	rc, err := b.Get(context.Background(), "x", 0, -1, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []byte
	buf := make([]byte, 4000)
	for {
		time.Sleep(120 * time.Millisecond)
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data) || f.Calls(remote.OpGet) != 1 {
		t.Errorf("%d bytes after %d calls", len(got), f.Calls(remote.OpGet))
	}
}

func TestPutTimeoutScalesWithSize(t *testing.T) {
	o := remote.RetryOptions{PutTimeout: 30 * time.Millisecond, MinPutRate: 1000}
	f, b, _ := setup(t, "", nil, o)
	f.Delay(remote.OpPut, 1, 150*time.Millisecond)
	if err := put(context.Background(), b, "big", make([]byte, 500)); err != nil || f.Calls(remote.OpPut) != 1 {
		t.Errorf("500 bytes at 1000 B/s within 500ms: %v after %d calls", err, f.Calls(remote.OpPut))
	}
	f.Delay(remote.OpPut, 1, 150*time.Millisecond)
	if err := put(context.Background(), b, "small", make([]byte, 1)); err != nil || f.Calls(remote.OpPut) != 3 {
		t.Errorf("1 byte within 30ms: %v after %d calls", err, f.Calls(remote.OpPut))
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		rnd  float64
		want []time.Duration
	}{
		{0.5, []time.Duration{50, 100, 200, 400, 800, 1600, 2500, 2500}},
		{0, []time.Duration{0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		rec := &recorder{}
		o := rec.opts(remote.RetryOptions{Attempts: 9, Rand: func() float64 { return tc.rnd }})
		f := remotetest.NewFaulty(mem.New())
		f.FailNext("", -1, errTransient)
		remote.NewRetrying(f, o).Stat(context.Background(), "x")
		for i := range tc.want {
			tc.want[i] *= time.Millisecond
		}
		if fmt.Sprint(rec.sleeps) != fmt.Sprint(tc.want) {
			t.Errorf("rand %v: sleeps %v, want %v", tc.rnd, rec.sleeps, tc.want)
		}
	}
	rec := &recorder{}
	o := rec.opts(remote.RetryOptions{Attempts: 4, BaseDelay: time.Second, MaxDelay: 2 * time.Second, Rand: func() float64 { return 1 }})
	f := remotetest.NewFaulty(mem.New())
	f.FailNext("", -1, errTransient)
	remote.NewRetrying(f, o).Stat(context.Background(), "x")
	if want := "[1s 2s 2s]"; fmt.Sprint(rec.sleeps) != want {
		t.Errorf("custom delays: %v, want %v", rec.sleeps, want)
	}
}

func TestPutRestartsSource(t *testing.T) {
	data := remotetest.Data(6, 300_000)
	f, b, _ := setup(t, "", nil, remote.RetryOptions{})
	f.FailPutAfter("x", 150_000, 2, errTransient)
	if err := put(context.Background(), b, "x", data); err != nil {
		t.Fatal(err)
	}
	got, err := read(context.Background(), f, "x", 0, -1)
	if err != nil || !bytes.Equal(got, data) || f.Calls(remote.OpPut) != 3 {
		t.Errorf("%d bytes, %v, after %d calls", len(got), err, f.Calls(remote.OpPut))
	}
}

// flakyLister lists in name order, and its first listings fail after
// passing objects to fn, a few more each time (after, 2*after, ...).
type flakyLister struct {
	remote.Backend
	fails, after int
	calls        int
}

func (l *flakyLister) List(ctx context.Context, prefix string, opts remote.ListOptions, fn func(remote.Info) error) error {
	l.calls++
	var infos []remote.Info
	if err := l.Backend.List(ctx, prefix, opts, func(i remote.Info) error { infos = append(infos, i); return nil }); err != nil {
		return err
	}
	slices.SortFunc(infos, func(a, b remote.Info) int { return strings.Compare(a.Name, b.Name) })
	for n, i := range infos {
		if l.fails > 0 && n == l.after*l.calls {
			l.fails--
			return errTransient
		}
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

func TestListResumes(t *testing.T) {
	m := mem.New()
	for i := range 10 {
		if err := put(context.Background(), m, fmt.Sprintf("o/%d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l := &flakyLister{Backend: m, fails: 7, after: 1} // more failures than attempts, each after progress
	rec := &recorder{}
	b := remote.NewRetrying(l, rec.opts(remote.RetryOptions{}))
	seen := map[string]int{}
	if err := b.List(context.Background(), "o/", remote.ListOptions{}, func(i remote.Info) error { seen[i.Name]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 10 {
		t.Errorf("saw %d objects, want 10", len(seen))
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s passed to fn %d times", name, n)
		}
	}
	if len(rec.retries) != 7 {
		t.Errorf("%d retries, want 7", len(rec.retries))
	}
	// fn's own error is not retried.
	l.calls = 0
	errStop := errors.New("stop")
	err := b.List(context.Background(), "o/", remote.ListOptions{}, func(remote.Info) error { return errStop })
	if !errors.Is(err, errStop) || l.calls != 1 {
		t.Errorf("fn failing: %v after %d listings", err, l.calls)
	}
}

// errRefused is what a dial to a port nobody listens on returns.
var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

// TestUnreachableTriesFewer checks that tries that could not connect or
// timed out are retried fewer times than server errors, and that the
// final error says the remote is unreachable.
func TestUnreachableTriesFewer(t *testing.T) {
	for _, tc := range []struct {
		err         error
		calls       int
		unreachable bool
	}{
		{errRefused, 2, true},
		{os.ErrDeadlineExceeded, 2, true}, // has Timeout() true, as client timeouts do
		{&net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}, 2, true},
		{errTransient, 5, false},
	} {
		f, b, _ := setup(t, "x", []byte("x"), remote.RetryOptions{})
		f.FailNext(remote.OpStat, -1, tc.err)
		_, err := b.Stat(context.Background(), "x")
		if !errors.Is(err, tc.err) || errors.Is(err, remote.ErrUnreachable) != tc.unreachable || f.Calls(remote.OpStat) != tc.calls {
			t.Errorf("%v: %v after %d calls, want %d calls", tc.err, err, f.Calls(remote.OpStat), tc.calls)
		}
		if want := fmt.Sprintf("stat x on faulty:mem:: gave up after %d attempts", tc.calls); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: message %q lacks %q", tc.err, err, want)
		}
	}
	// Timeouts among server errors: the second timeout ends it.
	s := &scripted{Backend: mem.New(), errs: []error{errTransient, errRefused, errTransient, errRefused, nil}}
	b := remote.NewRetrying(s, (&recorder{}).opts(remote.RetryOptions{}))
	if _, err := b.Stat(context.Background(), "x"); !errors.Is(err, remote.ErrUnreachable) || s.calls != 4 {
		t.Errorf("mixed failures: %v after %d calls, want 4", err, s.calls)
	}
}

// scripted fails its Stats with errs, one after the other.
type scripted struct {
	remote.Backend
	errs  []error
	calls int
}

func (s *scripted) Stat(ctx context.Context, name string) (remote.Info, error) {
	err := s.errs[s.calls]
	s.calls++
	if err != nil {
		return remote.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return remote.Info{Name: name}, nil
}

// TestGetTooSlow checks the minimum rate of a Get body: a body that
// brings fewer than MinGetRate*RateWindow bytes in a window fails the try,
// although every read brings a byte.
func TestGetTooSlow(t *testing.T) {
	data := remotetest.Data(7, 5000)
	o := remote.RetryOptions{RateWindow: 200 * time.Millisecond, MinGetRate: 10_000, RequestTimeout: 5 * time.Second}
	f, b, rec := setup(t, "x", data, o)
	f.SlowGet("x", 1, 10*time.Millisecond, -1) // 100 bytes per second
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	got, err := read(ctx, b, "x", 0, -1)
	el := time.Since(start)
	if err == nil || !errors.Is(err, remote.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("Get at 100 B/s: %d bytes, %v", len(got), err)
	}
	for _, want := range []string{"get x from faulty:mem:: gave up after 2 attempts", "too slow: ", " bytes in 200ms from faulty:mem: (at least 2000 expected)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if f.Calls(remote.OpGet) != 2 || len(rec.errs) != 1 || !strings.Contains(rec.errs[0].Error(), "too slow") {
		t.Errorf("%d calls, retries %v", f.Calls(remote.OpGet), rec.errs)
	}
	if !bytes.Equal(got, data[:len(got)]) || len(got) < 20 {
		t.Errorf("%d bytes before failing, want the first ones", len(got))
	}
	if el > 3*time.Second {
		t.Errorf("took %v to fail, want about 2 windows", el)
	}

	// Slow, but above the minimum: fine.
	o.MinGetRate = 1000
	f, b, _ = setup(t, "x", data, o)
	f.SlowGet("x", 100, 10*time.Millisecond, -1) // about 10 kB per second
	if got, err := read(ctx, b, "x", 0, -1); err != nil || !bytes.Equal(got, data) || f.Calls(remote.OpGet) != 1 {
		t.Errorf("Get at 10 kB/s: %d bytes, %v, after %d calls", len(got), err, f.Calls(remote.OpGet))
	}

	// The check off.
	o.MinGetRate = -1
	f, b, _ = setup(t, "x", data[:100], o)
	f.SlowGet("x", 1, 5*time.Millisecond, -1)
	if got, err := read(ctx, b, "x", 0, -1); err != nil || len(got) != 100 {
		t.Errorf("Get with MinGetRate -1: %d bytes, %v", len(got), err)
	}
}

// slowLister lists in name order, waiting for every before each object.
type slowLister struct {
	remote.Backend
	every time.Duration
	calls int
}

func (l *slowLister) List(ctx context.Context, prefix string, opts remote.ListOptions, fn func(remote.Info) error) error {
	l.calls++
	var infos []remote.Info
	if err := l.Backend.List(ctx, prefix, opts, func(i remote.Info) error { infos = append(infos, i); return nil }); err != nil {
		return err
	}
	slices.SortFunc(infos, func(a, b remote.Info) int { return strings.Compare(a.Name, b.Name) })
	for _, i := range infos {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.every):
		}
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

func TestListTooSlow(t *testing.T) {
	m := mem.New()
	for i := range 100 {
		if err := put(context.Background(), m, fmt.Sprintf("o/%03d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l := &slowLister{Backend: m, every: 20 * time.Millisecond} // 50 objects per second
	rec := &recorder{}
	b := remote.NewRetrying(l, rec.opts(remote.RetryOptions{RateWindow: 200 * time.Millisecond, MinListRate: 200}))
	n := 0
	start := time.Now()
	err := b.List(context.Background(), "o/", remote.ListOptions{}, func(remote.Info) error {
		time.Sleep(30 * time.Millisecond) // the caller's time does not count
		n++
		return nil
	})
	if !errors.Is(err, remote.ErrUnreachable) || !strings.Contains(err.Error(), "list o/* on mem:: gave up after 2 attempts") ||
		!strings.Contains(err.Error(), " objects in 200ms from mem: (at least 40 expected)") {
		t.Errorf("List at 50 objects/s: %v", err)
	}
	// Two tries, or a few more when scheduling let a retry deliver an
	// object the first did not (progress counts the tries afresh).
	if l.calls < 2 || l.calls > 4 || n == 0 || n >= 100 {
		t.Errorf("%d listings, %d objects passed to fn", l.calls, n)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
	// Fast enough, with a slow caller.
	l = &slowLister{Backend: m, every: time.Millisecond}
	b = remote.NewRetrying(l, rec.opts(remote.RetryOptions{RateWindow: 200 * time.Millisecond, MinListRate: 200}))
	n = 0
	if err := b.List(context.Background(), "o/", remote.ListOptions{}, func(remote.Info) error { time.Sleep(5 * time.Millisecond); n++; return nil }); err != nil || n != 100 || l.calls != 1 {
		t.Errorf("List at 1000 objects/s: %d objects, %v, %d listings", n, err, l.calls)
	}
}

// TestRetryWaitBounded checks that the sleeps of one request, resumes of a
// Get included, stop at MaxRetryWait.
func TestRetryWaitBounded(t *testing.T) {
	o := remote.RetryOptions{Attempts: 100, BaseDelay: time.Second, MaxDelay: time.Second, Rand: func() float64 { return 1 }, MaxRetryWait: 3500 * time.Millisecond}
	f, b, rec := setup(t, "x", remotetest.Data(8, 100_000), o)
	f.FailNext(remote.OpStat, -1, errTransient)
	_, err := b.Stat(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "gave up after 4 attempts, having waited 3s to retry (at most 3.5s)") || !errors.Is(err, errTransient) {
		t.Errorf("Stat: %v", err)
	}
	if fmt.Sprint(rec.sleeps) != "[1s 1s 1s]" {
		t.Errorf("sleeps %v", rec.sleeps)
	}
	// A Get whose every try makes progress, then breaks.
	o.ResumeProgress, o.MaxRetryWait = 100, 5500*time.Millisecond
	f, b, rec = setup(t, "x", remotetest.Data(8, 100_000), o)
	f.TruncateGet("x", 1000, -1)
	got, err := read(context.Background(), b, "x", 0, -1)
	if err == nil || !strings.Contains(err.Error(), "gave up after 1 attempt, having waited 5s") || len(got) != 6000 || len(rec.sleeps) != 5 {
		t.Errorf("Get: %d bytes, %v, after %d sleeps", len(got), err, len(rec.sleeps))
	}
}

// manualClock is a clock for the circuit breaker that moves only when
// told to.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestBreaker checks that once a request gave up because the remote was
// unreachable, every request fails at once for BreakerCooldown; then
// requests probe with one try until one succeeds.
func TestBreaker(t *testing.T) {
	clock := &manualClock{now: time.Unix(1e9, 0)}
	data := remotetest.Data(9, 1000)
	f, b, _ := setup(t, "x", data, remote.RetryOptions{RequestTimeout: 20 * time.Millisecond, Now: clock.Now})
	base := f.Calls("") // the Put of setup
	calls := func() int { return f.Calls("") - base }
	ctx := context.Background()
	f.Delay("", -1, time.Minute) // the remote hangs
	_, err := b.Stat(ctx, "x")
	if !errors.Is(err, remote.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) || calls() != 2 {
		t.Fatalf("Stat of a hanging remote: %v after %d calls", err, calls())
	}
	clock.advance(10 * time.Second)
	start := time.Now()
	errs := map[string]error{}
	_, errs["get"] = b.Get(ctx, "x", 0, -1, remote.GetOptions{})
	_, errs["stat"] = b.Stat(ctx, "y")
	errs["put"] = put(ctx, b, "y", data)
	errs["list"] = b.List(ctx, "", remote.ListOptions{}, func(remote.Info) error { return nil })
	errs["delete"] = b.Delete(ctx, "x")
	for op, err := range errs {
		if !errors.Is(err, remote.ErrUnreachable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while the breaker is open: %v", op, err)
			continue
		}
		for _, want := range []string{op + " ", "faulty:mem:: not tried, remote unreachable: stat x on faulty:mem: gave up 10s ago (next try allowed in 20s): no answer within 20ms from faulty:mem:"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: message %q lacks %q", op, err, want)
			}
		}
	}
	if calls() != 2 {
		t.Errorf("%d calls reached the back end while the breaker was open", calls()-2)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("refusing took %v", el)
	}
	// Cooldown over: one try, which fails and opens the breaker again.
	clock.advance(21 * time.Second)
	if _, err := b.Stat(ctx, "x"); !strings.Contains(err.Error(), "gave up after 1 attempt (remote unreachable)") || calls() != 3 {
		t.Errorf("probe: %v after %d calls", err, calls())
	}
	if _, err := b.Stat(ctx, "x"); !strings.Contains(err.Error(), "not tried") || calls() != 3 {
		t.Errorf("after the probe: %v after %d calls", err, calls())
	}
	// The remote is back: a success closes the breaker, and the next
	// outage costs the full tries again.
	clock.advance(31 * time.Second)
	f.Reset()
	if got, err := read(ctx, b, "x", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after the outage: %d bytes, %v", len(got), err)
	}
	f.Delay("", -1, time.Minute)
	if _, err := b.Stat(ctx, "x"); !strings.Contains(err.Error(), "gave up after 2 attempts (remote unreachable)") || calls() != 6 {
		t.Errorf("second outage: %v after %d calls", err, calls())
	}

	// Server errors do not open the breaker; a negative cooldown turns it off.
	for _, tc := range []struct {
		fail     error
		cooldown time.Duration
	}{{errTransient, 0}, {errRefused, -1}} {
		f, b, _ := setup(t, "x", data, remote.RetryOptions{BreakerCooldown: tc.cooldown})
		f.FailNext(remote.OpStat, -1, tc.fail)
		b.Stat(ctx, "x")
		calls := f.Calls("")
		if _, err := b.Stat(ctx, "x"); err == nil || strings.Contains(err.Error(), "not tried") || f.Calls("") == calls {
			t.Errorf("%v, cooldown %v: %v", tc.fail, tc.cooldown, err)
		}
	}
}

// gated fails every Stat with errRefused; a Stat of "late" first closes
// started, then waits until release is closed.
type gated struct {
	remote.Backend
	started, release chan struct{}
}

func (g *gated) Stat(ctx context.Context, name string) (remote.Info, error) {
	if name == "late" {
		close(g.started)
		<-g.release
	}
	return remote.Info{}, fmt.Errorf("stat %s: %w", name, errRefused)
}

// TestBreakerStopsRequestsUnderWay checks that a request whose try was
// under way when another one gave up stops at its next unreachable
// failure.
func TestBreakerStopsRequestsUnderWay(t *testing.T) {
	g := &gated{Backend: mem.New(), started: make(chan struct{}), release: make(chan struct{})}
	b := remote.NewRetrying(g, (&recorder{}).opts(remote.RetryOptions{}))
	done := make(chan error)
	go func() {
		_, err := b.Stat(context.Background(), "late")
		done <- err
	}()
	<-g.started
	if _, err := b.Stat(context.Background(), "early"); !strings.Contains(err.Error(), "gave up after 2 attempts (remote unreachable)") {
		t.Errorf("early: %v", err)
	}
	close(g.release)
	if err := <-done; !strings.Contains(err.Error(), "stat late on mem:: gave up after 1 attempt (remote unreachable)") {
		t.Errorf("late: %v", err)
	}
}
