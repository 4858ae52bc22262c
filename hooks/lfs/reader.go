package lfs

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/lodevcs/lode/cas"
)

// Objects reads Git LFS objects at random offsets for long-lived readers
// (the mount, the HTTP server), checked: the whole object is hashed with
// SHA-256 once, on its first Open, and the file's identity at that time
// (device, inode, size, modification and change times) is remembered for
// the life of the Objects; reads go through an open file of that identity,
// and a file whose identity has changed since (rewritten, replaced,
// touched) is hashed again before another byte of it is returned. No byte
// is returned that was not read from a file of the identity checked.
//
// Limits: an object whose times are within racyWindow of its check is
// checked again by the next Open (a change made in the same tick of the
// file system's clock as the check would not show in its times: git's
// "racy git" problem); a change that keeps every field of the identity
// (size, both times, device and inode) is not seen. At most
// ObjectsOptions.MaxOpen files are open at once (least recently used
// closed first, once no read is using it), at most MaxChecks objects are
// hashed at once, and at most maxChecked identities are remembered.
//
// An Objects is safe for concurrent use; Close stops checks in progress
// and closes its files.
type Objects struct {
	dir       string
	maxOpen   int
	ctx       context.Context // cancelled by Close: checks in progress stop
	cancel    context.CancelFunc
	checkSlot chan struct{} // bounds the objects hashed at once
	wg        sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	closed   bool
	checked  map[Pointer]checked  // identities whose content was checked
	checking map[Pointer]*check   // checks in progress
	open     map[Pointer]*objFile // open files, in lru
	lru      *list.List           // of *objFile, most recently used first
	hashes   int                  // whole-object hashes done, for tests
}

// ObjectsOptions bound an Objects.
type ObjectsOptions struct {
	// MaxOpen bounds the object files kept open; 0 means 16.
	MaxOpen int
	// MaxChecks bounds the objects hashed at once; 0 means 2.
	MaxChecks int
}

const (
	// racyWindow: an object whose modification or change time is less
	// than this before its check started is checked again on its next
	// Open (see Objects).
	racyWindow = 2 * time.Second
	// maxChecked bounds the identities an Objects remembers; once full
	// it starts again empty (objects are then hashed again on Open).
	maxChecked = 1 << 16
)

type checked struct {
	id   identity
	racy bool // its times were too close to the check: check again on Open
}

// check is a hash of one object in progress; done is closed when err is
// set.
type check struct {
	done chan struct{}
	err  error
}

// objFile is an open object file of a checked identity.
type objFile struct {
	p       Pointer
	f       *os.File
	id      identity
	el      *list.Element
	refs    int  // reads using f
	dropped bool // out of the pool: close when refs drops to 0
}

// NewObjects returns an Objects over the Git LFS storage directory dir
// (<git common dir>/lfs, or lfs.storage).
func NewObjects(dir string, opts ObjectsOptions) *Objects {
	ctx, cancel := context.WithCancel(context.Background())
	maxOpen := opts.MaxOpen
	if maxOpen <= 0 {
		maxOpen = 16
	}
	maxChecks := opts.MaxChecks
	if maxChecks <= 0 {
		maxChecks = 2
	}
	return &Objects{dir: dir, maxOpen: maxOpen, ctx: ctx, cancel: cancel, checkSlot: make(chan struct{}, maxChecks),
		checked: map[Pointer]checked{}, checking: map[Pointer]*check{}, open: map[Pointer]*objFile{}, lru: list.New()}
}

// Dir is the storage directory.
func (o *Objects) Dir() string { return o.dir }

// ErrClosed is returned by an Objects after Close.
var ErrClosed = errors.New("reader of Git LFS objects closed")

// Object is a Git LFS object opened by Objects.Open. It holds no file
// itself, so it needs no closing.
type Object struct {
	o *Objects
	p Pointer
}

// Open checks the object of p (see Objects) and returns it for reading. A
// missing object is an error wrapping ErrMissing; one of another size or
// content one wrapping cas.ErrCorrupt. If ctx ends while the object is
// being hashed, Open returns ctx's error and the hash goes on, for the
// next Open to find done.
func (o *Objects) Open(ctx context.Context, p Pointer) (*Object, error) {
	f, err := o.acquire(ctx, p, true)
	if err != nil {
		return nil, err
	}
	o.release(f)
	return &Object{o: o, p: p}, nil
}

// Size is the object's size, as its pointer says.
func (ob *Object) Size() int64 { return ob.p.Size }

// Pointer is the object's pointer.
func (ob *Object) Pointer() Pointer { return ob.p }

// ReadAt reads like io.ReaderAt (io.EOF at the end of the object) the
// bytes of the checked content at off. If the file changed since its check,
// it is checked again first; content that no longer matches is an error
// wrapping cas.ErrCorrupt.
func (ob *Object) ReadAt(ctx context.Context, b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("read Git LFS object: negative offset")
	}
	for range 3 {
		f, err := ob.o.acquire(ctx, ob.p, false)
		if err != nil {
			return 0, err
		}
		n, err := f.f.ReadAt(b, off)
		id, serr := statIdentity(f.f)
		same := serr == nil && id == f.id
		if !same {
			// Changed while (or before) it was read: what was read is not
			// known to be the checked content.
			ob.o.forget(f)
		}
		ob.o.release(f)
		if same {
			if err != nil && !errors.Is(err, io.EOF) {
				return n, fmt.Errorf("read Git LFS object %s: %w", ob.p, err)
			}
			return n, err
		}
	}
	return 0, fmt.Errorf("%w: Git LFS object %s in %s keeps changing while it is read", cas.ErrCorrupt, ob.p, ObjectPath(ob.o.dir, ob.p))
}

