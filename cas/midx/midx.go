package midx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"math"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/zeebo/blake3"
)

// Format constants; all are part of format v1.
const (
	Version        = 1
	HeaderSize     = 24
	PackRecordSize = 40 // id:[32] size:u64
	FanoutSize     = 256 * 4
	RecordSize     = 56
	ChecksumSize   = 32

	// MaxRecords and MaxPacks are the largest counts the format holds
	// (they are stored as u32).
	MaxRecords = math.MaxUint32
	MaxPacks   = math.MaxUint32

	// keyLen is the length of a record's sort key: id, pack number and
	// offset, all big-endian, so that records sort bytewise by it.
	keyLen = 44
)

var magic = []byte("LODEMIDX")

// ErrFormat is wrapped by errors about bytes that are not a valid
// multi-pack index. It wraps pack.ErrFormat, so callers that branch on
// damaged pack indexes treat a damaged multi-pack index the same way.
var ErrFormat = fmt.Errorf("invalid multi-pack index: %w", pack.ErrFormat)

var be = binary.BigEndian

// PackInfo is one row of the pack table: a pack's id (the checksum of its
// pack index) and its size in bytes.
type PackInfo struct {
	ID   cas.ID
	Size int64
}

// Location is one copy of an object: the pack holding it and the copy's
// record, as the pack's own index gives it (Entry.Offset is in that pack).
type Location struct {
	Pack    cas.ID
	PackNum int // the pack's row in Packs
	Entry   pack.Entry
}

// Index is a parsed multi-pack index. It reads the encoded bytes in place
// (they may be a read-only memory map) and costs no memory beyond them and
// a copy of the fanout table. The bytes must not change while the Index is
// in use. An Index is safe for concurrent use.
type Index struct {
	b      []byte
	packs  []byte // the pack table
	recs   []byte // the records
	npacks int
	n      int
	fanout [256]uint32 // fanout[c]: records whose id's first byte is at most c
	id     cas.ID
}

