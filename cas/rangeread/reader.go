package rangeread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/bytelru"
	"github.com/lodevcs/lode/cas/filer"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/zeebo/blake3"
	"golang.org/x/sync/singleflight"
)

// Readahead bounds for sequential readers. Fetching (from the remote) goes
// up to readaheadMax ahead; decoding only up to decodeAhead, a fraction of
// the default memory cache, so decoded chunks are still there when read.
const (
	readaheadMin = 1 << 20
	readaheadMax = 64 << 20
	decodeAhead  = 8 << 20
)

// SourceOptions tune a Source. The zero value is usable.
type SourceOptions struct {
	// MemCache bounds the decoded chunks kept in memory; 0 means 32 MiB.
	MemCache int64
	// Prefetchers bounds concurrent readahead fetches; 0 means 4.
	Prefetchers int
}

// Source reads byte ranges of files, taking each chunk from wherever it is
// cheapest: an in-memory cache of decoded chunks, the local store, an
// on-disk chunk cache, or the remote (a ranged read, checked against the
// chunk's id, then kept in the disk cache). Random reads fetch only the
// chunks they touch; sequential readers (see Reader) trigger readahead
// that doubles up to 64 MiB. It is safe for concurrent use; Close waits for
// readahead in flight.
type Source struct {
	st   *store.Store           // may be nil
	r    *remotestore.Store     // may be nil: local data only
	disk *ChunkCache            // may be nil
	mem  *bytelru.Cache[cas.ID] // decoded chunks

	loads singleflight.Group // loads of one chunk, keyed by its id
	opens singleflight.Group // chunk lists being read, keyed by oid

	mu        sync.Mutex // guards manifests and inflight
	manifests map[cas.ID]*fileInfo
	inflight  map[cas.ID]chan struct{} // chunks being fetched; closed when done

	prefetch chan struct{} // semaphore
	wg       sync.WaitGroup
	ctx      context.Context // for readahead; cancelled by Close
	cancel   context.CancelFunc

	fetched   atomic.Int64 // bytes read from the remote
	fetchReqs atomic.Int64 // ranged reads made

	first   sync.Once // records what the first read that needed the remote cost
	firstAt FirstRead
}

// FirstRead is what the first read that needed the remote cost: the
// requests (manifest included) and bytes fetched by the time it returned,
// before readahead.
type FirstRead struct {
	Requests, Bytes int64
}

// fileInfo is what a Source knows of one file: its chunk list, checked
// against the pointer (for a version 1 pointer, by reading the whole file
// once).
type fileInfo struct {
	m *manifest.Manifest
}

