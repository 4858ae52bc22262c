package chunker

import (
	"fmt"
	"io"
)

//go:generate go run gentable.go

// Chunk size limits of format v1, in bytes. Every chunk of a stream except
// the last is in [MinSize, MaxSize]; the last is in [1, MaxSize].
const (
	MinSize    = 8 << 10
	TargetSize = 64 << 10
	MaxSize    = 128 << 10
)

// Cut-point masks of format v1. A length L is a cut point when the gear hash
// of the 64 bytes ending at L, ANDed with the mask for L, is zero: maskStrict
// (top 18 bits) for MinSize <= L < TargetSize and maskLoose (top 13 bits) for
// L >= TargetSize.
const (
	strictBits        = 18
	looseBits         = 13
	maskStrict uint64 = (1<<strictBits - 1) << (64 - strictBits)
	maskLoose  uint64 = (1<<looseBits - 1) << (64 - looseBits)
)

// window is the number of bytes a gear hash depends on: each update shifts
// the state left by one bit, so after 64 updates the earlier bytes are gone.
const window = 64

// gearSeed is the BLAKE3 input whose extendable output is the gear table.
const gearSeed = "lode gear table v1"

// Boundary returns the length of the first chunk of data under format v1.
// It reads at most data[:MaxSize]. If len(data) <= MinSize it returns
// len(data); if no cut point is found it returns min(len(data), MaxSize).
//
// A result equal to len(data) that is below MaxSize is a real boundary only
// when data runs to the end of the stream; otherwise the caller must supply
// more bytes (at least MaxSize, or all that remain) and ask again.
func Boundary(data []byte) int {
	n := len(data)
	if n <= MinSize {
		return n
	}
	n = min(n, MaxSize)
	// Testing length n itself is pointless: it is the answer either way.
	last := n - 1
	// No length below MinSize is tested, and the state at MinSize depends
	// only on its last 64 bytes: start hashing there. The first 63 of
	// them fill the window without a test.
	var h uint64
	for _, b := range data[MinSize-window : MinSize-1] {
		h = h<<1 + gear[b]
	}
	// Byte index i completes the window that ends at length i+1.
	strictEnd := min(last, TargetSize-1)
	i, h := scan(data, MinSize-1, strictEnd, h, maskStrict)
	if i < 0 && strictEnd < last {
		i, _ = scan(data, strictEnd, last, h, maskLoose)
	}
	if i >= 0 {
		return i + 1
	}
	return n
}

// scan feeds data[from:to] into the gear state h and returns the index of
// the first byte after which h&mask == 0, or -1 and the final state.
func scan(data []byte, from, to int, h, mask uint64) (int, uint64) {
	p := data[from:to]
	i := from
	for len(p) >= 8 {
		q := p[:8:8]
		if h = h<<1 + gear[q[0]]; h&mask == 0 {
			return i, h
		}
		if h = h<<1 + gear[q[1]]; h&mask == 0 {
			return i + 1, h
		}
		if h = h<<1 + gear[q[2]]; h&mask == 0 {
			return i + 2, h
		}
		if h = h<<1 + gear[q[3]]; h&mask == 0 {
			return i + 3, h
		}
		if h = h<<1 + gear[q[4]]; h&mask == 0 {
			return i + 4, h
		}
		if h = h<<1 + gear[q[5]]; h&mask == 0 {
			return i + 5, h
		}
		if h = h<<1 + gear[q[6]]; h&mask == 0 {
			return i + 6, h
		}
		if h = h<<1 + gear[q[7]]; h&mask == 0 {
			return i + 7, h
		}
		p = p[8:]
		i += 8
	}
	for _, b := range p {
		if h = h<<1 + gear[b]; h&mask == 0 {
			return i, h
		}
		i++
	}
	return -1, h
}

// bufSize is the size of a Chunker's buffer. It must be at least MaxSize;
// larger means fewer reads and fewer moves of the unconsumed tail.
const bufSize = 1 << 20

// maxEmptyReads is how many consecutive (0, nil) reads a Chunker tolerates
// before it gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// Chunker cuts a stream into format v1 chunks. Its boundaries depend only
// on the bytes of the stream, never on how the reader splits them. A Chunker
// holds one buffer of bounded size (1 MiB) for its whole life; it is not
// safe for concurrent use.
type Chunker struct {
	r     io.Reader
	buf   []byte // len bufSize; buf[start:end] is read but not yet returned
	start int
	end   int
	eof   bool  // r has reported io.EOF
	err   error // sticky: a read error, returned by every later Next
}

// New returns a Chunker that reads r.
func New(r io.Reader) *Chunker {
	return &Chunker{r: r, buf: make([]byte, bufSize)}
}

// Reset makes c read r from its start, discarding any state, and keeps the
// buffer. It lets one Chunker serve many files without allocating.
func (c *Chunker) Reset(r io.Reader) {
	*c = Chunker{r: r, buf: c.buf}
}

// Next returns the next chunk. The slice aliases c's buffer and is valid
// only until the next call to Next or Reset; the caller must not modify it.
// After the last chunk Next returns nil, io.EOF; an empty stream yields no
// chunks. A read error other than io.EOF is returned wrapped, and so is
// every later call's: chunks not yet returned when it happened are dropped,
// since a stream that failed midway has no trustworthy tail.
func (c *Chunker) Next() ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if c.end-c.start < MaxSize && !c.eof {
		if err := c.fill(); err != nil {
			c.err = err
			return nil, err
		}
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	n := Boundary(c.buf[c.start:c.end])
	chunk := c.buf[c.start : c.start+n : c.start+n]
	c.start += n
	return chunk, nil
}

// fill moves the unconsumed bytes to the front of the buffer and reads
// until at least MaxSize bytes are buffered or the stream ends.
func (c *Chunker) fill() error {
	if c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	empty := 0
	for c.end < MaxSize {
		n, err := c.r.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			return fmt.Errorf("chunker: read returned invalid count %d", n)
		}
		c.end += n
		switch {
		case err == io.EOF: // io.Reader returns io.EOF itself, never wrapped
			c.eof = true
			return nil
		case err != nil:
			return fmt.Errorf("chunker: read input: %w", err)
		case n == 0:
			if empty++; empty >= maxEmptyReads {
				return fmt.Errorf("chunker: read input: %w", io.ErrNoProgress)
			}
		default:
			empty = 0
		}
	}
	return nil
}