// acquire returns an open file of p of a checked identity, checking the
// object first if needed (always for an Open after a racy check); release
// it when done.
func (o *Objects) acquire(ctx context.Context, p Pointer, forOpen bool) (*objFile, error) {
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return nil, ErrClosed
		}
		rec, known := o.checked[p]
		if known && rec.racy && forOpen {
			delete(o.checked, p)
			known = false
		}
		forOpen = false // once checked again, an Open takes that check
		if f := o.open[p]; f != nil && known && f.id == rec.id {
			f.refs++
			o.lru.MoveToFront(f.el)
			o.mu.Unlock()
			return f, nil
		}
		o.mu.Unlock()
		if known {
			f, err := o.reopen(p, rec.id)
			if err != nil || f != nil {
				return f, err
			}
			// Another identity: forget it and check the file again.
			o.mu.Lock()
			if r, ok := o.checked[p]; ok && r.id == rec.id {
				delete(o.checked, p)
			}
			o.mu.Unlock()
		}
		if err := o.waitCheck(ctx, p); err != nil {
			return nil, err
		}
	}
}

// reopen opens the file of p and, if it has identity id, keeps it open
// and returns it (acquired); if it has another, it returns nil and no
// error.
func (o *Objects) reopen(p Pointer, id identity) (*objFile, error) {
	fh, err := Open(o.dir, p)
	if err != nil {
		return nil, err
	}
	got, err := statIdentity(fh)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("open Git LFS object %s: %w", p, err)
	}
	if got != id {
		fh.Close()
		return nil, nil
	}
	return o.keep(p, fh, got), nil
}

// keep adds fh, a file of p of a checked identity, to the open files and
// returns it acquired; if another is there already, that one is dropped.
func (o *Objects) keep(p Pointer, fh *os.File, id identity) *objFile {
	f := &objFile{p: p, f: fh, id: id, refs: 1}
	o.mu.Lock()
	defer o.mu.Unlock()
	if old := o.open[p]; old != nil {
		o.dropLocked(old)
	}
	if o.closed {
		f.dropped = true
		return f
	}
	f.el = o.lru.PushFront(f)
	o.open[p] = f
	for o.lru.Len() > o.maxOpen {
		o.dropLocked(o.lru.Back().Value.(*objFile))
	}
	return f
}

// dropLocked takes f out of the open files; it is closed once no read
// uses it. o.mu is held.
func (o *Objects) dropLocked(f *objFile) {
	if f.dropped {
		return
	}
	f.dropped = true
	o.lru.Remove(f.el)
	if o.open[f.p] == f {
		delete(o.open, f.p)
	}
	if f.refs == 0 {
		f.f.Close()
	}
}

func (o *Objects) release(f *objFile) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f.refs--
	if f.dropped && f.refs == 0 {
		f.f.Close()
	}
}

// forget drops f and the check of its identity: the next read checks the
// file again.
func (o *Objects) forget(f *objFile) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r, ok := o.checked[f.p]; ok && r.id == f.id {
		delete(o.checked, f.p)
	}
	o.dropLocked(f)
}

// waitCheck hashes the object of p, or waits for the hash in progress,
// until it is done or ctx ends. The hash itself runs under the Objects'
// context, not ctx, so that a large object's check finishes even if the
// read that started it gave up.
func (o *Objects) waitCheck(ctx context.Context, p Pointer) error {
	o.mu.Lock()
	c := o.checking[p]
	if c == nil {
		c = &check{done: make(chan struct{})}
		o.checking[p] = c
		o.wg.Add(1)
		go o.run(p, c)
	}
	o.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("check Git LFS object %s (still hashing it): %w", p, ctx.Err())
	}
}

// run hashes the object of p for c, and on success keeps its file open
// and remembers its identity.
func (o *Objects) run(p Pointer, c *check) {
	defer o.wg.Done()
	var f *objFile
	c.err = func() error {
		select {
		case o.checkSlot <- struct{}{}:
		case <-o.ctx.Done():
			return ErrClosed
		}
		defer func() { <-o.checkSlot }()
		start := time.Now()
		fh, err := Open(o.dir, p)
		if err != nil {
			return err
		}
		before, err := statIdentity(fh)
		if err == nil {
			err = Verify(o.ctx, fh, p)
		}
		var after identity
		if err == nil {
			after, err = statIdentity(fh)
		}
		if err == nil && after != before {
			err = fmt.Errorf("check Git LFS object %s: %s changed while it was hashed", p, ObjectPath(o.dir, p))
		}
		if err != nil {
			fh.Close()
			if errors.Is(err, context.Canceled) && o.ctx.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("%w (%s)", err, ObjectPath(o.dir, p))
		}
		limit := start.Add(-racyWindow).UnixNano()
		racy := after.mtime >= limit || after.ctime >= limit
		o.mu.Lock()
		o.hashes++
		if len(o.checked) >= maxChecked {
			o.checked = map[Pointer]checked{}
		}
		o.checked[p] = checked{id: after, racy: racy}
		o.mu.Unlock()
		f = o.keep(p, fh, after)
		return nil
	}()
	if f != nil {
		o.release(f)
	}
	o.mu.Lock()
	delete(o.checking, p)
	o.mu.Unlock()
	close(c.done)
}

// Close stops checks in progress, waits for them, and closes the open
// files (those in use by a read are closed when it is done).
func (o *Objects) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	o.wg.Wait()
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.lru.Len() > 0 {
		o.dropLocked(o.lru.Back().Value.(*objFile))
	}
	return nil
}

// identity is what tells a file apart from what it was when checked.
type identity struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch; ctime 0 where unknown
}

func statIdentity(f *os.File) (identity, error) {
	fi, err := f.Stat()
	if err != nil {
		return identity{}, err
	}
	id := identity{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	sysIdentity(fi, &id)
	return id, nil
}
