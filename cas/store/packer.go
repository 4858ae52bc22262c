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

// Packer writes new objects into the store. Add is called from one
// goroutine at a time; Has may be called concurrently with Add. Objects
// become readable (and durable) when Flush returns, or earlier when a pack
// fills up and is sealed. The error is sticky: after a failure every call
// returns it. Close discards what was not flushed.
type Packer struct {
	s *Store

	// Written only by the goroutine calling Add, Flush and Close.
	tmp *os.File
	w   *pack.Writer
	err error

	mu      sync.Mutex // guards pending
	pending map[cas.ID]struct{}
}

// NewPacker starts a write session.
func (s *Store) NewPacker() *Packer {
	return &Packer{s: s, pending: map[cas.ID]struct{}{}}
}

// Has reports whether id is in the store or waiting in this Packer.
func (p *Packer) Has(id cas.ID) bool {
	p.mu.Lock()
	_, ok := p.pending[id]
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
		p.tmp, p.w = f, pack.NewWriter(f)
	}
	if err := p.w.Add(id, kind, method, rawLen, stored); err != nil {
		return p.fail(err)
	}
	p.mu.Lock()
	p.pending[id] = struct{}{}
	p.mu.Unlock()
	if p.w.Size() >= p.s.opts.PackSize {
		return p.Flush(context.Background())
	}
	return nil
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
	if p.err != nil {
		return p.err
	}
	if p.w == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return p.fail(err)
	}
	id, idx, err := p.w.Finish()
	if err != nil {
		return p.fail(err)
	}
	if err := p.s.publish(p.tmp, id, idx); err != nil {
		return p.fail(err)
	}
	p.tmp, p.w = nil, nil
	p.mu.Lock()
	clear(p.pending)
	p.mu.Unlock()
	return nil
}

// Close discards unflushed objects and ends the session.
func (p *Packer) Close() error {
	p.discard()
	if p.err == nil {
		p.err = errors.New("packer closed")
	}
	return nil
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
	return nil
}

// writeFileAtomic writes data to path by write-temp, fsync, rename.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	f, err := s.tmpFile("file-*.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(0o444); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
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
