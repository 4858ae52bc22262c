// Package compress compresses single objects (chunks and manifests) for
// packs. Four methods exist; which one a chunk gets is decided per file
// by a FileCompressor (see there), and nothing is compressed unless that
// saves at least 1/32 of its bytes.
//
// The method byte is part of pack format v1: 0 = raw; 1 = one zstd frame
// without a content checksum (objects carry their own BLAKE3 id); 2 =
// Huffman-coded bytes in the 4-stream format of zstd's compressed literals
// (RFC 8878, section 3.1.1.3.1: a Huffman tree description followed by a
// 6-byte jump table and four bit streams), whose decoded length is the
// object's raw length; 3 = one S2 block (the block format of
// github.com/klauspost/compress/s2, a Snappy extension: a varint of the
// decoded length, then literals and copies), what ingest uses for data
// that LZ compression pays on, at three times zstd's speed; pushes
// recompress such chunks with zstd (Recompress).
package compress

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Method says how an object's stored bytes encode its raw bytes.
type Method uint8

const (
	None    Method = 0 // stored bytes are the raw bytes
	Zstd    Method = 1 // stored bytes are one zstd frame
	Huffman Method = 2 // stored bytes are Huffman-coded literals (4 streams)
	S2      Method = 3 // stored bytes are one S2 block
)

func (m Method) String() string {
	switch m {
	case None:
		return "none"
	case Zstd:
		return "zstd"
	case Huffman:
		return "huffman"
	case S2:
		return "s2"
	}
	return fmt.Sprintf("method(%d)", uint8(m))
}

// MaxRawLen bounds the raw length that Decompress will produce. It guards
// against hostile headers asking for huge allocations; chunks are at most
// 128 KiB and manifests of a 1 PiB file would be far below it.
const MaxRawLen = 1 << 30

// ErrCorrupt is wrapped by Decompress when stored bytes do not decode to
// exactly the promised raw length.
var ErrCorrupt = errors.New("compressed data corrupt")

// Codec compresses and decompresses objects. It is safe for concurrent use;
// up to the concurrency given to New run at once, further calls wait.
type Codec struct {
	enc     *zstd.Encoder
	dec     *zstd.Decoder
	scratch sync.Pool // of *huff0.Scratch
}

// New returns a Codec for up to concurrency simultaneous calls.
func New(concurrency int) (*Codec, error) {
	if concurrency < 1 {
		concurrency = 1
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(concurrency),
		zstd.WithEncoderCRC(false),
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		return nil, fmt.Errorf("create zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(concurrency),
		zstd.WithDecoderMaxMemory(MaxRawLen),
		zstd.IgnoreChecksum(true),
	)
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("create zstd decoder: %w", err)
	}
	c := &Codec{enc: enc, dec: dec}
	c.scratch.New = func() any { return &huff0.Scratch{Reuse: huff0.ReusePolicyNone} }
	return c, nil
}

// Close releases the codec's resources.
func (c *Codec) Close() {
	c.enc.Close()
	c.dec.Close()
}

// minLen is the shortest input worth compressing.
const minLen = 64

// pays reports whether n stored bytes for raw are worth keeping.
func pays(n int, raw []byte) bool { return n <= len(raw)-len(raw)/32 }

// Compress returns the bytes to store for raw, compressed with zstd, and
// the method. When compression does not pay, it returns raw itself and
// None; otherwise the compressed bytes are appended to dst[:0].
func (c *Codec) Compress(dst, raw []byte) ([]byte, Method) {
	if len(raw) < minLen {
		return raw, None
	}
	out := c.enc.EncodeAll(raw, dst[:0])
	if !pays(len(out), raw) {
		return raw, None
	}
	return out, Zstd
}

