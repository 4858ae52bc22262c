package remote_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/mem"
	"github.com/lodevcs/lode/remote/remotetest"
)

func TestCountingConforms(t *testing.T) {
	remotetest.Run(t, func(t *testing.T) remote.Backend { return remote.NewCounting(mem.New()) })
}

func TestCountingCounts(t *testing.T) {
	ctx := context.Background()
	c := remote.NewCounting(mem.New())
	data := bytes.Repeat([]byte("x"), 1000)
	if err := c.Put(ctx, "a", bytes.NewReader(data), int64(len(data)), remote.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Get(ctx, "a", 100, 300, remote.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	c.Stat(ctx, "a")
	c.Stat(ctx, "missing")
	if c.Requests() != 4 || c.BytesSent() != 1000 || c.BytesReceived() != 300 {
		t.Fatalf("requests %d sent %d received %d", c.Requests(), c.BytesSent(), c.BytesReceived())
	}
}