// Open checks the structure of an encoded multi-pack index and returns it:
// the header, the sizes of every section, the pack table (sorted by id,
// without duplicates, every size at least a pack header), the fanout table
// (never decreasing, ending at the record count), and every record (in
// the range its fanout entry gives, strictly sorted by id, pack number and
// offset, naming a pack of the table, within that pack and within the
// bounds of pack.Entry.Check). It takes time linear in the size of b and
// allocates a fixed amount, whatever b holds. It does not recompute the
// checksum: see Verify.
func Open(b []byte) (*Index, error) {
	if len(b) < HeaderSize+FanoutSize+ChecksumSize || !bytes.Equal(b[:8], magic) {
		return nil, fmt.Errorf("%w: not a lode multi-pack index", ErrFormat)
	}
	if v := be.Uint32(b[8:12]); v != Version {
		return nil, fmt.Errorf("%w: version %d, this git-lode reads version %d", ErrFormat, v, Version)
	}
	np, n := uint64(be.Uint32(b[12:16])), uint64(be.Uint32(b[16:20]))
	if be.Uint32(b[20:24]) != 0 {
		return nil, fmt.Errorf("%w: non-zero reserved header bytes", ErrFormat)
	}
	// At most 2^32-1 of each, so the sum cannot overflow.
	want := HeaderSize + PackRecordSize*np + FanoutSize + RecordSize*n + ChecksumSize
	if uint64(len(b)) != want {
		return nil, fmt.Errorf("%w: %d packs and %d records take %d bytes, the file has %d", ErrFormat, np, n, want, len(b))
	}
	ix := &Index{b: b, npacks: int(np), n: int(n)}
	off := HeaderSize
	ix.packs = b[off : off+PackRecordSize*ix.npacks]
	off += len(ix.packs)
	fan := b[off : off+FanoutSize]
	off += FanoutSize
	ix.recs = b[off : off+RecordSize*ix.n]
	copy(ix.id[:], b[len(b)-ChecksumSize:])

	for i := 0; i < ix.npacks; i++ {
		p := ix.packs[i*PackRecordSize : (i+1)*PackRecordSize]
		if size := be.Uint64(p[32:40]); size < pack.HeaderSize || size > math.MaxInt64 {
			return nil, fmt.Errorf("%w: pack %d has size %d", ErrFormat, i, size)
		}
		if i > 0 && bytes.Compare(ix.packs[(i-1)*PackRecordSize:][:32], p[:32]) >= 0 {
			return nil, fmt.Errorf("%w: packs %d and %d out of order", ErrFormat, i-1, i)
		}
	}

	var prev uint32
	for c := range ix.fanout {
		f := be.Uint32(fan[4*c:])
		if f < prev {
			return nil, fmt.Errorf("%w: fanout decreases at %#02x (%d after %d)", ErrFormat, c, f, prev)
		}
		ix.fanout[c], prev = f, f
	}
	if uint64(prev) != n {
		return nil, fmt.Errorf("%w: fanout counts %d records, the header %d", ErrFormat, prev, n)
	}

	// With the fanout never decreasing and ending at n, its ranges
	// partition the records; a record inside the range of its first byte,
	// in a sorted table, puts every record in exactly its range.
	for i := 0; i < ix.n; i++ {
		r := ix.rec(i)
		if lo, hi := ix.bucket(r[0]); i < lo || i >= hi {
			return nil, fmt.Errorf("%w: record %d (object %x) outside its fanout range [%d, %d)", ErrFormat, i, r[:6], lo, hi)
		}
		if i > 0 && bytes.Compare(ix.rec(i - 1)[:keyLen], r[:keyLen]) >= 0 {
			return nil, fmt.Errorf("%w: records %d and %d out of order", ErrFormat, i-1, i)
		}
		if err := ix.check(i); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// bucket returns the range of records whose id starts with byte c.
func (ix *Index) bucket(c byte) (lo, hi int) {
	if c > 0 {
		lo = int(ix.fanout[c-1])
	}
	return lo, int(ix.fanout[c])
}

func (ix *Index) rec(i int) []byte {
	return ix.recs[i*RecordSize : (i+1)*RecordSize]
}

func (ix *Index) packInfo(n int) PackInfo {
	p := ix.packs[n*PackRecordSize : (n+1)*PackRecordSize]
	var pi PackInfo
	copy(pi.ID[:], p[:32])
	pi.Size = int64(be.Uint64(p[32:40]))
	return pi
}

// decode reads record i; it is checked only by check.
func (ix *Index) decode(i int) (num int, e pack.Entry) {
	r := ix.rec(i)
	copy(e.ID[:], r[0:32])
	num = int(be.Uint32(r[32:36]))
	e.Offset = int64(be.Uint64(r[36:44]))
	e.RawLen = be.Uint32(r[44:48])
	e.StoredLen = be.Uint32(r[48:52])
	e.Kind = cas.Kind(r[52])
	e.Method = compress.Method(r[53])
	return num, e
}

// check enforces on record i what a pack index enforces on its records.
func (ix *Index) check(i int) error {
	num, e := ix.decode(i)
	if r := ix.rec(i); r[54] != 0 || r[55] != 0 {
		return fmt.Errorf("%w: record %d (object %s) has non-zero reserved bytes", ErrFormat, i, e.ID.Short())
	}
	if num >= ix.npacks {
		return fmt.Errorf("%w: record %d (object %s) names pack %d of %d", ErrFormat, i, e.ID.Short(), num, ix.npacks)
	}
	if err := e.Check(); err != nil {
		return fmt.Errorf("%w: record %d (object %s): %v", ErrFormat, i, e.ID.Short(), err)
	}
	if size := ix.packInfo(num).Size; !within(e, size) {
		return fmt.Errorf("%w: record %d (object %s) lies outside its pack of %d bytes", ErrFormat, i, e.ID.Short(), size)
	}
	return nil
}

// within reports whether e, header and stored bytes, lies after the
// header of a pack of size bytes (at least pack.HeaderSize) and inside it.
// Unlike e.End() <= size it cannot overflow, e.Offset and size being at
// least 0.
func within(e pack.Entry, size int64) bool {
	return e.Offset >= pack.HeaderSize && pack.EntryHeaderSize+int64(e.StoredLen) <= size-e.Offset
}

// Verify recomputes the checksum, which names the file, over every byte
// before it. Open has checked everything else.
func (ix *Index) Verify() error {
	sum := blake3.Sum256(ix.b[:len(ix.b)-ChecksumSize])
	if cas.ID(sum) != ix.id {
		return fmt.Errorf("%w: checksum mismatch", ErrFormat)
	}
	return nil
}

// ID is the checksum the file carries: its name, once Verify has passed.
func (ix *Index) ID() cas.ID { return ix.id }

// Len is the number of records, one per copy of an object.
func (ix *Index) Len() int { return ix.n }

// Packs returns the pack table, sorted by id; a Location's PackNum is a
// row of it. The slice is new and belongs to the caller.
func (ix *Index) Packs() []PackInfo {
	out := make([]PackInfo, ix.npacks)
	for i := range out {
		out[i] = ix.packInfo(i)
	}
	return out
}

// At returns record i, 0 <= i < Len(). Records are in order of object
// id, then pack (by id), then offset.
func (ix *Index) At(i int) Location {
	num, e := ix.decode(i)
	return Location{Pack: ix.packInfo(num).ID, PackNum: num, Entry: e}
}

// Find returns the records of every copy of id: At(first) to
// At(first+n-1), with n = 0 if the index has none. It reads the fanout
// entry of id's first byte, then binary-searches that range.
func (ix *Index) Find(id cas.ID) (first, n int) {
	lo, end := ix.bucket(id[0])
	hi := end
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(ix.rec(m)[:cas.IDSize], id[:]) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	first = lo
	for lo < end && bytes.Equal(ix.rec(lo)[:cas.IDSize], id[:]) {
		lo++
	}
	return first, lo - first
}

// Lookup yields every copy of id, ordered by pack id, and nothing if the
// index has none. It allocates nothing per copy, however many there are.
func (ix *Index) Lookup(id cas.ID) iter.Seq[Location] {
	return func(yield func(Location) bool) {
		first, n := ix.Find(id)
		for i := first; i < first+n; i++ {
			if !yield(ix.At(i)) {
				return
			}
		}
	}
}
