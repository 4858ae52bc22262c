package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
)

// DefaultPackSize is the size at which a Packer seals a pack and starts the
// next one.
const DefaultPackSize = 64 << 20

// Options tune a Store. The zero value is usable.
type Options struct {
	// Concurrency bounds simultaneous compression and decompression;
	// 0 means GOMAXPROCS.
	Concurrency int
	// PackSize is the seal threshold for new packs; 0 means DefaultPackSize.
	PackSize int64
	// OpenPacks bounds the pack files kept open at once; 0 means
	// DefaultOpenPacks.
	OpenPacks int
}

// Store is a local object store. It is safe for concurrent use by many
// goroutines, and many processes may use the same directory at once.
type Store struct {
	dir   string
	opts  Options
	codec *compress.Codec

	readBufs sync.Pool // of *[]byte, for stored bytes read from packs
	files    *openFiles

	mu      sync.RWMutex // guards mid, packs, byID, retired and closed
	mid     *midxState   // the multi-pack index, or nil
	packs   []*packFile  // packs the multi-pack index does not cover, with their own index mapped; newest last
	byID    map[cas.ID]*packFile
	retired []*packFile // removed by DropCorrupt, still open for readers
	closed  bool

	repairMu sync.Mutex // serialises DropCorrupt
}

// packFile is one published pack. Its fields are written once, when it is
// loaded (idx and mm only for a pack the multi-pack index does not
// cover); its index map is closed with the Store, or when a multi-pack
// index comes to cover it. The pack file itself is opened on first read,
// through Store.files.
type packFile struct {
	id   cas.ID
	idx  *pack.Index // nil when covered by the multi-pack index
	mm   []byte      // memory map of the index
	path string      // of the .pack
	size int64
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.GOMAXPROCS(0)
	}
	if opts.PackSize <= 0 {
		opts.PackSize = DefaultPackSize
	}
	for _, d := range []string{dir, filepath.Join(dir, "packs"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	codec, err := compress.New(opts.Concurrency)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, codec: codec, byID: map[cas.ID]*packFile{}, files: newOpenFiles(opts.OpenPacks)}
	s.readBufs.New = func() any { b := make([]byte, 0, pack.EntryHeaderSize+256<<10); return &b }
	if err := s.Refresh(); err != nil {
		s.Close()
		return nil, err
	}
	// A store of many packs (an older one, or one that grew) gets its
	// multi-pack index now; failing to write one (a read-only store) is
	// not an error.
	_ = s.consolidate(false)
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Codec is the store's compression codec, shared with writers that compress
// before calling Packer.Add.
func (s *Store) Codec() *compress.Codec { return s.codec }

func (s *Store) packsDir() string { return filepath.Join(s.dir, "packs") }

// Close releases open files and maps. Using the Store afterwards fails.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var first error
	for _, p := range append(s.packs, s.retired...) {
		if err := p.close(); err != nil && first == nil {
			first = err
		}
	}
	if s.mid != nil {
		if err := s.mid.close(); err != nil && first == nil {
			first = err
		}
	}
	s.packs, s.byID, s.retired, s.mid = nil, nil, nil, nil
	s.files.closeAll()
	s.codec.Close()
	return first
}

func (p *packFile) close() error {
	if p.mm != nil {
		mm := p.mm
		p.mm, p.idx = nil, nil
		return syscall.Munmap(mm)
	}
	return nil
}

// Refresh loads indexes published since the store was opened (by this or
// another process), and the multi-pack index if another process rewrote
// it. Get calls it by itself when an object is missing.
func (s *Store) Refresh() error {
	names, err := listIndexes(s.packsDir())
	if err != nil {
		return err
	}
	if err := s.refreshMidx(names); err != nil {
		return err
	}
	s.mu.RLock()
	var todo []cas.ID
	for _, id := range names {
		if _, ok := s.byID[id]; !ok {
			todo = append(todo, id)
		}
	}
	s.mu.RUnlock()
	for _, id := range todo {
		p, err := s.loadPack(id)
		if err != nil {
			// A damaged pack must not make the rest of the store
			// unreadable; Verify reports it.
			continue
		}
		if !s.addPack(p) {
			p.close()
		}
	}
	return nil
}

// listIndexes returns the pack IDs with an index in dir, in name order.
func listIndexes(dir string) ([]cas.ID, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list packs: %w", err)
	}
	var ids []cas.ID
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".idx")
		if !ok {
			continue
		}
		id, err := cas.ParseID(name)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (s *Store) addPack(p *packFile) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, ok := s.byID[p.id]; ok {
		return false
	}
	s.byID[p.id] = p
	s.packs = append(s.packs, p)
	return true
}