// NewSource returns a Source over st (the local store, may be nil), r
// (the remote, may be nil) and disk (a chunk cache, may be nil).
func NewSource(st *store.Store, r *remotestore.Store, disk *ChunkCache, opts SourceOptions) *Source {
	if opts.MemCache <= 0 {
		opts.MemCache = 32 << 20
	}
	if opts.Prefetchers <= 0 {
		opts.Prefetchers = 4
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Source{
		st: st, r: r, disk: disk, mem: bytelru.New[cas.ID](opts.MemCache),
		manifests: map[cas.ID]*fileInfo{},
		inflight:  map[cas.ID]chan struct{}{},
		prefetch:  make(chan struct{}, opts.Prefetchers),
		ctx:       ctx, cancel: cancel,
	}
}

// Close stops readahead and waits for it.
func (s *Source) Close() {
	s.cancel()
	s.wg.Wait()
}

// Fetched returns the bytes read from the remote so far, and the number of
// ranged reads.
func (s *Source) Fetched() (bytes, requests int64) { return s.fetched.Load(), s.fetchReqs.Load() }

// First returns what the first read that needed the remote cost, and
// whether there was one.
func (s *Source) First() (FirstRead, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstAt, s.firstAt.Requests > 0
}

// File is one file opened for reading.
type File struct {
	s    *Source
	oid  cas.ID
	info *fileInfo
}

// Open returns the file p points to. Its chunk list comes from the local
// store when there, else from the remote (one request), and is checked
// against p: a version 2 pointer binds it, so every byte a read returns is
// the file's; for a version 1 pointer, Open reads the whole file once and
// checks it against the oid before it serves any of it. A file of one
// chunk (most small files) has no chunk list to read: its one chunk is the
// oid, so opening it costs nothing.
func (s *Source) Open(ctx context.Context, p pointer.Pointer) (*File, error) {
	if p.Size == 0 {
		return &File{s: s, oid: p.OID, info: &fileInfo{m: &manifest.Manifest{OID: p.OID}}}, nil
	}
	if p.SingleChunk() {
		return &File{s: s, oid: p.OID, info: &fileInfo{m: manifest.Single(p.OID, p.Size)}}, nil
	}
	s.mu.Lock()
	info, ok := s.manifests[p.OID]
	s.mu.Unlock()
	if ok {
		return &File{s: s, oid: p.OID, info: info}, nil
	}
	v, err, _ := s.opens.Do(p.OID.String(), func() (any, error) {
		m, err := s.chunkList(ctx, p)
		if err != nil {
			return nil, err
		}
		info := &fileInfo{m: m}
		if p.V1 {
			if err := (&File{s: s, oid: p.OID, info: info}).checkWhole(ctx); err != nil {
				return nil, err
			}
		}
		s.mu.Lock()
		s.manifests[p.OID] = info
		s.mu.Unlock()
		return info, nil
	})
	if err != nil {
		return nil, err
	}
	return &File{s: s, oid: p.OID, info: v.(*fileInfo)}, nil
}

// chunkList returns the chunk list of p, checked against p, from the
// local store, else from the remote. A damaged local manifest is dropped.
func (s *Source) chunkList(ctx context.Context, p pointer.Pointer) (*manifest.Manifest, error) {
	if s.st != nil {
		m, err := filer.Manifest(ctx, s.st, p)
		if err == nil {
			return m, nil
		}
		if errors.Is(err, cas.ErrCorrupt) {
			if mid, ok := manifest.ObjectID(p); ok {
				_, _ = s.st.DropCorrupt(ctx, mid)
			}
		} else if !errors.Is(err, cas.ErrNotFound) {
			return nil, err
		}
	}
	if s.r == nil {
		return nil, fmt.Errorf("the data of oid %s: %w (no remote)", p.OID, cas.ErrNotFound)
	}
	return s.r.Manifest(ctx, p)
}

// checkWhole reads every chunk of f in order and checks the whole content
// against the oid: what a version 1 pointer needs before its chunk list
// can be trusted.
func (f *File) checkWhole(ctx context.Context) error {
	m := f.info.m
	h := blake3.New()
	const batch = 64
	for first := 0; first < len(m.Chunks); first += batch {
		last := min(first+batch, len(m.Chunks)) - 1
		if err := f.ensure(ctx, first, last); err != nil {
			return err
		}
		for i := first; i <= last; i++ {
			b, err := f.chunk(ctx, i)
			if err != nil {
				return err
			}
			h.Write(b)
		}
	}
	var sum cas.ID
	h.Sum(sum[:0])
	if sum != f.oid {
		return fmt.Errorf("file %s: %w: its chunks reassemble to %s", f.oid.Short(), filer.ErrMismatch, sum.Short())
	}
	return nil
}

// Size is the file's length.
func (f *File) Size() int64 { return f.info.m.Size }

// ReadAt reads len(p) bytes at off, or fewer at the end of the file (then
// with io.EOF semantics left to the caller: n < len(p) and a nil error).
// Chunks it must fetch are read from the remote with one ranged read per
// run of chunks that sit together in one pack.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	m := f.info.m
	if off >= m.Size || len(p) == 0 {
		return 0, nil
	}
	end := min(off+int64(len(p)), m.Size)
	first, last := m.Find(off), m.Find(end-1)
	if err := f.ensure(ctx, first, last); err != nil {
		return 0, err
	}
	if f.s.r != nil && f.s.fetchReqs.Load() > 0 {
		f.s.first.Do(func() {
			f.s.mu.Lock()
			f.s.firstAt = FirstRead{Requests: f.s.r.Requests(), Bytes: f.s.fetched.Load()}
			f.s.mu.Unlock()
		})
	}
	n := 0
	for i := first; i <= last; i++ {
		c := m.Chunks[i]
		data, err := f.chunk(ctx, i)
		if err != nil {
			return n, err
		}
		lo := max(off, c.Offset) - c.Offset
		hi := min(end, c.End()) - c.Offset
		n += copy(p[n:], data[lo:hi])
	}
	return n, nil
}

