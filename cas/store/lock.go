package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The store lock (<dir>/lock, flock(2)) keeps prune from deleting what a
// writer relies on: a Packer holds it shared from its first Has or Add
// (a file cleaned by reusing stored chunks relies on them as much as one
// that adds new ones) until it is closed, and Prune holds it exclusive
// from before it decides what is live until it has deleted. The kernel
// releases it when a process dies, so a killed writer or prune never
// leaves the store locked. Readers take no lock: a prune deletes only
// what nothing needs, and a reader that still finds such an object gone
// fetches it again like any missing object.
const lockName = "lock"

// lockStore takes the store lock (shared or exclusive), waiting until ctx
// ends. It returns the function that releases it.
func (s *Store) lockStore(ctx context.Context, exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, os.ErrPermission) {
		f, err = os.Open(filepath.Join(s.dir, lockName)) // a read-only store: flock works on any fd
	}
	if err != nil {
		return nil, fmt.Errorf("lock store: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases it
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock store: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock store: %w", ctx.Err())
		case <-time.After(delay):
		}
	}
}

// Lock takes the store lock exclusively, for a prune: it waits for the
// writers running (git add, fetch) to finish, and keeps new ones waiting
// until release is called.
func (s *Store) Lock(ctx context.Context) (release func(), err error) {
	return s.lockStore(ctx, true)
}
