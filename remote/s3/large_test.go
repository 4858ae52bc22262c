package s3_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/lodevcs/lode/integration/servers"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/remotetest"
)

// TestLargeObject puts and gets a 64 MiB object (the size of a sealed
// pack) and logs the throughput.
func TestLargeObject(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	env := servers.StartS3(t)
	b := largeBackend(t, env)
	defer b.Close()
	const size = 64 << 20
	data := remotetest.Data(64, size)
	ctx := context.Background()

	start := time.Now()
	if err := b.Put(ctx, "packs/large.pack", bytes.NewReader(data), size, remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	putTime := time.Since(start)

	start = time.Now()
	rc, err := b.Get(ctx, "packs/large.pack", 0, -1, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	getTime := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes, not the %d put", len(got), size)
	}

	start = time.Now()
	rc, err = b.Get(ctx, "packs/large.pack", 40<<20, 1<<20, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[40<<20:41<<20]) {
		t.Fatalf("ranged Get: %d bytes, %v", len(got), err)
	}
	rangeTime := time.Since(start)
	mbps := func(d time.Duration) float64 { return size / d.Seconds() / (1 << 20) }
	t.Logf("64 MiB: Put %v (%.0f MiB/s), Get %v (%.0f MiB/s); 1 MiB ranged Get %v",
		putTime.Round(time.Millisecond), mbps(putTime), getTime.Round(time.Millisecond), mbps(getTime), rangeTime.Round(time.Millisecond))
}

func largeBackend(t *testing.T, env servers.Env) remote.Backend {
	return newBackend(t, testConfig(env), env.S3Bucket, servers.Prefix(t))
}