// chunk returns chunk i decoded, from the memory cache, the local store,
// the disk cache or, failing all, the remote. Concurrent calls for one
// chunk share one load. Every chunk it returns has the id and the length
// the chunk list gives (a chunk list bound to its pointer may still claim
// a length its chunk does not have).
func (f *File) chunk(ctx context.Context, i int) ([]byte, error) {
	return f.chunkFrom(ctx, i, false)
}

// chunkFrom is chunk; with local, the local store is known to hold it.
func (f *File) chunkFrom(ctx context.Context, i int, local bool) ([]byte, error) {
	s := f.s
	c := f.info.m.Chunks[i]
	b, ok := s.mem.Get(c.ID)
	if !ok {
		v, err, _ := s.loads.Do(string(c.ID[:]), func() (any, error) {
			if b, ok := s.mem.Get(c.ID); ok {
				return b, nil
			}
			b, err := f.load(ctx, i, local)
			if err != nil {
				return nil, err
			}
			s.mem.Put(c.ID, b)
			return b, nil
		})
		if err != nil {
			return nil, fmt.Errorf("file %s at offset %d: %w", f.oid.Short(), c.Offset, err)
		}
		b = v.([]byte)
	}
	if len(b) != int(c.Len) {
		return nil, fmt.Errorf("file %s at offset %d: %w: chunk %s has %d bytes, the chunk list says %d", f.oid.Short(), c.Offset, cas.ErrCorrupt, c.ID.Short(), len(b), c.Len)
	}
	return b, nil
}

// load reads chunk i from the local store, the disk cache or the remote.
// The store is asked whether it has the chunk before it is got (a Get
// that misses re-scans the store's packs), except with local (the caller
// just asked) or without a remote (then nothing but the disk cache could
// have it).
func (f *File) load(ctx context.Context, i int, local bool) ([]byte, error) {
	s := f.s
	id := f.info.m.Chunks[i].ID
	if s.st != nil && (local || s.r == nil) {
		b, err := s.st.Get(ctx, id)
		switch {
		case err == nil:
			return b, nil
		case errors.Is(err, cas.ErrCorrupt) && s.r != nil:
			// A damaged local copy: drop it, and read the remote's.
			if _, err := s.st.DropCorrupt(ctx, id); err != nil {
				return nil, err
			}
		case !errors.Is(err, cas.ErrNotFound):
			return nil, err
		}
	} else if ok, _ := s.has(ctx, id); ok {
		b, err := s.st.Get(ctx, id)
		if !errors.Is(err, cas.ErrCorrupt) || s.r == nil {
			return b, err
		}
		// A damaged local copy: drop it, and read the remote's.
		if _, err := s.st.DropCorrupt(ctx, id); err != nil {
			return nil, err
		}
	}
	if s.disk != nil {
		if b, ok := s.disk.Get(id, nil); ok {
			return b, nil
		}
	}
	if err := f.fetchRun(ctx, i, i); err != nil {
		return nil, err
	}
	if b, ok := s.mem.Get(id); ok {
		return b, nil
	}
	if s.disk != nil {
		if b, ok := s.disk.Get(id, nil); ok {
			return b, nil
		}
	}
	return nil, fmt.Errorf("chunk %s was fetched but could not be kept", id.Short())
}

func (s *Source) has(ctx context.Context, id cas.ID) (bool, error) {
	if s.st == nil {
		return false, nil
	}
	return s.st.Has(ctx, id)
}

// available reports whether chunk id can be read without the remote. It
// may be called with s.mu held.
func (s *Source) available(ctx context.Context, id cas.ID) bool {
	if _, ok := s.mem.Get(id); ok {
		return true
	}
	if ok, _ := s.has(ctx, id); ok {
		return true
	}
	return s.disk != nil && s.disk.has(id)
}

