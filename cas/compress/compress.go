// Package compress compresses single objects (chunks and manifests) for
// packs: zstd at its fastest level when that saves at least 1/32 of the
// bytes, otherwise the raw bytes are kept. Incompressible input costs little:
// zstd gives up on a block that does not compress after a quick look.
//
// The method byte is part of pack format v1: 0 = raw, 1 = one zstd frame
// without a content checksum (objects carry their own BLAKE3 id).
package compress

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Method says how an object's stored bytes encode its raw bytes.
type Method uint8

const (
	None Method = 0 // stored bytes are the raw bytes
	Zstd Method = 1 // stored bytes are one zstd frame
)

func (m Method) String() string {
	switch m {
	case None:
		return "none"
	case Zstd:
		return "zstd"
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
	enc *zstd.Encoder
	dec *zstd.Decoder
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
	return &Codec{enc: enc, dec: dec}, nil
}

// Close releases the codec's resources.
func (c *Codec) Close() {
	c.enc.Close()
	c.dec.Close()
}

// Compress returns the bytes to store for raw and how they are encoded. When
// compression does not pay, it returns raw itself and None; otherwise the
// compressed bytes are appended to dst[:0].
func (c *Codec) Compress(dst, raw []byte) ([]byte, Method) {
	if len(raw) < 64 {
		return raw, None
	}
	out := c.enc.EncodeAll(raw, dst[:0])
	if len(out) > len(raw)-len(raw)/32 {
		return raw, None
	}
	return out, Zstd
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
	}
	return nil, fmt.Errorf("%w: unknown method %d", ErrCorrupt, uint8(m))
}
