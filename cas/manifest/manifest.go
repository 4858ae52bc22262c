// Package manifest encodes the ordered chunk list of one file.
//
// A manifest (format 2, what this package writes) is stored as an object
// of kind cas.KindManifest under its own BLAKE3-256, which the file's
// pointer carries (pointer.Pointer.Manifest), so that a chunk list from
// anywhere is checked against git before a byte of it is used:
//
//	manifest = "LODEMAN2" oid:[32] size:u64 count:u32 chunk*count
//	chunk    = length:u32 id:[32]
//
// Integers are big-endian. count is at least 2 (a file of one chunk has no
// manifest: its chunk is the file, and its id is the oid). The lengths are
// those the chunker makes: every chunk is 1 to chunker.MaxSize bytes, all
// but the last at least chunker.MinSize, and they add up to size. So a
// manifest of a file of size bytes is at most MaxEncodedLen(size) bytes,
// which readers enforce before they fetch or decode one.
//
// Format 1 ("LODEMAN1", the same fields followed by a BLAKE3-256 checksum
// of the bytes before it) is still read: it is stored under
// cas.ManifestID(oid), which does not bind the chunk list, so a reader of a
// version 1 pointer must check the whole file against its oid before it
// trusts the list (see docs/FORMAT.md).
package manifest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/chunker"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/zeebo/blake3"
)

var (
	magic   = []byte("LODEMAN2")
	magicV1 = []byte("LODEMAN1")
)

const (
	headerSize = 8 + 32 + 8 + 4
	chunkSize  = 4 + 32
)

// ErrFormat is wrapped by Decode for bytes that are not a valid manifest.
var ErrFormat = errors.New("invalid manifest")

// ErrMismatch is wrapped when a manifest is valid but does not belong to
// the pointer it was fetched for.
var ErrMismatch = fmt.Errorf("%w: manifest does not match its pointer", cas.ErrCorrupt)

// Chunk is one piece of a file.
type Chunk struct {
	ID     cas.ID
	Offset int64  // of the chunk's first byte in the file
	Len    uint32 // raw length
}

// End is the offset just past the chunk.
func (c Chunk) End() int64 { return c.Offset + int64(c.Len) }

// Manifest is the decoded chunk list of one file.
type Manifest struct {
	OID    cas.ID
	Size   int64
	Chunks []Chunk // in file order; Offsets ascending, without gaps
}

// Builder accumulates chunks in file order.
type Builder struct{ m Manifest }

// Add appends a chunk of length n.
func (b *Builder) Add(id cas.ID, n int) {
	b.m.Chunks = append(b.m.Chunks, Chunk{ID: id, Offset: b.m.Size, Len: uint32(n)})
	b.m.Size += int64(n)
}

// Size is the total length of the chunks added so far.
func (b *Builder) Size() int64 { return b.m.Size }

// Len is the number of chunks added so far.
func (b *Builder) Len() int { return len(b.m.Chunks) }

// Finish returns the manifest for the file with the given oid.
func (b *Builder) Finish(oid cas.ID) *Manifest {
	m := b.m
	m.OID = oid
	return &m
}

// Single returns the chunk list of a file of one chunk: the chunk is the
// whole file, so its id is the oid.
func Single(oid cas.ID, size int64) *Manifest {
	return &Manifest{OID: oid, Size: size, Chunks: []Chunk{{ID: oid, Len: uint32(size)}}}
}

// MaxEncodedLen bounds the encoding of the manifest of a file of size
// bytes (either format), as the chunker's length rules imply.
func MaxEncodedLen(size int64) int64 {
	if size <= 0 {
		return headerSize + 32
	}
	return headerSize + chunkSize*(size/chunker.MinSize+1) + 32
}

// Encode returns the manifest's encoding (format 2).
func (m *Manifest) Encode() []byte {
	b := make([]byte, 0, headerSize+chunkSize*len(m.Chunks))
	return m.appendBody(append(b, magic...))
}

func (m *Manifest) appendBody(b []byte) []byte {
	b = append(b, m.OID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Size))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Chunks)))
	for _, c := range m.Chunks {
		b = binary.BigEndian.AppendUint32(b, c.Len)
		b = append(b, c.ID[:]...)
	}
	return b
}

// ID returns the id of the manifest's encoding, which its pointer carries.
func (m *Manifest) ID() cas.ID { return cas.Sum(m.Encode()) }

// EncodeV1 returns the manifest's encoding in format 1, stored under
// cas.ManifestID(m.OID).
func (m *Manifest) EncodeV1() []byte {
	b := make([]byte, 0, headerSize+chunkSize*len(m.Chunks)+32)
	b = m.appendBody(append(b, magicV1...))
	sum := blake3.Sum256(b)
	return append(b, sum[:]...)
}

// Decode parses and checks an encoded manifest of either format. If id is
// not zero it must be the id the manifest is stored under: the BLAKE3-256
// of b (format 2), or cas.ManifestID of its oid (format 1).
func Decode(b []byte, id cas.ID) (*Manifest, error) {
	switch {
	case bytes.HasPrefix(b, magic):
		if !id.IsZero() && cas.Sum(b) != id {
			return nil, fmt.Errorf("%w: does not hash to its id %s", ErrFormat, id.Short())
		}
		m, err := decodeBody(b[8:])
		if err == nil && len(m.Chunks) < 2 {
			err = fmt.Errorf("%w: %d chunks (a file of one chunk has no manifest)", ErrFormat, len(m.Chunks))
		}
		return m, err
	case bytes.HasPrefix(b, magicV1):
		if len(b) < headerSize+32 {
			return nil, fmt.Errorf("%w: truncated", ErrFormat)
		}
		sum := blake3.Sum256(b[:len(b)-32])
		if !bytes.Equal(sum[:], b[len(b)-32:]) {
			return nil, fmt.Errorf("%w: checksum mismatch", ErrFormat)
		}
		m, err := decodeBody(b[8 : len(b)-32])
		if err == nil && !id.IsZero() && cas.ManifestID(m.OID) != id {
			return nil, fmt.Errorf("%w: stored as %s but describes file %s", ErrFormat, id.Short(), m.OID.Short())
		}
		return m, err
	}
	return nil, fmt.Errorf("%w: not a lode manifest", ErrFormat)
}