// ensure fetches, with as few ranged reads as possible, the chunks of
// [first, last] that are not available locally. Chunks another goroutine
// is already fetching are waited for, not fetched twice.
func (f *File) ensure(ctx context.Context, first, last int) error {
	if f.s.r == nil {
		return nil // nothing to fetch: chunk reads the local copies
	}
	return f.plan(ctx, first, last).run(ctx, true)
}

// fetchPlan is the work of one ensure: runs of chunks this caller fetches
// (already marked in flight) and fetches of others to wait for.
type fetchPlan struct {
	f    *File
	runs [][2]int
	mine []cas.ID
	wait []chan struct{}
}

// plan marks the missing chunks of [first, last] as in flight, so that
// concurrent readers wait for them instead of fetching them again.
func (f *File) plan(ctx context.Context, first, last int) *fetchPlan {
	s := f.s
	chunks := f.info.m.Chunks
	p := &fetchPlan{f: f}
	start := -1
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := first; i <= last+1; i++ {
		missing := false
		if i <= last {
			id := chunks[i].ID
			if ch, ok := s.inflight[id]; ok {
				p.wait = append(p.wait, ch)
			} else if !s.available(ctx, id) {
				missing = true
				s.inflight[id] = make(chan struct{})
				p.mine = append(p.mine, id)
			}
		}
		if missing && start < 0 {
			start = i
		}
		if !missing && start >= 0 {
			p.runs = append(p.runs, [2]int{start, i - 1})
			start = -1
		}
	}
	return p
}

// run fetches the plan's runs, releases its chunks, and with wait, waits
// for the other fetches it depends on.
func (p *fetchPlan) run(ctx context.Context, wait bool) error {
	s := p.f.s
	var err error
	for _, r := range p.runs {
		if err = p.f.fetchRun(ctx, r[0], r[1]); err != nil {
			break
		}
	}
	s.mu.Lock()
	for _, id := range p.mine {
		close(s.inflight[id])
		delete(s.inflight, id)
	}
	s.mu.Unlock()
	if err != nil || !wait {
		return err
	}
	for _, ch := range p.wait {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// fetchRun reads chunks [first, last] from the remote, with as few
// ranged reads as their places in the remote's packs allow, and keeps
// them in the caches.
func (f *File) fetchRun(ctx context.Context, first, last int) error {
	s := f.s
	m := f.info.m
	if s.r == nil {
		return fmt.Errorf("chunk %s: %w (no remote)", m.Chunks[first].ID.Short(), cas.ErrNotFound)
	}
	wants := make([]remotestore.Want, 0, last-first+1)
	for i := first; i <= last; i++ {
		wants = append(wants, remotestore.ChunkWant(m.Chunks[i].ID))
	}
	err := s.r.Read(ctx, wants, remotestore.ReadOptions{
		Progress: func(n int64) {
			s.fetched.Add(n)
			s.fetchReqs.Add(1)
		},
	}, func(o remotestore.Object) error {
		s.keep(o.ID, bytes.Clone(o.Raw))
		return nil
	})
	return err
}

// Prefetch makes the files ps point to cheap to read soon (the files a
// reader is about to read: the next files of a directory read in order).
// It returns at once and works in the background: it gets each file's
// chunk list (none to get for a file of one chunk; those only on the
// remote in one coalesced read for all of ps) and takes the chunks,
// in order, into the memory cache, from the local store or the disk
// cache, or from the remote in one Read for all the chunks of ps that are
// nowhere else (which coalesces the chunks that sit together in a pack).
// Every chunk is checked against its id on the way, as a read would; one
// that cannot be got is left for the read to report. It takes at most an
// eighth of the memory cache (prefetchShare), the chunks of ps in order up
// to the first that does not fit, so that they are still there when read.
// Version 1 pointers are skipped: opening one reads the whole file.
//
// If got is not nil, it is called with the whole content of each file of
// ps that was prefetched whole, read as ReadAt reads it (so bound to its
// pointer), with its index in ps: in order, one call at a time, from the
// prefetching goroutine; data is valid only during the call. A file that
// could not be read is not reported.
//
// Prefetch shares its goroutines with readahead (SourceOptions.Prefetchers);
// when all are busy it does nothing and returns false.
func (s *Source) Prefetch(ps []pointer.Pointer, got func(i int, data []byte)) bool {
	select {
	case s.prefetch <- struct{}{}:
	default:
		return false
	}
	ps = slices.Clone(ps)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.prefetch }()
		s.prefetchFiles(s.ctx, ps, got)
	}()
	return true
}

