package pack

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/chunker"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/zeebo/blake3"
)

// Format constants; all are part of format v1.
const (
	Version         = 1
	HeaderSize      = 16
	EntryHeaderSize = 44
	RecordSize      = 52
	indexHeaderSize = 16
	trailerSize     = 40
)

var (
	packMagic  = []byte("LODEPACK")
	indexMagic = []byte("LODEINDX")
)

// ErrFormat is wrapped by errors about bytes that are not a valid pack or
// index (truncated, wrong magic, inconsistent fields, bad checksum).
var ErrFormat = errors.New("invalid pack format")

// Entry describes one object of a pack.
type Entry struct {
	ID        cas.ID
	Kind      cas.Kind
	Method    compress.Method
	Offset    int64  // of the entry header in the pack
	RawLen    uint32 // length after decompression
	StoredLen uint32 // length of the stored bytes after the header
}

// DataOffset is where the entry's stored bytes start in the pack.
func (e Entry) DataOffset() int64 { return e.Offset + EntryHeaderSize }

// End is the offset just past the entry's stored bytes.
func (e Entry) End() int64 { return e.DataOffset() + int64(e.StoredLen) }

func putEntryHeader(b []byte, e Entry) {
	copy(b[0:32], e.ID[:])
	b[32] = byte(e.Kind)
	b[33] = byte(e.Method)
	b[34], b[35] = 0, 0
	binary.BigEndian.PutUint32(b[36:40], e.RawLen)
	binary.BigEndian.PutUint32(b[40:44], e.StoredLen)
}

// ParseEntryHeader decodes an entry header found at offset.
func ParseEntryHeader(b []byte, offset int64) (Entry, error) {
	if len(b) < EntryHeaderSize {
		return Entry{}, fmt.Errorf("%w: entry header at %d truncated", ErrFormat, offset)
	}
	var e Entry
	copy(e.ID[:], b[0:32])
	e.Kind = cas.Kind(b[32])
	e.Method = compress.Method(b[33])
	e.RawLen = binary.BigEndian.Uint32(b[36:40])
	e.StoredLen = binary.BigEndian.Uint32(b[40:44])
	e.Offset = offset
	if b[34] != 0 || b[35] != 0 {
		return e, fmt.Errorf("%w: entry header at %d has non-zero reserved bytes", ErrFormat, offset)
	}
	if err := e.Check(); err != nil {
		return e, fmt.Errorf("%w: entry header at %d: %v", ErrFormat, offset, err)
	}
	return e, nil
}

// MaxChunkLen is the largest raw length of a chunk object: the chunker's
// maximum chunk size.
const MaxChunkLen = chunker.MaxSize

// Check enforces the bounds of format v1 on an entry's kind and lengths,
// so that no reader allocates or fetches more than an object can be: a
// chunk is 1 to MaxChunkLen raw bytes, any object at most
// compress.MaxRawLen, and stored bytes are never more than raw ones
// (methods are used only when they save space). It does not look at the
// offset; whoever knows the pack's size checks that the entry lies in it.
// Every entry header and index record is checked this way before use, and
// so is every record of a multi-pack index (cas/midx).
func (e Entry) Check() error {
	switch {
	case e.Kind != cas.KindChunk && e.Kind != cas.KindManifest:
		return fmt.Errorf("unknown object kind %d", e.Kind)
	case e.Kind == cas.KindChunk && (e.RawLen == 0 || e.RawLen > MaxChunkLen):
		return fmt.Errorf("chunk of %d bytes (1 to %d allowed)", e.RawLen, MaxChunkLen)
	case e.RawLen > compress.MaxRawLen:
		return fmt.Errorf("object of %d bytes (at most %d allowed)", e.RawLen, compress.MaxRawLen)
	case e.StoredLen > e.RawLen:
		return fmt.Errorf("%d stored bytes for %d raw bytes", e.StoredLen, e.RawLen)
	}
	return nil
}

// Writer appends objects to a pack. It is not safe for concurrent use. Its
// error is sticky: after a failed write every call returns that error.
type Writer struct {
	bw      *bufio.Writer
	off     int64
	entries []Entry
	err     error
}

// NewWriter starts a pack on w, writing its header.
func NewWriter(w io.Writer) *Writer {
	pw := &Writer{bw: bufio.NewWriterSize(w, 1<<20)}
	var h [HeaderSize]byte
	copy(h[:], packMagic)
	binary.BigEndian.PutUint32(h[8:12], Version)
	pw.write(h[:])
	return pw
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.bw.Write(b)
	w.off += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write pack: %w", err)
	}
}

