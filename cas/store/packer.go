package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/pack"
)

// writebackEvery is how many pack bytes a Packer writes before it asks the
// kernel to start writing them to disk, so that the fsync when the pack is
// sealed finds little left to do.
const writebackEvery = 8 << 20

// Packer writes new objects into the store. Add is called from one
// goroutine at a time; Has may be called concurrently with Add. Objects
// become readable (and durable) when Flush returns; a pack that fills up
// is sealed and published in the background meanwhile, at most one at a
// time. The error is sticky: after a failure every call returns it. Close
// discards what was not flushed.
type Packer struct {
	s *Store

	// Written only by the goroutine calling Add, Flush and Close.
	tmp     *os.File
	w       *pack.Writer
	synced  int64      // pack bytes handed to early writeback
	sealing chan error // result of the background seal in flight, or nil
	err     error

	mu       sync.Mutex          // guards pending and inflight
	pending  map[cas.ID]struct{} // in the pack being written
	inflight map[cas.ID]struct{} // in the pack being sealed

	lockOnce sync.Once // takes the store lock, shared, on first use
	unlock   func()    // releases it; nil if it could not be taken
}

// lock takes the store lock shared (see lock.go) the first time the
// Packer is used. A store that cannot be locked is written without it.
func (p *Packer) lock() {
	p.lockOnce.Do(func() {
		p.unlock, _ = p.s.lockStore(context.Background(), false)
	})
}

// MaxPackObjects bounds the objects of one pack a Packer writes, as
// PackSize bounds its bytes: what a Packer holds per object (the pack's
// index entries, the ids it dedups against) is then bounded for tiny
// objects too (a million files of 100 bytes fill few packs by size).
const MaxPackObjects = 1 << 17

// NewPacker starts a write session.
func (s *Store) NewPacker() *Packer {
	return &Packer{s: s, pending: map[cas.ID]struct{}{}}
}

// newUnlockedPacker is a Packer that takes no store lock: for the prune,
// which holds the lock exclusively itself.
func (s *Store) newUnlockedPacker() *Packer {
	p := s.NewPacker()
	p.lockOnce.Do(func() {})
	return p
}

// Has reports whether id is in the store or waiting in this Packer.
func (p *Packer) Has(id cas.ID) bool {
	p.lock()
	p.mu.Lock()
	_, ok := p.pending[id]
	if !ok {
		_, ok = p.inflight[id]
	}
	p.mu.Unlock()
	if ok {
		return true
	}
	ok, _ = p.s.Has(context.Background(), id)
	return ok
}

// Add stores one object, given as its stored bytes and how they encode
// rawLen raw bytes. The caller has checked that the stored bytes decode to
// raw bytes with this id. Adding an object that is already pending is a
// no-op.
func (p *Packer) Add(id cas.ID, kind cas.Kind, method compress.Method, rawLen int, stored []byte) error {
	if p.err != nil {
		return p.err
	}
	p.lock()
	p.mu.Lock()
	_, dup := p.pending[id]
	p.mu.Unlock()
	if dup {
		return nil
	}
	if p.w == nil {
		f, err := p.s.tmpFile("pack-*.tmp")
		if err != nil {
			return p.fail(fmt.Errorf("create pack: %w", err))
		}
		p.tmp, p.w, p.synced = f, pack.NewWriter(f), 0
	}
	if err := p.w.Add(id, kind, method, rawLen, stored); err != nil {
		return p.fail(err)
	}
	p.mu.Lock()
	p.pending[id] = struct{}{}
	p.mu.Unlock()
	if size := p.w.Size(); size >= p.s.opts.PackSize || p.w.Len() >= MaxPackObjects {
		return p.sealInBackground()
	} else if size-p.synced >= writebackEvery {
		if err := p.w.Flush(); err != nil {
			return p.fail(err)
		}
		startWriteback(p.tmp, p.synced, size-p.synced)
		p.synced = size
	}
	return nil
}

