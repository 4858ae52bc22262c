package rangeread

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/lodevcs/lode/cas"
)

// ChunkCache is a bounded on-disk cache of verified raw chunks, for reads
// of files whose data is not in the local store (a mount of a clone made
// without data). Chunks are files named by id; the least recently used
// are removed when the cache grows past its bound. Every hit is checked
// against its id again, so a damaged cache file is a miss, never wrong
// bytes. Several processes may share a cache directory; each keeps its own
// accounting, and a chunk another one evicted is simply a miss. It is safe
// for concurrent use.
type ChunkCache struct {
	dir string
	max int64

	mu   sync.Mutex // guards size, lru and byID
	size int64
	lru  *list.List // of *cacheEntry; front is most recently used
	byID map[cas.ID]*list.Element
}

type cacheEntry struct {
	id   cas.ID
	size int64
}

// OpenChunkCache opens (creating if needed) the cache in dir, bounded to
// max bytes, and takes stock of what earlier processes left there, oldest
// first.
func OpenChunkCache(dir string, max int64) (*ChunkCache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open chunk cache: %w", err)
	}
	c := &ChunkCache{dir: dir, max: max, lru: list.New(), byID: map[cas.ID]*list.Element{}}
	type found struct {
		e     cacheEntry
		mtime int64
	}
	var all []found
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		id, perr := cas.ParseID(d.Name())
		if perr != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		all = append(all, found{cacheEntry{id, fi.Size()}, fi.ModTime().UnixNano()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open chunk cache: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mtime > all[j].mtime })
	for _, f := range all {
		e := f.e
		c.byID[e.id] = c.lru.PushBack(&e)
		c.size += e.size
	}
	c.evict()
	return c, nil
}

func (c *ChunkCache) path(id cas.ID) string {
	s := id.String()
	return filepath.Join(c.dir, s[:2], s)
}

// Get returns the cached chunk id, read into dst's storage when large
// enough, or false.
func (c *ChunkCache) Get(id cas.ID, dst []byte) ([]byte, bool) {
	c.mu.Lock()
	el, ok := c.byID[id]
	if ok {
		c.lru.MoveToFront(el)
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	b, err := readInto(c.path(id), dst)
	if err != nil || cas.Sum(b) != id {
		c.remove(id)
		return nil, false
	}
	return b, true
}

// has reports whether the cache holds id (as far as this process knows).
func (c *ChunkCache) has(id cas.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byID[id]
	return ok
}

// Put stores a verified chunk. Failures only cost a later miss.
func (c *ChunkCache) Put(id cas.ID, raw []byte) {
	c.mu.Lock()
	_, ok := c.byID[id]
	c.mu.Unlock()
	if ok || int64(len(raw)) > c.max {
		return
	}
	p := c.path(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	if err := writeFileAtomic(p, raw); err != nil {
		return
	}
	c.mu.Lock()
	if _, ok := c.byID[id]; !ok {
		c.byID[id] = c.lru.PushFront(&cacheEntry{id, int64(len(raw))})
		c.size += int64(len(raw))
	}
	c.evict()
	c.mu.Unlock()
}

// evict removes least recently used chunks until the cache fits. c.mu is
// held (or c is not shared yet).
func (c *ChunkCache) evict() {
	for c.size > c.max {
		el := c.lru.Back()
		if el == nil {
			return
		}
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.byID, e.id)
		c.size -= e.size
		if err := os.Remove(c.path(e.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			continue
		}
	}
}

func (c *ChunkCache) remove(id cas.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.size -= el.Value.(*cacheEntry).size
		c.lru.Remove(el)
		delete(c.byID, id)
	}
	os.Remove(c.path(id))
}

// Size is the number of bytes the cache holds.
func (c *ChunkCache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// readInto reads a whole file into dst's storage when large enough.
func readInto(path string, dst []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := int(fi.Size())
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if _, err := f.ReadAt(dst, 0); err != nil {
		return nil, err
	}
	return dst, nil
}

// writeFileAtomic writes data to path by write-temp, rename.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
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