// Add appends one object whose stored bytes are stored (compressed with
// method from rawLen raw bytes).
func (w *Writer) Add(id cas.ID, kind cas.Kind, method compress.Method, rawLen int, stored []byte) error {
	if w.err != nil {
		return w.err
	}
	if rawLen < 0 || rawLen > compress.MaxRawLen || len(stored) > compress.MaxRawLen {
		return fmt.Errorf("add %v to pack: length out of range", id)
	}
	e := Entry{ID: id, Kind: kind, Method: method, Offset: w.off, RawLen: uint32(rawLen), StoredLen: uint32(len(stored))}
	if err := e.Check(); err != nil {
		return fmt.Errorf("add %v to pack: %v", id, err)
	}
	var h [EntryHeaderSize]byte
	putEntryHeader(h[:], e)
	w.write(h[:])
	w.write(stored)
	if w.err != nil {
		return w.err
	}
	w.entries = append(w.entries, e)
	return nil
}

// Flush writes buffered bytes through to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("flush pack: %w", err)
	}
	return w.err
}

// Size is the number of pack bytes written so far.
func (w *Writer) Size() int64 { return w.off }

// Len is the number of objects added so far.
func (w *Writer) Len() int { return len(w.entries) }

// PeekID returns the ID the pack would have if finished now.
func (w *Writer) PeekID() cas.ID {
	idx := EncodeIndex(w.entries, w.off)
	var id cas.ID
	copy(id[:], idx[len(idx)-32:])
	return id
}

// Finish flushes the pack and returns its ID and encoded index. The Writer
// must not be used afterwards. The caller publishes the pack before the
// index.
func (w *Writer) Finish() (cas.ID, []byte, error) {
	if w.err != nil {
		return cas.ID{}, nil, w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("flush pack: %w", err)
		return cas.ID{}, nil, w.err
	}
	idx := EncodeIndex(w.entries, w.off)
	var id cas.ID
	copy(id[:], idx[len(idx)-32:])
	w.err = errors.New("pack writer already finished")
	return id, idx, nil
}

// EncodeIndex returns the index of a pack of packSize bytes holding entries
// (in any order; they are sorted here). Its last 32 bytes are the pack ID.
func EncodeIndex(entries []Entry, packSize int64) []byte {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b Entry) int {
		if c := a.ID.Compare(b.ID); c != 0 {
			return c
		}
		return int(a.Offset - b.Offset)
	})
	b := make([]byte, indexHeaderSize+RecordSize*len(sorted)+trailerSize)
	copy(b, indexMagic)
	binary.BigEndian.PutUint32(b[8:12], Version)
	binary.BigEndian.PutUint32(b[12:16], uint32(len(sorted)))
	p := b[indexHeaderSize:]
	for _, e := range sorted {
		copy(p[0:32], e.ID[:])
		binary.BigEndian.PutUint64(p[32:40], uint64(e.Offset))
		binary.BigEndian.PutUint32(p[40:44], e.RawLen)
		binary.BigEndian.PutUint32(p[44:48], e.StoredLen)
		p[48] = byte(e.Kind)
		p[49] = byte(e.Method)
		p = p[RecordSize:]
	}
	binary.BigEndian.PutUint64(p[0:8], uint64(packSize))
	sum := blake3.Sum256(b[:len(b)-32])
	copy(p[8:40], sum[:])
	return b
}

// Index is a parsed pack index. Lookups binary-search the encoded records
// in place, so an Index costs no memory beyond its bytes (which may be a
// read-only memory map). It is safe for concurrent use.
type Index struct {
	b        []byte
	count    int
	packSize int64
	id       cas.ID
}

// ParseIndex checks the structure of an encoded index and returns it. It
// does not recompute the checksum (see Verify), so that opening a store
// with large indexes stays fast; every record is still bounds-checked when
// it is used.
func ParseIndex(b []byte) (*Index, error) {
	if len(b) < indexHeaderSize+trailerSize || !bytes.Equal(b[:8], indexMagic) {
		return nil, fmt.Errorf("%w: not a lode pack index", ErrFormat)
	}
	if v := binary.BigEndian.Uint32(b[8:12]); v != Version {
		return nil, fmt.Errorf("%w: index version %d, this git-lode reads version %d", ErrFormat, v, Version)
	}
	count := int(binary.BigEndian.Uint32(b[12:16]))
	if want := indexHeaderSize + RecordSize*count + trailerSize; len(b) != want {
		return nil, fmt.Errorf("%w: index of %d records has %d bytes, want %d", ErrFormat, count, len(b), want)
	}
	ix := &Index{b: b, count: count}
	t := b[len(b)-trailerSize:]
	ix.packSize = int64(binary.BigEndian.Uint64(t[0:8]))
	copy(ix.id[:], t[8:40])
	if ix.packSize < HeaderSize {
		return nil, fmt.Errorf("%w: index gives pack size %d", ErrFormat, ix.packSize)
	}
	return ix, nil
}

// Verify recomputes the index checksum and checks that records are sorted
// and lie inside the pack.
func (ix *Index) Verify() error {
	sum := blake3.Sum256(ix.b[:len(ix.b)-32])
	if !bytes.Equal(sum[:], ix.id[:]) {
		return fmt.Errorf("%w: index checksum mismatch", ErrFormat)
	}
	for i := 0; i < ix.count; i++ {
		e, err := ix.entry(i)
		if err != nil {
			return err
		}
		if i > 0 && bytes.Compare(ix.record(i - 1)[:32], e.ID[:]) > 0 {
			return fmt.Errorf("%w: index records %d and %d out of order", ErrFormat, i-1, i)
		}
	}
	return nil
}