// prefetchShare is the part of the memory cache one Prefetch may fill: one
// in prefetchShare bytes.
const prefetchShare = 8

// prefetchFiles does the work of Prefetch.
func (s *Source) prefetchFiles(ctx context.Context, ps []pointer.Pointer, got func(int, []byte)) {
	type want struct {
		f    *File
		i    int  // chunk index
		file int  // index in ps
		last bool // the file's last chunk
	}
	var wants []want
	budget := s.mem.Max() / prefetchShare
	s.preopen(ctx, ps)
files:
	for k, p := range ps {
		if p.V1 || p.Size == 0 {
			continue
		}
		f, err := s.Open(ctx, p)
		if err != nil {
			continue // the read reports it
		}
		chunks := f.info.m.Chunks
		for i, c := range chunks {
			if budget < int64(c.Len) {
				break files
			}
			budget -= int64(c.Len)
			wants = append(wants, want{f, i, k, i == len(chunks)-1})
		}
	}
	local := map[cas.ID]bool{} // chunks the local store has
	if s.r != nil {
		// One request for everything that is nowhere but on the
		// remote. Readers of these chunks wait for it.
		ids := make([]cas.ID, 0, len(wants))
		for _, w := range wants {
			ids = append(ids, w.f.info.m.Chunks[w.i].ID)
		}
		s.fetchMissing(ctx, ids, local)
	}
	var buf []byte
	ok := true // every chunk of the current file so far
	for _, w := range wants {
		if ctx.Err() != nil {
			return
		}
		if w.i == 0 {
			ok = true
		}
		b, err := w.f.chunkFrom(ctx, w.i, local[w.f.info.m.Chunks[w.i].ID])
		if err != nil {
			ok = false
		}
		if !w.last || !ok || got == nil {
			continue
		}
		if w.i == 0 {
			got(w.file, b) // a file of one chunk is that chunk
			continue
		}
		size := w.f.Size()
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		if n, err := w.f.ReadAt(ctx, buf[:size], 0); err == nil && int64(n) == size {
			got(w.file, buf[:size])
		}
	}
}

// preopen gets from the remote, in one coalesced read, the chunk lists of
// the files of ps that have one and that neither the Source nor the local
// store has, each checked against its pointer as Open checks it, so that
// opening them costs no request. Version 1 pointers are left to Open.
// Failures are left for Open to meet.
func (s *Source) preopen(ctx context.Context, ps []pointer.Pointer) {
	if s.r == nil {
		return
	}
	var need []pointer.Pointer
	for _, p := range ps {
		mid, ok := manifest.ObjectID(p)
		if !ok || p.V1 {
			continue
		}
		s.mu.Lock()
		_, known := s.manifests[p.OID]
		s.mu.Unlock()
		if known {
			continue
		}
		if ok, _ := s.has(ctx, mid); !ok {
			need = append(need, p)
		}
	}
	if len(need) == 0 {
		return
	}
	_ = s.r.Manifests(ctx, need, remotestore.ReadOptions{OnFail: func(remotestore.Want, error) {}},
		func(p pointer.Pointer, m *manifest.Manifest, _ *remotestore.Object) error {
			s.mu.Lock()
			if _, ok := s.manifests[p.OID]; !ok {
				s.manifests[p.OID] = &fileInfo{m: m}
			}
			s.mu.Unlock()
			return nil
		})
}

