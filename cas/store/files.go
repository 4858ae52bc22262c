package store

import (
	"container/list"
	"fmt"
	"os"
	"sync"
)

// DefaultOpenPacks bounds the pack files a Store keeps open at once.
const DefaultOpenPacks = 64

// openFiles keeps the most recently used pack files open, at most max of
// them: a store of 20,000 packs must not hold 20,000 descriptors. A file
// being read is never closed under its reader: it is closed when the last
// reader releases it, if it was evicted meanwhile.
type openFiles struct {
	max int

	mu    sync.Mutex // guards lru, byKey, closed
	lru   *list.List // of *openFile; front is the most recently used
	byKey map[*packFile]*list.Element
	// closed is set by closeAll; later acquires fail.
	closed bool
}

type openFile struct {
	p       *packFile
	f       *os.File
	refs    int
	evicted bool
}

func newOpenFiles(max int) *openFiles {
	if max <= 0 {
		max = DefaultOpenPacks
	}
	return &openFiles{max: max, lru: list.New(), byKey: map[*packFile]*list.Element{}}
}

// acquire returns p's pack file, opening it if needed; the caller calls
// release when done with it.
func (o *openFiles) acquire(p *packFile) (*os.File, func(), error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, nil, fmt.Errorf("store is closed")
	}
	if el, ok := o.byKey[p]; ok {
		of := el.Value.(*openFile)
		of.refs++
		o.lru.MoveToFront(el)
		o.mu.Unlock()
		return of.f, o.releaser(of), nil
	}
	o.mu.Unlock()
	f, err := os.Open(p.path)
	if err != nil {
		return nil, nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		f.Close()
		return nil, nil, fmt.Errorf("store is closed")
	}
	if el, ok := o.byKey[p]; ok { // another reader opened it meanwhile
		f.Close()
		of := el.Value.(*openFile)
		of.refs++
		o.lru.MoveToFront(el)
		return of.f, o.releaser(of), nil
	}
	of := &openFile{p: p, f: f, refs: 1}
	o.byKey[p] = o.lru.PushFront(of)
	for o.lru.Len() > o.max {
		el := o.lru.Back()
		old := el.Value.(*openFile)
		o.lru.Remove(el)
		delete(o.byKey, old.p)
		old.evicted = true
		if old.refs == 0 {
			old.f.Close()
		}
	}
	return f, o.releaser(of), nil
}

func (o *openFiles) releaser(of *openFile) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			of.refs--
			if of.refs == 0 && of.evicted {
				of.f.Close()
			}
		})
	}
}

// forget closes p's file if it is open and unused (the pack is removed).
func (o *openFiles) forget(p *packFile) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if el, ok := o.byKey[p]; ok {
		of := el.Value.(*openFile)
		o.lru.Remove(el)
		delete(o.byKey, p)
		of.evicted = true
		if of.refs == 0 {
			of.f.Close()
		}
	}
}

// count is the number of files open now.
func (o *openFiles) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lru.Len()
}

// closeAll closes every file; files in use are closed when released.
func (o *openFiles) closeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for el := o.lru.Front(); el != nil; el = el.Next() {
		of := el.Value.(*openFile)
		of.evicted = true
		if of.refs == 0 {
			of.f.Close()
		}
	}
	o.lru.Init()
	clear(o.byKey)
}
