package remote_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
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
			return remote.NewRetrying(f, (&recorder{}).opts(remote.RetryOptions{Attempts: 20}))
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
	if !errors.Is(err, errTransient) || !strings.Contains(err.Error(), "stat packs/x: gave up after 5 attempts") {
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

	// More drops than attempts, each after progress: still complete.
	f.TruncateGet("x", 10_000, 20)
	got, err = read(context.Background(), b, "x", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get with 20 drops: %d bytes, %v", len(got), err)
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
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "no progress within 50ms") {
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
// reads does not count against the back end.
func TestSlowCallerNoTimeout(t *testing.T) {
	data := remotetest.Data(5, 10_000)
	f, b, _ := setup(t, "x", data, remote.RetryOptions{RequestTimeout: 50 * time.Millisecond})
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
