package midx

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/zeebo/blake3"
)

// Records gives one pack's records in the order of its pack index: by
// object id, then offset. A *pack.Index is one. Entry is called with
// 0 <= i < Len(), in increasing order, twice over (Write counts, then
// merges); the records must not change in between.
type Records interface {
	Len() int
	Entry(i int) (pack.Entry, error)
}

// Pack is one pack to index: its id, its size in bytes and its records.
type Pack struct {
	ID      cas.ID
	Size    int64
	Records Records
}

// FromIndex describes the pack a pack index belongs to.
func FromIndex(ix *pack.Index) Pack {
	return Pack{ID: ix.ID(), Size: ix.PackSize(), Records: ix}
}

// Write writes to w the multi-pack index of packs (in any order) and
// returns its id, the file's checksum. See Rewrite.
func Write(w io.Writer, packs []Pack) (cas.ID, error) {
	return Rewrite(w, nil, nil, packs)
}

// Rewrite writes to w a multi-pack index of the records of base that lie
// in packs keep accepts (every pack of base if keep is nil), and of every
// record of packs, and returns its id. base may be nil. A pack may appear
// only once, either in packs or among the packs kept from base. The result
// is the same file Write makes from the same packs.
//
// Rewrite streams: it reads the records twice, once to count them by first
// byte (the fanout table comes before the records) and once to merge them
// (a k-way merge over a heap of one cursor per pack), and keeps in memory
// only the pack table and a fixed state per pack, whatever the number of
// records. It checks every record as Open will (order, bounds, within its
// pack) and fails, wrapping pack.ErrFormat, rather than write a file Open
// would refuse. A bad record is found in the first pass, before a byte is
// written to w; records that change between the passes are found in the
// second, and w then holds part of a file, which the caller (writing to a
// temporary file) discards. Errors from w are returned wrapped.
func Rewrite(w io.Writer, base *Index, keep func(PackInfo) bool, packs []Pack) (cas.ID, error) {
	srcs, table, err := plan(base, keep, packs)
	if err != nil {
		return cas.ID{}, err
	}

	// First pass: count by first byte, checking each pack alone.
	var counts [256]uint64
	var total uint64
	for _, s := range srcs {
		s.reset()
		var prev [RecordSize]byte
		for first := true; ; first = false {
			ok, err := s.advance()
			if err != nil {
				return cas.ID{}, err
			}
			if !ok {
				break
			}
			if !first && bytes.Compare(prev[:keyLen], s.head[:keyLen]) >= 0 {
				return cas.ID{}, fmt.Errorf("%w: pack %s: record %d (object %x) out of order", pack.ErrFormat, s.name().Short(), s.i-1, s.head[:6])
			}
			prev = s.head
			counts[s.head[0]]++
			total++
		}
	}
	if total > MaxRecords {
		return cas.ID{}, fmt.Errorf("multi-pack index of %d records: at most %d fit", total, uint64(MaxRecords))
	}

	h := blake3.New()
	out := &writer{bw: bufio.NewWriterSize(io.MultiWriter(w, h), 64<<10)}
	var hdr [HeaderSize]byte
	copy(hdr[:], magic)
	be.PutUint32(hdr[8:12], Version)
	be.PutUint32(hdr[12:16], uint32(len(table)))
	be.PutUint32(hdr[16:20], uint32(total))
	out.write(hdr[:])
	for _, p := range table {
		var b [PackRecordSize]byte
		copy(b[:32], p.ID[:])
		be.PutUint64(b[32:40], uint64(p.Size))
		out.write(b[:])
	}
	var fan [FanoutSize]byte
	var sum uint64
	for c, n := range counts {
		sum += n
		be.PutUint32(fan[4*c:], uint32(sum))
	}
	out.write(fan[:])

	// Second pass: merge. The output must come out strictly sorted; since a
	// merge keeps each pack's order, that also rechecks every pack's.
	hp := make(heap, 0, len(srcs))
	for _, s := range srcs {
		s.reset()
		ok, err := s.advance()
		if err != nil {
			return cas.ID{}, err
		}
		if ok {
			hp = append(hp, s)
		}
	}
	hp.init()
	var again [256]uint64
	var last [RecordSize]byte
	var written uint64
	for len(hp) > 0 {
		s := hp[0]
		if written > 0 && bytes.Compare(last[:keyLen], s.head[:keyLen]) >= 0 {
			return cas.ID{}, fmt.Errorf("%w: pack %s: record %d (object %x) out of order", pack.ErrFormat, s.name().Short(), s.i-1, s.head[:6])
		}
		last = s.head
		out.write(s.head[:])
		if out.err != nil {
			return cas.ID{}, out.err
		}
		again[s.head[0]]++
		written++
		ok, err := s.advance()
		if err != nil {
			return cas.ID{}, err
		}
		if ok {
			hp.down(0)
		} else {
			hp.pop()
		}
	}
	if again != counts {
		return cas.ID{}, fmt.Errorf("write multi-pack index: the records changed while being written (%d, then %d)", total, written)
	}
	if err := out.flush(); err != nil {
		return cas.ID{}, err
	}
	id := cas.ID(h.Sum(nil))
	if _, err := w.Write(id[:]); err != nil {
		return cas.ID{}, fmt.Errorf("write multi-pack index: %w", err)
	}
	return id, nil
}

