package remotetest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
	"github.com/lodevcs/lode/remote/remotetest"
)

// A Faulty with no faults is a faithful back end.
func TestFaultyConformance(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Backend { return remotetest.NewFaulty(mem.New()) })
}

var errBoom = errors.New("boom")

func seeded(t *testing.T, name string, data []byte) *remotetest.Faulty {
	t.Helper()
	f := remotetest.NewFaulty(mem.New())
	if err := f.Put(context.Background(), name, bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func read(b remote.Backend, name string, off, length int64) ([]byte, error) {
	rc, err := b.Get(context.Background(), name, off, length, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestFailNextAndEvery(t *testing.T) {
	f := seeded(t, "x", []byte("data"))
	ctx := context.Background()
	f.FailNext(remote.OpStat, 2, errBoom)
	for i, want := range []bool{true, true, false, false} {
		if _, err := f.Stat(ctx, "x"); (err != nil) != want || (err != nil && !errors.Is(err, errBoom)) {
			t.Errorf("Stat %d: %v, want failure %v", i, err, want)
		}
	}
	f.FailEvery(remote.OpGet, 3, errBoom)
	for i := 1; i <= 7; i++ {
		_, err := read(f, "x", 0, -1)
		if want := i%3 == 0; (err != nil) != want {
			t.Errorf("Get %d: %v, want failure %v", i, err, want)
		}
	}
	f.Reset()
	if _, err := read(f, "x", 0, -1); err != nil {
		t.Errorf("after Reset: %v", err)
	}
	if got := f.Calls(remote.OpGet); got != 8 {
		t.Errorf("Calls(get) = %d, want 8", got)
	}
	// Faults with a name apply to that name only.
	f.FailNextFor("", "y", -1, remote.ErrPermission)
	if _, err := f.Stat(ctx, "y"); !errors.Is(err, remote.ErrPermission) {
		t.Errorf("Stat y: %v", err)
	}
	if _, err := read(f, "y", 0, -1); !errors.Is(err, remote.ErrPermission) {
		t.Errorf("Get y: %v", err)
	}
	if _, err := f.Stat(ctx, "x"); err != nil {
		t.Errorf("Stat x: %v", err)
	}
}

func TestCorruptAndTruncate(t *testing.T) {
	data := remotetest.Data(1, 10_000)
	f := seeded(t, "x", data)
	f.CorruptGet("x", 5000)
	got, err := read(f, "x", 4000, 2000)
	if err != nil || len(got) != 2000 || got[1000] != data[5000]^1 || !bytes.Equal(got[:1000], data[4000:5000]) || !bytes.Equal(got[1001:], data[5001:6000]) {
		t.Errorf("corrupt Get: %v; byte 5000 %x, stored %x", err, got[1000], data[5000])
	}
	if got, _ := read(f, "x", 0, 100); !bytes.Equal(got, data[:100]) {
		t.Error("a range not covering the corrupt byte changed")
	}
	f.Reset()
	f.TruncateGet("x", 3000, 1)
	got, err = read(f, "x", 0, -1)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(got, data[:3000]) {
		t.Errorf("truncated Get: %d bytes, %v", len(got), err)
	}
	if got, err := read(f, "x", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get after the truncation was used up: %d bytes, %v", len(got), err)
	}
}

func TestStallAndDelay(t *testing.T) {
	data := remotetest.Data(2, 1000)
	f := seeded(t, "x", data)
	f.StallGet("x", 10, time.Hour, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rc, err := f.Get(ctx, "x", 0, -1, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 10 {
		t.Errorf("stalled Get: %d bytes, %v", len(got), err)
	}
	f.Delay(remote.OpStat, 1, 20*time.Millisecond)
	start := time.Now()
	if _, err := f.Stat(context.Background(), "x"); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Errorf("delayed Stat: %v after %v", err, time.Since(start))
	}
}

func TestFailPutAfter(t *testing.T) {
	f := remotetest.NewFaulty(mem.New())
	data := remotetest.Data(3, 100_000)
	f.FailPutAfter("x", 50_000, 1, errBoom)
	err := f.Put(context.Background(), "x", bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
	if !errors.Is(err, errBoom) {
		t.Errorf("interrupted Put: %v", err)
	}
	if _, err := f.Stat(context.Background(), "x"); !errors.Is(err, remote.ErrNotExist) {
		t.Errorf("after an interrupted Put: %v", err)
	}
	if err := f.Put(context.Background(), "x", bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
		t.Errorf("second Put: %v", err)
	}
}

func TestSlowGet(t *testing.T) {
	data := remotetest.Data(4, 100)
	f := seeded(t, "x", data)
	f.SlowGet("x", 10, 5*time.Millisecond, 1)
	rc, err := f.Get(context.Background(), "x", 0, -1, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 64)
	start := time.Now()
	var got []byte
	for {
		n, err := rc.Read(buf)
		if n > 10 {
			t.Fatalf("read of %d bytes, want at most 10", n)
		}
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data) || time.Since(start) < 50*time.Millisecond {
		t.Errorf("%d bytes in %v", len(got), time.Since(start))
	}
	// A ctx that ends interrupts the wait.
	f.SlowGet("x", 1, time.Minute, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	rc, err = f.Get(ctx, "x", 0, -1, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Read(buf); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read with ctx ended: %v", err)
	}
	// Only n bodies are slow.
	if got, err := read(f, "x", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Errorf("after the slow bodies: %d bytes, %v", len(got), err)
	}
}