// fetchMissing reads from the remote, in one Read, the chunks of ids that
// are neither available locally nor being fetched already, and keeps them
// in the caches; it notes in local the chunks the local store has.
// Failures are left for the reads to meet.
func (s *Source) fetchMissing(ctx context.Context, ids []cas.ID, local map[cas.ID]bool) {
	var missing []cas.ID
	for _, id := range ids {
		if _, ok := s.mem.Get(id); ok {
			continue
		}
		if ok, _ := s.has(ctx, id); ok {
			local[id] = true
			continue
		}
		if s.disk == nil || !s.disk.has(id) {
			missing = append(missing, id)
		}
	}
	var mine []remotestore.Want
	s.mu.Lock()
	for _, id := range missing {
		if _, ok := s.inflight[id]; ok {
			continue
		}
		if _, ok := s.mem.Get(id); ok {
			continue
		}
		s.inflight[id] = make(chan struct{})
		mine = append(mine, remotestore.ChunkWant(id))
	}
	s.mu.Unlock()
	if len(mine) == 0 {
		return
	}
	_ = s.r.Read(ctx, mine, remotestore.ReadOptions{
		Progress: func(n int64) {
			s.fetched.Add(n)
			s.fetchReqs.Add(1)
		},
		OnFail: func(remotestore.Want, error) {},
	}, func(o remotestore.Object) error {
		s.keep(o.ID, bytes.Clone(o.Raw))
		return nil
	})
	s.mu.Lock()
	for _, w := range mine {
		close(s.inflight[w.ID])
		delete(s.inflight, w.ID)
	}
	s.mu.Unlock()
}

// keep puts a verified chunk fetched from the remote in the caches.
func (s *Source) keep(id cas.ID, raw []byte) {
	s.mem.Put(id, raw)
	if s.disk != nil {
		s.disk.Put(id, raw)
	}
}

// Reader reads one file sequentially or at random, as one open file handle
// does, and reads ahead when the reads are sequential. It is safe for
// concurrent use.
type Reader struct {
	f *File

	mu     sync.Mutex // guards next, window, ahead
	next   int64      // offset just past the last read
	window int64      // current readahead size; 0 while not sequential
	ahead  int64      // readahead requested up to this offset
}

// NewReader returns a Reader of f.
func (f *File) NewReader() *Reader { return &Reader{f: f} }

// ReadAt reads like File.ReadAt and starts readahead if the reads so far
// follow each other. The kernel delivers a sequential reader's requests
// slightly out of order (several are in flight at once), so a read counts
// as sequential when it starts within a readahead window of where the last
// one ended, before or after.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(ctx, p, off)
	end := off + int64(n)
	r.mu.Lock()
	slack := max(r.window, readaheadMin)
	sequential := r.next > 0 && off >= r.next-slack && off <= r.next+slack
	r.next = max(r.next, end)
	if !sequential {
		r.next = end
	}
	var from, to int64
	switch {
	case !sequential:
		r.window, r.ahead = 0, 0
	case r.window == 0:
		// Second read in a row: start with a small window.
		r.window = readaheadMin
		from, to = r.next, min(r.next+r.window, r.f.Size())
		r.ahead = to
	case r.next+r.window/2 >= r.ahead && r.ahead < r.f.Size():
		// The reader is past the middle of what was read ahead: the
		// next window, twice as large, in one piece.
		r.window = min(2*r.window, readaheadMax)
		from = max(r.next, r.ahead)
		to = min(from+r.window, r.f.Size())
		r.ahead = to
	}
	r.mu.Unlock()
	if to > from && err == nil {
		r.f.readahead(from, to)
	}
	return n, err
}

// readahead makes [from, to) available in the background.
func (f *File) readahead(from, to int64) {
	s := f.s
	m := f.info.m
	first, last := m.Find(from), m.Find(to-1)
	if first >= len(m.Chunks) {
		return
	}
	last = min(last, len(m.Chunks)-1)
	select {
	case s.prefetch <- struct{}{}:
	default:
		return // enough readahead in flight already
	}
	// Mark the chunks in flight now, before the reader's next request
	// can ask for them.
	var p *fetchPlan
	if s.r != nil {
		p = f.plan(s.ctx, first, last)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.prefetch }()
		if p != nil {
			_ = p.run(s.ctx, false)
		}
		// Chunks are decoded ahead too, but not further than the
		// memory cache can hold them until they are read.
		stop := first
		for stop < last && m.Chunks[stop].End()-m.Chunks[first].Offset < decodeAhead {
			stop++
		}
		for i := first; i <= stop && s.ctx.Err() == nil; i++ {
			_, _ = f.chunk(s.ctx, i)
		}
	}()
}
