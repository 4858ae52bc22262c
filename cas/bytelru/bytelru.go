// Package bytelru is a least-recently-used cache of byte slices bounded
// in bytes: the decoded chunks a reader keeps in memory, the git blobs the
// mount keeps for reads without a file handle.
package bytelru

import (
	"container/list"
	"sync"
)

// Cache maps keys to byte slices, holding at most Max bytes of values; a
// value larger than Max is never kept. Returned slices must not be
// modified. It is safe for concurrent use.
type Cache[K comparable] struct {
	max int64

	mu    sync.Mutex // guards size, lru, byKey
	size  int64
	lru   *list.List // of *entry[K]; front is most recently used
	byKey map[K]*list.Element
}

type entry[K comparable] struct {
	key  K
	data []byte
}

// New returns an empty cache of at most max bytes.
func New[K comparable](max int64) *Cache[K] {
	return &Cache[K]{max: max, lru: list.New(), byKey: map[K]*list.Element{}}
}

// Max is the bound the cache was made with.
func (c *Cache[K]) Max() int64 { return c.max }

// Size is the bytes of the values held now.
func (c *Cache[K]) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// Get returns the value of k, and makes it the most recently used.
func (c *Cache[K]) Get(k K) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*entry[K]).data, true
}

// Put keeps data under k (the cache holds data itself, not a copy), unless
// k is held already or data is larger than the bound, and drops the least
// recently used values until the cache is within its bound.
func (c *Cache[K]) Put(k K, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; ok || int64(len(data)) > c.max {
		return
	}
	c.byKey[k] = c.lru.PushFront(&entry[K]{k, data})
	c.size += int64(len(data))
	for c.size > c.max {
		el := c.lru.Back()
		e := el.Value.(*entry[K])
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		c.size -= int64(len(e.data))
	}
}