// loadPack opens a published pack and maps its index.
func (s *Store) loadPack(id cas.ID) (*packFile, error) {
	base := filepath.Join(s.packsDir(), id.String())
	mm, err := mapFile(base + ".idx")
	if err != nil {
		return nil, fmt.Errorf("load index of pack %s: %w", id.Short(), err)
	}
	p := &packFile{id: id, mm: mm, path: base + ".pack"}
	fail := func(err error) (*packFile, error) {
		p.close()
		return nil, fmt.Errorf("load pack %s: %w", id.Short(), err)
	}
	p.idx, err = pack.ParseIndex(mm)
	if err != nil {
		return fail(err)
	}
	if p.idx.ID() != id {
		return fail(fmt.Errorf("%w: index checksum does not match its name", pack.ErrFormat))
	}
	fi, err := os.Stat(p.path)
	if err != nil {
		return fail(err)
	}
	if fi.Size() != p.idx.PackSize() {
		return fail(fmt.Errorf("%w: pack has %d bytes, its index says %d", pack.ErrFormat, fi.Size(), p.idx.PackSize()))
	}
	p.size = fi.Size()
	return p, nil
}

func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 || fi.Size() > 1<<40 {
		return nil, fmt.Errorf("%w: index of %d bytes", pack.ErrFormat, fi.Size())
	}
	return syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
}

type location struct {
	p *packFile
	e pack.Entry
}

// lookup returns every location of id: packs outside the multi-pack
// index (newer) first, newest first, then the copies it lists.
func (s *Store) lookup(id cas.ID) ([]location, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errors.New("store is closed")
	}
	var locs []location
	for i := len(s.packs) - 1; i >= 0; i-- {
		p := s.packs[i]
		e, ok, err := p.idx.Lookup(id)
		if err != nil || !ok {
			continue
		}
		locs = append(locs, location{p, e})
	}
	if m := s.mid; m != nil {
		for l := range m.ix.Lookup(id) {
			if !m.gone[l.PackNum] {
				locs = append(locs, location{m.packs[l.PackNum], l.Entry})
			}
		}
	}
	return locs, nil
}

// has is lookup's answer to "any copy?", without allocating.
func (s *Store) has(id cas.ID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.packs) - 1; i >= 0; i-- {
		if _, ok, err := s.packs[i].idx.Lookup(id); err == nil && ok {
			return true
		}
	}
	if m := s.mid; m != nil {
		for l := range m.ix.Lookup(id) {
			if !m.gone[l.PackNum] {
				return true
			}
		}
	}
	return false
}

// Lookup returns the index record of the newest copy of id, without
// reading it (Offset refers to the local pack and means nothing
// elsewhere), and false if the store has none.
func (s *Store) Lookup(id cas.ID) (pack.Entry, bool) {
	locs, err := s.lookup(id)
	if err != nil || len(locs) == 0 {
		return pack.Entry{}, false
	}
	return locs[0].e, true
}

// Has reports whether the store holds id. It does not look for packs
// published by other processes since the last Refresh, so it may report
// false for an object that another writer has just stored; writers then
// store it again, which is harmless.
func (s *Store) Has(ctx context.Context, id cas.ID) (bool, error) {
	return s.has(id), nil
}

// Get returns the verified raw bytes of id. It returns an error wrapping
// cas.ErrNotFound if no pack has it, and one wrapping cas.ErrCorrupt if
// every copy fails verification.
func (s *Store) Get(ctx context.Context, id cas.ID) ([]byte, error) {
	return s.GetInto(ctx, id, nil)
}