// plan builds the pack table (sorted by id) and one source per pack given
// and one for base.
func plan(base *Index, keep func(PackInfo) bool, packs []Pack) ([]*source, []PackInfo, error) {
	type row struct {
		PackInfo
		src  *source // a pack's, or nil for one kept from base
		from int     // its number in base
	}
	var rows []row
	var srcs []*source
	for i, p := range packs {
		if p.Records == nil {
			return nil, nil, fmt.Errorf("multi-pack index: pack %d (%s) has no records", i, p.ID.Short())
		}
		if p.Size < pack.HeaderSize {
			return nil, nil, fmt.Errorf("%w: pack %s has size %d", pack.ErrFormat, p.ID.Short(), p.Size)
		}
		s := &source{recs: p.Records, id: p.ID, size: p.Size}
		srcs = append(srcs, s)
		rows = append(rows, row{PackInfo: PackInfo{ID: p.ID, Size: p.Size}, src: s})
	}
	var bs *source
	if base != nil {
		bs = &source{base: base, remap: make([]uint32, base.npacks)}
		for n := range base.npacks {
			pi := base.packInfo(n)
			bs.remap[n] = dropped
			if keep == nil || keep(pi) {
				rows = append(rows, row{PackInfo: pi, from: n})
			}
		}
		srcs = append(srcs, bs)
	}
	if len(rows) > MaxPacks {
		return nil, nil, fmt.Errorf("multi-pack index of %d packs: at most %d fit", len(rows), uint64(MaxPacks))
	}
	slices.SortFunc(rows, func(a, b row) int { return a.ID.Compare(b.ID) })
	table := make([]PackInfo, len(rows))
	for i, r := range rows {
		if i > 0 && r.ID == rows[i-1].ID {
			return nil, nil, fmt.Errorf("multi-pack index: pack %s given twice", r.ID.Short())
		}
		table[i] = r.PackInfo
		if r.src != nil {
			r.src.num = uint32(i)
		} else {
			bs.remap[r.from] = uint32(i)
		}
	}
	return srcs, table, nil
}

// dropped marks, in source.remap, a pack of base that is not kept.
const dropped = ^uint32(0)

// source is a cursor over the records of one pack, or over those of a
// base index; head is the current record, encoded with its new pack
// number, so that cursors compare bytewise and the head is written as is.
type source struct {
	recs Records
	id   cas.ID // the pack's
	size int64  // the pack's
	num  uint32 // the pack's row in the new table

	base  *Index
	remap []uint32 // base's pack numbers to the new table's, or dropped

	i, n int
	head [RecordSize]byte
}

func (s *source) name() cas.ID {
	if s.base != nil {
		return s.base.ID()
	}
	return s.id
}

func (s *source) reset() {
	s.i = 0
	if s.base != nil {
		s.n = s.base.Len()
	} else {
		s.n = s.recs.Len()
	}
}

// advance moves head to the next record and reports false at the end.
func (s *source) advance() (bool, error) {
	if s.base != nil {
		for s.i < s.n {
			r := s.base.rec(s.i)
			s.i++
			from := be.Uint32(r[32:36])
			if int(from) >= len(s.remap) {
				return false, fmt.Errorf("%w: base %s: record %d names pack %d of %d", ErrFormat, s.base.ID().Short(), s.i-1, from, len(s.remap))
			}
			if s.remap[from] == dropped {
				continue
			}
			copy(s.head[:], r)
			be.PutUint32(s.head[32:36], s.remap[from])
			return true, nil
		}
		return false, nil
	}
	if s.i >= s.n {
		return false, nil
	}
	e, err := s.recs.Entry(s.i)
	s.i++
	if err != nil {
		return false, fmt.Errorf("pack %s: %w", s.id.Short(), err)
	}
	if err := e.Check(); err != nil {
		return false, fmt.Errorf("%w: pack %s: record %d (object %s): %v", pack.ErrFormat, s.id.Short(), s.i-1, e.ID.Short(), err)
	}
	if !within(e, s.size) {
		return false, fmt.Errorf("%w: pack %s: record %d (object %s) lies outside the pack's %d bytes", pack.ErrFormat, s.id.Short(), s.i-1, e.ID.Short(), s.size)
	}
	putRecord(s.head[:], s.num, e)
	return true, nil
}

func putRecord(b []byte, num uint32, e pack.Entry) {
	copy(b[0:32], e.ID[:])
	be.PutUint32(b[32:36], num)
	be.PutUint64(b[36:44], uint64(e.Offset))
	be.PutUint32(b[44:48], e.RawLen)
	be.PutUint32(b[48:52], e.StoredLen)
	b[52] = byte(e.Kind)
	b[53] = byte(e.Method)
	b[54], b[55] = 0, 0
}

// heap is a binary min-heap of cursors by head.
type heap []*source

func (h heap) less(i, j int) bool { return bytes.Compare(h[i].head[:keyLen], h[j].head[:keyLen]) < 0 }

func (h heap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h heap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// pop removes the minimum.
func (h *heap) pop() {
	old := *h
	n := len(old) - 1
	old[0] = old[n]
	old[n] = nil
	*h = old[:n]
	h.down(0)
}

// writer is a buffered writer with a sticky error.
type writer struct {
	bw  *bufio.Writer
	err error
}

func (w *writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("write multi-pack index: %w", err)
	}
}

func (w *writer) flush() error {
	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("write multi-pack index: %w", err)
		}
	}
	return w.err
}
