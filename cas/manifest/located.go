package manifest

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/zeebo/blake3"
)

// A located manifest is what a remote of layout 1 stores for one file
// under manifests/<oid>: the chunk list plus where each chunk sits in the
// remote's packs. Layout 2 remotes no longer write them (chunk locations
// come from the pack indexes); readers still consult them for version 1
// pointers. Encoding (format 1):
//
//	located = "LODELOC1" oid:[32] size:u64 npacks:u32 packID:[32]*npacks
//	          count:u32 entry*count checksum:[32]
//	entry   = length:u32 id:[32] pack:u32 offset:u64 storedLen:u32 method:u8 kind:u8 zero:u16
//
// checksum is the BLAKE3-256 of all bytes before it. Nothing binds the
// chunk list to a version 1 pointer, so its file must be checked whole.

var locMagic = []byte("LODELOC1")

const locEntrySize = 4 + 32 + 4 + 8 + 4 + 1 + 1 + 2

// MaxLocatedLen bounds the encoding of a located manifest of a file of
// size bytes.
func MaxLocatedLen(size int64) int64 {
	n := size/8192 + 1
	return 8 + 32 + 8 + 4 + 32*n + 4 + locEntrySize*n + 32
}

// Location is where one chunk is stored in a remote.
type Location struct {
	Pack      cas.ID // pack id
	Offset    int64  // of the chunk's entry header in the pack
	StoredLen uint32
	Method    uint8
}

// Located is a manifest with the location of every chunk.
type Located struct {
	Manifest
	Locs []Location // parallel to Chunks
}

// Encode returns the located manifest's encoding.
func (l *Located) Encode() []byte {
	packIdx := map[cas.ID]uint32{}
	var packs []cas.ID
	for _, loc := range l.Locs {
		if _, ok := packIdx[loc.Pack]; !ok {
			packIdx[loc.Pack] = uint32(len(packs))
			packs = append(packs, loc.Pack)
		}
	}
	n := 8 + 32 + 8 + 4 + 32*len(packs) + 4 + locEntrySize*len(l.Chunks) + 32
	b := make([]byte, 0, n)
	b = append(b, locMagic...)
	b = append(b, l.OID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(l.Size))
	b = binary.BigEndian.AppendUint32(b, uint32(len(packs)))
	for _, p := range packs {
		b = append(b, p[:]...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Chunks)))
	for i, c := range l.Chunks {
		loc := l.Locs[i]
		b = binary.BigEndian.AppendUint32(b, c.Len)
		b = append(b, c.ID[:]...)
		b = binary.BigEndian.AppendUint32(b, packIdx[loc.Pack])
		b = binary.BigEndian.AppendUint64(b, uint64(loc.Offset))
		b = binary.BigEndian.AppendUint32(b, loc.StoredLen)
		b = append(b, loc.Method, byte(cas.KindChunk), 0, 0)
	}
	sum := blake3.Sum256(b)
	return append(b, sum[:]...)
}

// DecodeLocated parses and checks a located manifest. If oid is not zero
// the manifest must describe that file.
func DecodeLocated(b []byte, oid cas.ID) (*Located, error) {
	fail := func(format string, args ...any) (*Located, error) {
		return nil, fmt.Errorf("%w: located manifest: %s", ErrFormat, fmt.Sprintf(format, args...))
	}
	if len(b) < 8+32+8+4+4+32 || !bytes.Equal(b[:8], locMagic) {
		return fail("not a lode located manifest")
	}
	sum := blake3.Sum256(b[:len(b)-32])
	if !bytes.Equal(sum[:], b[len(b)-32:]) {
		return fail("checksum mismatch")
	}
	l := &Located{}
	copy(l.OID[:], b[8:40])
	if !oid.IsZero() && l.OID != oid {
		return fail("describes file %s, not %s", l.OID.Short(), oid.Short())
	}
	size := binary.BigEndian.Uint64(b[40:48])
	if size > pointer.MaxFileSize {
		return fail("file size %d over the maximum", size)
	}
	p := b[48 : len(b)-32]
	npacks := int(binary.BigEndian.Uint32(p[:4]))
	p = p[4:]
	if npacks > len(p)/32 {
		return fail("%d packs do not fit", npacks)
	}
	packs := make([]cas.ID, npacks)
	for i := range packs {
		copy(packs[i][:], p[:32])
		p = p[32:]
	}
	if len(p) < 4 {
		return fail("truncated")
	}
	count := int(binary.BigEndian.Uint32(p[:4]))
	p = p[4:]
	if npacks > count {
		return fail("%d packs for %d chunks", npacks, count)
	}
	if len(p) != count*locEntrySize {
		return fail("%d chunks need %d bytes, have %d", count, count*locEntrySize, len(p))
	}
	var locs []Location
	chunks, err := decodeChunks(p, count, int64(size), locEntrySize, func(i int, e []byte) error {
		pi := binary.BigEndian.Uint32(e[0:4])
		if int(pi) >= npacks {
			return fmt.Errorf("%w: located manifest: chunk %d names pack %d of %d", ErrFormat, i, pi, npacks)
		}
		if e[17] != byte(cas.KindChunk) || e[18] != 0 || e[19] != 0 {
			return fmt.Errorf("%w: located manifest: chunk %d has bad kind or reserved bytes", ErrFormat, i)
		}
		if locs == nil {
			locs = make([]Location, 0, count)
		}
		locs = append(locs, Location{
			Pack:      packs[pi],
			Offset:    int64(binary.BigEndian.Uint64(e[4:12])),
			StoredLen: binary.BigEndian.Uint32(e[12:16]),
			Method:    e[16],
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.Chunks, l.Locs, l.Size = chunks, locs, int64(size)
	return l, nil
}
