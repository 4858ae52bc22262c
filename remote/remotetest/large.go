package remotetest

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/lodevcs/lode/remote"
)

// RunLarge puts and gets a 64 MiB object (the size of a sealed pack),
// reads 1 MiB of it by range, checks the bytes and logs the throughput.
// It skips under -short.
func RunLarge(t *testing.T, newBackend Factory) {
	if testing.Short() {
		t.Skip("-short")
	}
	b := newBackend(t)
	defer b.Close()
	const size = 64 << 20
	data := Data(64, size)
	ctx := context.Background()

	start := time.Now()
	if err := b.Put(ctx, "packs/large.pack", bytes.NewReader(data), size, remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	putTime := time.Since(start)

	start = time.Now()
	got, err := readRange(ctx, b, 0, -1)
	getTime := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes, not the %d put", len(got), size)
	}

	start = time.Now()
	got, err = readRange(ctx, b, 40<<20, 1<<20)
	rangeTime := time.Since(start)
	if err != nil || !bytes.Equal(got, data[40<<20:41<<20]) {
		t.Fatalf("ranged Get: %d bytes, %v", len(got), err)
	}
	mbps := func(d time.Duration) float64 { return size / d.Seconds() / (1 << 20) }
	t.Logf("64 MiB: Put %v (%.0f MiB/s), Get %v (%.0f MiB/s); 1 MiB ranged Get %v",
		putTime.Round(time.Millisecond), mbps(putTime), getTime.Round(time.Millisecond), mbps(getTime), rangeTime.Round(time.Millisecond))
}

func readRange(ctx context.Context, b remote.Backend, off, n int64) ([]byte, error) {
	rc, err := b.Get(ctx, "packs/large.pack", off, n, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
