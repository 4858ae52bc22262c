package rangeread

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/cas/transfer"
	"github.com/lodevcs/lode/remote"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func add(t *testing.T, s *store.Store, data []byte) pointer.Pointer {
	t.Helper()
	pk := s.NewPacker()
	defer pk.Close()
	p, err := filer.Clean(context.Background(), bytes.NewReader(data), pk, s.Codec(), filer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pk.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func newRemote(t *testing.T, b remote.Backend) *remotestore.Store {
	codec, err := compress.New(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	return remotestore.New(b, filepath.Join(t.TempDir(), "cache"), codec)
}

// Push pushes ptrs from st to a remote over b.
func Push(ctx context.Context, st *store.Store, r *remotestore.Store, ptrs []pointer.Pointer, opts transfer.Options) (transfer.Stats, error) {
	return transfer.Push(ctx, st, r, ptrs, opts)
}

// Options are transfer options.
type Options = transfer.Options

// counting counts requests that reach a back end.
type counting struct {
	remote.Backend
	mu   sync.Mutex
	gets int
}

func (c *counting) Get(ctx context.Context, name string, off, n int64, o remote.GetOptions) (io.ReadCloser, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.Backend.Get(ctx, name, off, n, o)
}

func csvData(seed uint64, rows int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	var b bytes.Buffer
	for i := range rows {
		fmt.Fprintf(&b, "%d,%d,%.4f\n", i, r.IntN(1000), r.Float64())
	}
	return b.Bytes()
}