// decodeBody parses oid, size, count and the chunks, which must fill b.
func decodeBody(b []byte) (*Manifest, error) {
	if len(b) < headerSize-8 {
		return nil, fmt.Errorf("%w: truncated", ErrFormat)
	}
	m := &Manifest{}
	copy(m.OID[:], b[0:32])
	size := binary.BigEndian.Uint64(b[32:40])
	count := int64(binary.BigEndian.Uint32(b[40:44]))
	if size > pointer.MaxFileSize {
		return nil, fmt.Errorf("%w: file size %d over the maximum", ErrFormat, size)
	}
	if int64(len(b)) != headerSize-8+chunkSize*count {
		return nil, fmt.Errorf("%w: %d chunks need %d bytes, have %d", ErrFormat, count, headerSize-8+chunkSize*count, len(b))
	}
	chunks, err := decodeChunks(b[headerSize-8:], int(count), int64(size), chunkSize, nil)
	if err != nil {
		return nil, err
	}
	m.Chunks, m.Size = chunks, int64(size)
	return m, nil
}

// decodeChunks reads count chunks of stride bytes each (length, id, then
// whatever the caller's each reads) and checks the chunker's length rules
// and that they add up to size.
func decodeChunks(p []byte, count int, size int64, stride int, each func(i int, rest []byte) error) ([]Chunk, error) {
	if int64(count) > size/chunker.MinSize+1 {
		return nil, fmt.Errorf("%w: %d chunks cannot make a file of %d bytes", ErrFormat, count, size)
	}
	chunks := make([]Chunk, count)
	var off int64
	for i := range chunks {
		n := binary.BigEndian.Uint32(p[0:4])
		switch {
		case n == 0 || n > chunker.MaxSize:
			return nil, fmt.Errorf("%w: chunk %d has %d bytes (1 to %d allowed)", ErrFormat, i, n, chunker.MaxSize)
		case n < chunker.MinSize && i < count-1:
			return nil, fmt.Errorf("%w: chunk %d has %d bytes, below the minimum %d of all but the last", ErrFormat, i, n, chunker.MinSize)
		}
		c := &chunks[i]
		c.Len, c.Offset = n, off
		copy(c.ID[:], p[4:36])
		off += int64(n)
		if each != nil {
			if err := each(i, p[36:stride]); err != nil {
				return nil, err
			}
		}
		p = p[stride:]
	}
	if off != size {
		return nil, fmt.Errorf("%w: chunks add up to %d bytes, manifest says %d", ErrFormat, off, size)
	}
	return chunks, nil
}

// Find returns the index of the chunk holding byte offset off, by binary
// search; it returns len(m.Chunks) if off is at or past the end.
func (m *Manifest) Find(off int64) int {
	return sort.Search(len(m.Chunks), func(i int) bool { return m.Chunks[i].End() > off })
}

// ObjectID returns the id under which the manifest of the file p points to
// is stored, and false for files that have none (one chunk, or empty).
func ObjectID(p pointer.Pointer) (cas.ID, bool) {
	switch {
	case p.V1:
		return cas.ManifestID(p.OID), p.Size > 0
	case p.Manifest.IsZero():
		return cas.ID{}, false
	}
	return p.Manifest, true
}

// ForPointer decodes b, fetched as the manifest of the file p points to,
// and checks that it is that file's: for a version 2 pointer b must hash to
// the pointer's manifest id (which binds the whole chunk list), for a
// version 1 pointer it must describe the pointer's oid and size. Errors
// wrap cas.ErrCorrupt (and ErrMismatch or ErrFormat).
func ForPointer(b []byte, p pointer.Pointer) (*Manifest, error) {
	id, ok := ObjectID(p)
	if !ok {
		return nil, fmt.Errorf("%w: the file %s has no manifest", ErrMismatch, p.OID.Short())
	}
	if int64(len(b)) > MaxEncodedLen(p.Size) {
		return nil, fmt.Errorf("%w: %d bytes, more than a manifest of a %d-byte file can be", ErrMismatch, len(b), p.Size)
	}
	if p.V1 != bytes.HasPrefix(b, magicV1) {
		return nil, fmt.Errorf("%w: manifest format does not fit pointer version", ErrMismatch)
	}
	if !p.V1 && cas.Sum(b) != id {
		return nil, fmt.Errorf("%w: the chunk list does not hash to the manifest id %s that the pointer names", ErrMismatch, id.Short())
	}
	m, err := Decode(b, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", cas.ErrCorrupt, err)
	}
	if m.OID != p.OID || m.Size != p.Size {
		return nil, fmt.Errorf("%w: it describes %s (%d bytes), the pointer %s (%d bytes)", ErrMismatch, m.OID.Short(), m.Size, p.OID.Short(), p.Size)
	}
	return m, nil
}