// GetInto is Get decoding into dst's storage when it is large enough, so
// that callers reading many objects can reuse their buffers. The result may
// alias dst.
func (s *Store) GetInto(ctx context.Context, id cas.ID, dst []byte) ([]byte, error) {
	locs, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if len(locs) == 0 {
		if err := s.Refresh(); err != nil {
			return nil, err
		}
		if locs, err = s.lookup(id); err != nil {
			return nil, err
		}
		if len(locs) == 0 {
			return nil, fmt.Errorf("%w: %s", cas.ErrNotFound, id)
		}
	}
	var firstErr error
	for _, l := range locs {
		raw, err := s.read(l, dst)
		if err == nil {
			return raw, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// read reads, decompresses and verifies the object at l, into dst when it
// is large enough.
func (s *Store) read(l location, dst []byte) ([]byte, error) {
	bp := s.readBufs.Get().(*[]byte)
	defer s.readBufs.Put(bp)
	f, release, err := s.files.acquire(l.p)
	if err != nil {
		return nil, fmt.Errorf("object %s in pack %s: %w: %v", l.e.ID, l.p.id.Short(), cas.ErrCorrupt, err)
	}
	defer release()
	stored, err := pack.ReadEntry(f, l.e, *bp)
	if err != nil {
		return nil, fmt.Errorf("object %s in pack %s: %w: %v", l.e.ID, l.p.id.Short(), cas.ErrCorrupt, err)
	}
	raw, err := s.decode(l, stored, dst)
	if err != nil {
		return nil, err
	}
	if l.e.Method == compress.None {
		// stored lives in the pooled read buffer: copy it out.
		raw = append(dst[:0], raw...)
	}
	return raw, nil
}

// decode decompresses stored bytes of the object at l into dst and checks
// them against the object's id.
func (s *Store) decode(l location, stored, dst []byte) ([]byte, error) {
	raw, err := s.codec.Decompress(dst, stored, l.e.Method, int(l.e.RawLen))
	if err != nil {
		return nil, fmt.Errorf("object %s in pack %s at offset %d: %w: %v", l.e.ID, l.p.id.Short(), l.e.Offset, cas.ErrCorrupt, err)
	}
	if err := CheckObject(l.e.ID, l.e.Kind, raw); err != nil {
		return nil, fmt.Errorf("object %s in pack %s at offset %d: %w", l.e.ID, l.p.id.Short(), l.e.Offset, err)
	}
	return raw, nil
}

// GetStored returns the pack entry and stored (possibly compressed) bytes
// of id, after checking that they decode to bytes with that id: what an
// upload copies to a remote without compressing again. The Offset of the
// entry refers to the local pack and means nothing elsewhere.
func (s *Store) GetStored(ctx context.Context, id cas.ID) (pack.Entry, []byte, error) {
	locs, err := s.lookup(id)
	if err != nil {
		return pack.Entry{}, nil, err
	}
	if len(locs) == 0 {
		return pack.Entry{}, nil, fmt.Errorf("%w: %s", cas.ErrNotFound, id)
	}
	var firstErr error
	for _, l := range locs {
		stored, err := s.readStored(l)
		if err != nil {
			err = fmt.Errorf("object %s in pack %s: %w: %v", l.e.ID, l.p.id.Short(), cas.ErrCorrupt, err)
		} else {
			_, err = s.decode(l, stored, nil)
		}
		if err == nil {
			return l.e, stored, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return pack.Entry{}, nil, firstErr
}

// readStored reads the stored bytes of the object at l into a new slice.
func (s *Store) readStored(l location) ([]byte, error) {
	f, release, err := s.files.acquire(l.p)
	if err != nil {
		return nil, err
	}
	defer release()
	return pack.ReadEntry(f, l.e, nil)
}

// TempDir is the store's directory for files being written; files there
// are never read as part of the store.
func (s *Store) TempDir() string { return filepath.Join(s.dir, "tmp") }

// CheckStored decodes stored bytes of the pack entry e and checks them
// against e's id and kind, for objects that arrive from elsewhere.
func CheckStored(codec *compress.Codec, e pack.Entry, stored []byte) error {
	raw, err := codec.Decompress(nil, stored, e.Method, int(e.RawLen))
	if err != nil {
		return fmt.Errorf("%w: %v", cas.ErrCorrupt, err)
	}
	return CheckObject(e.ID, e.Kind, raw)
}

// CheckObject verifies raw bytes against the id and kind they are stored
// under; it returns an error wrapping cas.ErrCorrupt when they do not match.
func CheckObject(id cas.ID, kind cas.Kind, raw []byte) error {
	switch kind {
	case cas.KindChunk:
		if cas.Sum(raw) != id {
			return fmt.Errorf("%w: chunk does not hash to its id", cas.ErrCorrupt)
		}
	case cas.KindManifest:
		if _, err := manifest.Decode(raw, id); err != nil {
			return fmt.Errorf("%w: %v", cas.ErrCorrupt, err)
		}
	default:
		return fmt.Errorf("%w: unknown object kind %d", cas.ErrCorrupt, kind)
	}
	return nil
}

// PackInfo describes one published pack.
type PackInfo struct {
	ID   cas.ID
	Path string // of the .pack file
	Size int64  // of the .pack file
}

// Packs lists the packs currently loaded, sorted by ID.
func (s *Store) Packs() []PackInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]PackInfo, 0, len(s.byID))
	for _, p := range s.byID {
		out = append(out, PackInfo{ID: p.id, Path: p.path, Size: p.size})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	return out
}

// eachEntry calls fn with the pack and index record of every copy of
// every object, holding the store's read lock (fn must not call back into
// the Store).
func (s *Store) eachEntry(fn func(p cas.ID, e pack.Entry) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.packs {
		for i := 0; i < p.idx.Len(); i++ {
			e, err := p.idx.Entry(i)
			if err != nil {
				continue
			}
			if err := fn(p.id, e); err != nil {
				return err
			}
		}
	}
	if m := s.mid; m != nil {
		for i := 0; i < m.ix.Len(); i++ {
			l := m.ix.At(i)
			if m.gone[l.PackNum] {
				continue
			}
			if err := fn(l.Pack, l.Entry); err != nil {
				return err
			}
		}
	}
	return nil
}

// tmpFile creates a new temporary file in the store.
func (s *Store) tmpFile(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), pattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Join(s.dir, "tmp"), 0o755); err == nil {
			f, err = os.CreateTemp(filepath.Join(s.dir, "tmp"), pattern)
		}
	}
	return f, err
}
