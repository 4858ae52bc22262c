package remote

import (
	"context"
	"io"
	"sync/atomic"
)

// Counting is a decorator that counts the requests made to a Backend and
// the bytes that crossed it, for the summary a push or fetch prints and
// for benchmarks. A retried request counts once per attempt when Counting
// sits below the retrying decorator, once in all when above it.
type Counting struct {
	Backend
	requests atomic.Int64
	sent     atomic.Int64 // bytes given to Put
	received atomic.Int64 // bytes read from Get bodies
}

// NewCounting wraps b.
func NewCounting(b Backend) *Counting { return &Counting{Backend: b} }

// Requests is the number of calls made so far.
func (c *Counting) Requests() int64 { return c.requests.Load() }

// BytesSent is the number of bytes passed to Put so far.
func (c *Counting) BytesSent() int64 { return c.sent.Load() }

// BytesReceived is the number of bytes read from Get so far.
func (c *Counting) BytesReceived() int64 { return c.received.Load() }

func (c *Counting) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions) error {
	c.requests.Add(1)
	err := c.Backend.Put(ctx, name, src, size, opts)
	if err == nil {
		c.sent.Add(size)
	}
	return err
}

func (c *Counting) Get(ctx context.Context, name string, off, length int64, opts GetOptions) (io.ReadCloser, error) {
	c.requests.Add(1)
	rc, err := c.Backend.Get(ctx, name, off, length, opts)
	if err != nil {
		return nil, err
	}
	return &countingBody{ReadCloser: rc, n: &c.received}, nil
}

func (c *Counting) Stat(ctx context.Context, name string) (Info, error) {
	c.requests.Add(1)
	return c.Backend.Stat(ctx, name)
}

func (c *Counting) List(ctx context.Context, prefix string, opts ListOptions, fn func(Info) error) error {
	c.requests.Add(1)
	return c.Backend.List(ctx, prefix, opts, fn)
}

func (c *Counting) Delete(ctx context.Context, name string) error {
	c.requests.Add(1)
	return c.Backend.Delete(ctx, name)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

var _ Backend = (*Counting)(nil)