// sealInBackground hands the current pack to a goroutine that publishes
// it, after waiting for the previous one.
func (p *Packer) sealInBackground() error {
	if err := p.waitSeal(); err != nil {
		return err
	}
	tmp, w := p.tmp, p.w
	p.tmp, p.w = nil, nil
	p.mu.Lock()
	p.inflight, p.pending = p.pending, map[cas.ID]struct{}{}
	p.mu.Unlock()
	done := make(chan error, 1)
	p.sealing = done
	go func() { done <- p.s.seal(tmp, w) }()
	return nil
}

// waitSeal waits for the background seal in flight, if any.
func (p *Packer) waitSeal() error {
	if p.sealing == nil {
		return p.err
	}
	err := <-p.sealing
	p.sealing = nil
	p.mu.Lock()
	p.inflight = nil
	p.mu.Unlock()
	if err != nil {
		return p.fail(err)
	}
	return p.err
}

func (p *Packer) fail(err error) error {
	if p.err == nil {
		p.err = err
	}
	p.discard()
	return p.err
}

// discard removes the temporary pack.
func (p *Packer) discard() {
	if p.tmp != nil {
		p.tmp.Close()
		os.Remove(p.tmp.Name())
	}
	p.tmp, p.w = nil, nil
}

// Flush publishes the objects added so far: when it returns nil they are
// durable and readable by every process.
func (p *Packer) Flush(ctx context.Context) error {
	if err := p.waitSeal(); err != nil {
		return err
	}
	if p.w == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return p.fail(err)
	}
	tmp, w := p.tmp, p.w
	p.tmp, p.w = nil, nil
	if err := p.s.seal(tmp, w); err != nil {
		return p.fail(err)
	}
	p.mu.Lock()
	clear(p.pending)
	p.mu.Unlock()
	return nil
}

// Close waits for a background seal, discards unflushed objects and ends
// the session.
func (p *Packer) Close() error {
	if p.sealing != nil {
		<-p.sealing
		p.sealing = nil
	}
	p.lockOnce.Do(func() {}) // no lock after Close
	if p.unlock != nil {
		p.unlock()
		p.unlock = nil
	}
	p.discard()
	if p.err == nil {
		p.err = errors.New("packer closed")
	}
	return nil
}

// seal finishes the pack being written to tmp and publishes it. On error
// the temporary file is removed.
func (s *Store) seal(tmp *os.File, w *pack.Writer) error {
	id, idx, err := w.Finish()
	if err == nil {
		err = s.publish(tmp, id, idx)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	return err
}

// publish makes a finished temporary pack visible: pack, then index, then
// the directory entry, each made durable before the next step.
func (s *Store) publish(tmp *os.File, id cas.ID, idx []byte) error {
	base := filepath.Join(s.packsDir(), id.String())
	// Published files are immutable: read-only, like git's packs.
	if err := tmp.Chmod(0o444); err != nil {
		return fmt.Errorf("chmod pack %s: %w", id.Short(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync pack %s: %w", id.Short(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close pack %s: %w", id.Short(), err)
	}
	if err := os.Rename(tmp.Name(), base+".pack"); err != nil {
		return fmt.Errorf("publish pack %s: %w", id.Short(), err)
	}
	if err := s.writeFileAtomic(base+".idx", idx); err != nil {
		return fmt.Errorf("publish index of pack %s: %w", id.Short(), err)
	}
	if err := syncDir(s.packsDir()); err != nil {
		return fmt.Errorf("publish pack %s: %w", id.Short(), err)
	}
	pf, err := s.loadPack(id)
	if err != nil {
		return err
	}
	if !s.addPack(pf) {
		pf.close()
	}
	_ = s.consolidate(false) // only costs speed when it fails
	return nil
}

// writeFileAtomic writes data to path by write-temp, fsync, rename.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	f, err := s.tmpFile("file-*.tmp")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o444); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
