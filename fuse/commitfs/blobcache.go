package commitfs

import (
	"container/list"
	"sync"
)

// blobCacheSize bounds the git blobs kept for reads that come without a
// handle (see filesys.noOpen): a blob larger than this is read whole from
// git again for each read request.
const blobCacheSize = 64 << 20

// blobCache is a small LRU of whole git blobs, bounded in bytes: what
// reads of a plain git file larger than a pointer need when there is no
// file handle to hold the blob while the file is read. Returned slices
// must not be modified. It is safe for concurrent use.
type blobCache struct {
	max int64

	mu    sync.Mutex // guards size, lru, byKey
	size  int64
	lru   *list.List // of *blobEntry; front is most recently used
	byKey map[Hash]*list.Element
}

type blobEntry struct {
	h    Hash
	data []byte
}

func newBlobCache(max int64) *blobCache {
	return &blobCache{max: max, lru: list.New(), byKey: map[Hash]*list.Element{}}
}

func (c *blobCache) get(h Hash) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[h]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*blobEntry).data, true
}

func (c *blobCache) put(h Hash, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[h]; ok || int64(len(data)) > c.max {
		return
	}
	c.byKey[h] = c.lru.PushFront(&blobEntry{h, data})
	c.size += int64(len(data))
	for c.size > c.max {
		el := c.lru.Back()
		e := el.Value.(*blobEntry)
		c.lru.Remove(el)
		delete(c.byKey, e.h)
		c.size -= int64(len(e.data))
	}
}