// ID returns the pack ID (the index checksum).
func (ix *Index) ID() cas.ID { return ix.id }

// PackSize is the size of the pack the index describes.
func (ix *Index) PackSize() int64 { return ix.packSize }

// Len is the number of records.
func (ix *Index) Len() int { return ix.count }

// Entry returns record i (in id order).
func (ix *Index) Entry(i int) (Entry, error) { return ix.entry(i) }

func (ix *Index) record(i int) []byte {
	off := indexHeaderSize + i*RecordSize
	return ix.b[off : off+RecordSize]
}

func (ix *Index) entry(i int) (Entry, error) {
	if i < 0 || i >= ix.count {
		return Entry{}, fmt.Errorf("%w: record %d of %d", ErrFormat, i, ix.count)
	}
	r := ix.record(i)
	var e Entry
	copy(e.ID[:], r[0:32])
	e.Offset = int64(binary.BigEndian.Uint64(r[32:40]))
	e.RawLen = binary.BigEndian.Uint32(r[40:44])
	e.StoredLen = binary.BigEndian.Uint32(r[44:48])
	e.Kind = cas.Kind(r[48])
	e.Method = compress.Method(r[49])
	// Written so that nothing can overflow: offset and pack size are
	// 64-bit values from the file.
	if e.Offset < HeaderSize || e.Offset > ix.packSize || int64(e.StoredLen)+EntryHeaderSize > ix.packSize-e.Offset || r[50] != 0 || r[51] != 0 {
		return e, fmt.Errorf("%w: index record %d (object %s) points outside its pack", ErrFormat, i, e.ID.Short())
	}
	if err := e.Check(); err != nil {
		return e, fmt.Errorf("%w: index record %d (object %s): %v", ErrFormat, i, e.ID.Short(), err)
	}
	return e, nil
}

// Lookup finds id. It returns false if the index has no such record, and an
// error wrapping ErrFormat if the record is damaged.
func (ix *Index) Lookup(id cas.ID) (Entry, bool, error) {
	lo, hi := 0, ix.count
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(ix.record(m)[:32], id[:]) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == ix.count || !bytes.Equal(ix.record(lo)[:32], id[:]) {
		return Entry{}, false, nil
	}
	e, err := ix.entry(lo)
	return e, err == nil, err
}

// ReadEntry reads the stored bytes of e from a pack into buf (grown as
// needed) and checks that the entry header in the pack agrees with e.
func ReadEntry(r io.ReaderAt, e Entry, buf []byte) ([]byte, error) {
	n := EntryHeaderSize + int(e.StoredLen)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := r.ReadAt(buf, e.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: pack truncated", ErrFormat)
		}
		return nil, fmt.Errorf("read object %s at offset %d: %w", e.ID.Short(), e.Offset, err)
	}
	h, err := ParseEntryHeader(buf, e.Offset)
	if err != nil {
		return nil, err
	}
	if h != e {
		return nil, fmt.Errorf("%w: entry header at offset %d does not match the index (object %s)", ErrFormat, e.Offset, e.ID.Short())
	}
	return buf[EntryHeaderSize:], nil
}

// Scan reads a whole pack sequentially and calls fn for every object with
// its stored bytes (valid only during the call). It stops at the first
// error, including fn's.
func Scan(r io.Reader, fn func(e Entry, stored []byte) error) (size int64, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var h [HeaderSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, fmt.Errorf("%w: pack header: %v", ErrFormat, err)
	}
	if !bytes.Equal(h[:8], packMagic) {
		return 0, fmt.Errorf("%w: not a lode pack", ErrFormat)
	}
	if v := binary.BigEndian.Uint32(h[8:12]); v != Version {
		return 0, fmt.Errorf("%w: pack version %d, this git-lode reads version %d", ErrFormat, v, Version)
	}
	off := int64(HeaderSize)
	var eh [EntryHeaderSize]byte
	var buf []byte
	for {
		n, err := io.ReadFull(br, eh[:])
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, fmt.Errorf("%w: entry header at %d truncated (%d bytes)", ErrFormat, off, n)
		}
		e, err := ParseEntryHeader(eh[:], off)
		if err != nil {
			return off, err
		}
		if cap(buf) < int(e.StoredLen) {
			buf = make([]byte, e.StoredLen)
		}
		buf = buf[:e.StoredLen]
		if _, err := io.ReadFull(br, buf); err != nil {
			return off, fmt.Errorf("%w: object %s at %d truncated", ErrFormat, e.ID.Short(), off)
		}
		if err := fn(e, buf); err != nil {
			return off, err
		}
		off = e.End()
	}
}
