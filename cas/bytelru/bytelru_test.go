package bytelru

import "testing"

// The cache keeps what fits, drops the least recently used, and never
// keeps a value larger than its bound.
func TestCache(t *testing.T) {
	c := New[byte](100)
	c.Put(1, make([]byte, 40))
	c.Put(2, make([]byte, 40))
	if _, ok := c.Get(1); !ok { // 1 is now the most recent
		t.Fatal("value 1 not kept")
	}
	c.Put(3, make([]byte, 40)) // over the bound: 2 goes
	if _, ok := c.Get(2); ok {
		t.Error("the least recent value was kept past the bound")
	}
	for _, i := range []byte{1, 3} {
		if _, ok := c.Get(i); !ok {
			t.Errorf("value %d dropped", i)
		}
	}
	c.Put(4, make([]byte, 101))
	if _, ok := c.Get(4); ok || c.Size() > c.Max() {
		t.Errorf("a value larger than the bound was kept (%d of %d bytes)", c.Size(), c.Max())
	}
	// A key held already keeps its first value.
	c.Put(1, make([]byte, 7))
	if b, _ := c.Get(1); len(b) != 40 || c.Size() != 80 {
		t.Errorf("Put of a held key replaced it: %d bytes, size %d", len(b), c.Size())
	}
}
