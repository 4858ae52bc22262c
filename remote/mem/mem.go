package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/lodevcs/lode/remote"
)

var _ remote.Backend = (*Backend)(nil)

// Backend is an in-memory store, safe for concurrent use. The zero value
// is not usable; call New.
type Backend struct {
	mu      sync.RWMutex      // guards objects
	objects map[string][]byte // never modified in place: Put stores a new slice
}

// New returns an empty store.
func New() *Backend {
	return &Backend{objects: map[string][]byte{}}
}

// Put copies size bytes of src and stores them under name. The object
// appears only once all of them have been read.
func (b *Backend) Put(ctx context.Context, name string, src io.ReaderAt, size int64, _ remote.PutOptions) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	if err := remote.ValidateName(name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", name, size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(src, 0, size), data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("put %s: read source: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	b.mu.Lock()
	b.objects[name] = data
	b.mu.Unlock()
	return nil
}

// Get returns a reader of length bytes of name from off (to the end if
// length < 0).
func (b *Backend) Get(ctx context.Context, name string, off, length int64, _ remote.GetOptions) (io.ReadCloser, error) {
	data, err := b.lookup(ctx, remote.OpGet, name)
	if err != nil {
		return nil, err
	}
	size := int64(len(data))
	if off < 0 || off > size {
		return nil, fmt.Errorf("get %s: offset %d of an object of %d bytes: %w", name, off, size, remote.ErrRange)
	}
	end := size
	if length >= 0 && length < size-off {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(data[off:end])), nil
}

// Stat returns the size of name.
func (b *Backend) Stat(ctx context.Context, name string) (remote.Info, error) {
	data, err := b.lookup(ctx, remote.OpStat, name)
	if err != nil {
		return remote.Info{}, err
	}
	return remote.Info{Name: name, Size: int64(len(data))}, nil
}

func (b *Backend) lookup(ctx context.Context, op, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, name, err)
	}
	if err := remote.ValidateName(name); err != nil {
		return nil, err
	}
	b.mu.RLock()
	data, ok := b.objects[name]
	b.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%s %s: %w", op, name, remote.ErrNotExist)
	}
	return data, nil
}

// List calls fn for every object whose name starts with prefix, in no
// particular order. fn may call other methods of b.
func (b *Backend) List(ctx context.Context, prefix string, _ remote.ListOptions, fn func(remote.Info) error) error {
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	b.mu.RLock()
	var infos []remote.Info
	for name, data := range b.objects {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, remote.Info{Name: name, Size: int64(len(data))})
		}
	}
	b.mu.RUnlock()
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Delete removes name.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if err := remote.ValidateName(name); err != nil {
		return err
	}
	b.mu.Lock()
	_, ok := b.objects[name]
	delete(b.objects, name)
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("delete %s: %w", name, remote.ErrNotExist)
	}
	return nil
}

// Location is "mem:".
func (b *Backend) Location() string { return "mem:" }

// Close does nothing; the store stays usable.
func (b *Backend) Close() error { return nil }
