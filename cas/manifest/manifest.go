// Package manifest encodes the ordered chunk list of one file (format v1).
//
// A manifest is stored as an object of kind cas.KindManifest under the ID
// cas.ManifestID(oid). Its encoding is self-checking:
//
//	manifest = "LODEMAN1" oid:[32] size:u64 count:u32 chunk*count checksum:[32]
//	chunk    = length:u32 id:[32]
//
// Integers are big-endian; checksum is the BLAKE3-256 of all bytes before
// it. The chunk lengths add up to size, and every chunk but the last is at
// least one byte long. A reader checks the checksum, the lengths, and that
// the object's ID is cas.ManifestID(oid); the chunks themselves are checked
// against their ids when read, and the whole file against oid when it has
// been reassembled.
package manifest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/lodevcs/lode/cas"
	"github.com/zeebo/blake3"
)

var magic = []byte("LODEMAN1")

const (
	headerSize = 8 + 32 + 8 + 4
	chunkSize  = 4 + 32
)

// ErrFormat is wrapped by Decode for bytes that are not a valid manifest.
var ErrFormat = errors.New("invalid manifest")

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

// Finish returns the manifest for the file with the given oid.
func (b *Builder) Finish(oid cas.ID) *Manifest {
	m := b.m
	m.OID = oid
	return &m
}

// ID returns the object ID the manifest is stored under.
func (m *Manifest) ID() cas.ID { return cas.ManifestID(m.OID) }

// Encode returns the manifest's encoding.
func (m *Manifest) Encode() []byte {
	b := make([]byte, headerSize+chunkSize*len(m.Chunks)+32)
	copy(b, magic)
	copy(b[8:40], m.OID[:])
	binary.BigEndian.PutUint64(b[40:48], uint64(m.Size))
	binary.BigEndian.PutUint32(b[48:52], uint32(len(m.Chunks)))
	p := b[headerSize:]
	for _, c := range m.Chunks {
		binary.BigEndian.PutUint32(p[0:4], c.Len)
		copy(p[4:36], c.ID[:])
		p = p[chunkSize:]
	}
	sum := blake3.Sum256(b[:len(b)-32])
	copy(p, sum[:])
	return b
}

// Decode parses and checks an encoded manifest. If id is not zero it must
// be the ID the manifest was stored under.
func Decode(b []byte, id cas.ID) (*Manifest, error) {
	if len(b) < headerSize+32 || !bytes.Equal(b[:8], magic) {
		return nil, fmt.Errorf("%w: not a lode manifest", ErrFormat)
	}
	sum := blake3.Sum256(b[:len(b)-32])
	if !bytes.Equal(sum[:], b[len(b)-32:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrFormat)
	}
	m := &Manifest{}
	copy(m.OID[:], b[8:40])
	if !id.IsZero() && cas.ManifestID(m.OID) != id {
		return nil, fmt.Errorf("%w: stored as %s but describes file %s", ErrFormat, id.Short(), m.OID.Short())
	}
	size := binary.BigEndian.Uint64(b[40:48])
	count := int(binary.BigEndian.Uint32(b[48:52]))
	if len(b) != headerSize+chunkSize*count+32 {
		return nil, fmt.Errorf("%w: %d chunks need %d bytes, have %d", ErrFormat, count, headerSize+chunkSize*count+32, len(b))
	}
	m.Chunks = make([]Chunk, count)
	p := b[headerSize:]
	var off int64
	for i := range m.Chunks {
		n := binary.BigEndian.Uint32(p[0:4])
		if n == 0 {
			return nil, fmt.Errorf("%w: chunk %d is empty", ErrFormat, i)
		}
		c := &m.Chunks[i]
		c.Len = n
		c.Offset = off
		copy(c.ID[:], p[4:36])
		off += int64(n)
		p = p[chunkSize:]
	}
	if uint64(off) != size {
		return nil, fmt.Errorf("%w: chunks add up to %d bytes, manifest says %d", ErrFormat, off, size)
	}
	m.Size = off
	return m, nil
}

// Find returns the index of the chunk holding byte offset off, by binary
// search; it returns len(m.Chunks) if off is at or past the end.
func (m *Manifest) Find(off int64) int {
	return sort.Search(len(m.Chunks), func(i int) bool { return m.Chunks[i].End() > off })
}