// huffman compresses raw with Huffman coding alone, appending to dst[:0].
// ok is false when that does not pay.
func (c *Codec) huffman(dst, raw []byte) (out []byte, ok bool) {
	if len(raw) < minLen || len(raw) > huff0.BlockSizeMax {
		return raw, false
	}
	s := c.scratch.Get().(*huff0.Scratch)
	defer c.scratch.Put(s)
	s.Out = dst[:0]
	out, _, err := huff0.Compress4X(raw, s)
	s.Out = nil
	if err != nil || !pays(len(out), raw) {
		return raw, false
	}
	return out, true
}

// s2 compresses raw as one S2 block, appending to dst[:0]. ok is false
// when that does not pay.
func (c *Codec) s2(dst, raw []byte) (out []byte, ok bool) {
	if len(raw) < minLen {
		return raw, false
	}
	if n := s2.MaxEncodedLen(len(raw)); cap(dst) < n {
		dst = make([]byte, n)
	}
	out = s2.Encode(dst[:cap(dst)], raw)
	if !pays(len(out), raw) {
		return raw, false
	}
	return out, true
}

// Recompress returns the bytes to store on a remote for an object stored
// with method m: an S2 block is decoded and compressed with zstd, which
// keeps what travels and what the remote holds small; other methods are
// returned as they are.
func (c *Codec) Recompress(dst, stored []byte, m Method, rawLen int) ([]byte, Method, error) {
	if m != S2 {
		return stored, m, nil
	}
	raw, err := c.Decompress(nil, stored, m, rawLen)
	if err != nil {
		return nil, 0, err
	}
	out, zm := c.Compress(dst, raw)
	if zm == Zstd && len(out) < len(stored) {
		return out, Zstd, nil
	}
	return stored, m, nil
}

// Decompress returns the raw bytes encoded by stored, appended to dst[:0].
// For None it returns stored itself. It fails with an error wrapping
// ErrCorrupt unless the result is exactly rawLen bytes.
func (c *Codec) Decompress(dst, stored []byte, m Method, rawLen int) ([]byte, error) {
	if rawLen < 0 || rawLen > MaxRawLen {
		return nil, fmt.Errorf("%w: raw length %d out of range", ErrCorrupt, rawLen)
	}
	switch m {
	case None:
		if len(stored) != rawLen {
			return nil, fmt.Errorf("%w: %d raw bytes stored, header says %d", ErrCorrupt, len(stored), rawLen)
		}
		return stored, nil
	case Zstd:
		if cap(dst) < rawLen {
			dst = make([]byte, 0, rawLen)
		}
		out, err := c.dec.DecodeAll(stored, dst[:0])
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		if len(out) != rawLen {
			return nil, fmt.Errorf("%w: decoded %d bytes, header says %d", ErrCorrupt, len(out), rawLen)
		}
		return out, nil
	case S2:
		n, err := s2.DecodedLen(stored)
		if err != nil || n != rawLen {
			return nil, fmt.Errorf("%w: s2 block of %d bytes, header says %d (%v)", ErrCorrupt, n, rawLen, err)
		}
		if cap(dst) < rawLen {
			dst = make([]byte, rawLen)
		}
		out, err := s2.Decode(dst[:rawLen], stored)
		if err != nil || len(out) != rawLen {
			return nil, fmt.Errorf("%w: s2: %v", ErrCorrupt, err)
		}
		return out, nil
	case Huffman:
		s := c.scratch.Get().(*huff0.Scratch)
		defer c.scratch.Put(s)
		s.MaxDecodedSize = rawLen
		s2, rest, err := huff0.ReadTable(stored, s)
		if err != nil {
			return nil, fmt.Errorf("%w: huffman table: %v", ErrCorrupt, err)
		}
		if cap(dst) < rawLen {
			dst = make([]byte, 0, rawLen)
		}
		out, err := s2.Decoder().Decompress4X(dst[:0:rawLen], rest)
		if err != nil {
			return nil, fmt.Errorf("%w: huffman: %v", ErrCorrupt, err)
		}
		if len(out) != rawLen {
			return nil, fmt.Errorf("%w: decoded %d bytes, header says %d", ErrCorrupt, len(out), rawLen)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown method %d", ErrCorrupt, uint8(m))
}
