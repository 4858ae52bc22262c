package remotestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/compress"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/remote"
	"golang.org/x/sync/errgroup"
)

// Names in the remote layout.
const (
	packsPrefix     = "packs/"
	manifestsPrefix = "manifests/" // layout 1
)

func packName(id cas.ID) string      { return packsPrefix + id.String() + ".pack" }
func indexName(id cas.ID) string     { return packsPrefix + id.String() + ".idx" }
func manifestName(oid cas.ID) string { return manifestsPrefix + oid.String() }

// MaxIndexLen bounds the size of a pack index read from a remote: the
// index of a pack of 4 GiB of the smallest objects. Larger ones are not
// read.
const MaxIndexLen = 64 << 20

// Sentinel errors callers branch on.
var (
	// ErrMissing is wrapped when the remote has no copy of an object (or
	// no good one: see the error's text).
	ErrMissing = errors.New("missing on the remote")
)

// Problem is something Sync found wrong on the remote and worked around:
// an index that was not used.
type Problem struct {
	Name string // object name on the remote
	Err  error
}

func (p Problem) String() string { return p.Name + ": " + p.Err.Error() }

// Store is a lode remote: a back end holding the remote layout, and a
// local cache of its pack indexes. It is safe for concurrent use.
type Store struct {
	b        *remote.Counting
	cacheDir string
	codec    *compress.Codec

	mu       sync.RWMutex           // guards packs, mid, midTried, problems, synced, damaged
	packs    map[cas.ID]*remotePack // packs outside mid, with their index in memory
	mid      *remoteMidx            // the merged index of the other packs, or nil
	midTried bool
	// condemned are the packs a remote prune condemned (Sync reads
	// them): their objects are still read, but Has does not count them,
	// so a push uploads them again rather than rely on them.
	condemned map[cas.ID]time.Time
	// condemnedErr is why the last Sync could not read the record of
	// condemned packs (then condemned is empty): readers go on, writers
	// (CheckCondemned) stop.
	condemnedErr error
	unindexed    map[cas.ID]int64 // packs listed without an index
	problems     []Problem
	synced       bool
	damaged      map[cas.ID][]byte // good copies of indexes damaged on the remote

	syncMu sync.Mutex // held while syncing
}

// remotePack is one pack of the remote, with its checked index. Set once.
type remotePack struct {
	id   cas.ID
	idx  *pack.Index
	size int64
}

// New returns the remote stored in b, caching its pack indexes in cacheDir
// (created when needed) and decoding objects with codec.
func New(b remote.Backend, cacheDir string, codec *compress.Codec) *Store {
	return &Store{b: remote.NewCounting(b), cacheDir: cacheDir, codec: codec, packs: map[cas.ID]*remotePack{}, damaged: map[cas.ID][]byte{}}
}

// Backend is the remote's back end.
func (s *Store) Backend() remote.Backend { return s.b.Backend }

// Close releases the merged index and closes the back end.
func (s *Store) Close() error {
	s.mu.Lock()
	s.mid.close()
	s.mid = nil
	s.mu.Unlock()
	return s.b.Backend.Close()
}

// Requests is the number of requests made to the back end so far.
func (s *Store) Requests() int64 { return s.b.Requests() }

// BytesReceived and BytesSent count payload bytes that crossed the back
// end.
func (s *Store) BytesReceived() int64 { return s.b.BytesReceived() }
func (s *Store) BytesSent() int64     { return s.b.BytesSent() }

// String describes the remote for messages.
func (s *Store) String() string { return s.b.Location() }

// Problems returns what the last Sync found wrong and did not use.
func (s *Store) Problems() []Problem {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]Problem(nil), s.problems...)
}

// Sync brings the merged index up to date with the remote: it lists packs/,
// and uses every index whose pack is listed with the size the index gives
// and whose checksum is its name, taking it from the local cache when the
// cached copy passes the same checks, else from the remote (then caching
// it). An index that fails a check is not used (and, if cached, dropped
// from the cache); it is reported in Problems, and Sync goes on: one bad
// object on the remote does not stop anyone. Packs the listing no longer
// shows are forgotten, and their cached indexes removed.
func (s *Store) Sync(ctx context.Context) error { return s.sync(ctx, false) }

// SyncFresh is Sync that reads every index from the remote again, rather
// than trusting the local copies: what checks the remote itself (verify
// --remote, push --repair). An index damaged on the remote whose cached
// copy is good is reported, and its good copy is kept in use and in
// Damaged, for RepairIndexes.
func (s *Store) SyncFresh(ctx context.Context) error { return s.sync(ctx, true) }

func (s *Store) sync(ctx context.Context, fresh bool) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	sizes, err := s.listPacks(ctx)
	if err != nil {
		return err
	}
	var problems []Problem
	var probMu sync.Mutex
	condemned, condErr := s.readCondemned(ctx)
	if condErr != nil {
		if ctx.Err() != nil {
			return condErr
		}
		condemned = map[cas.ID]time.Time{}
		problems = append(problems, Problem{Name: condemnedName, Err: condErr})
	}
	s.mu.Lock()
	s.condemned, s.condemnedErr, s.unindexed = condemned, condErr, parseUnindexed(sizes)
	s.mu.Unlock()
	report := func(name string, err error) {
		probMu.Lock()
		problems = append(problems, Problem{Name: name, Err: err})
		probMu.Unlock()
	}
	type todo struct {
		id               cas.ID
		idxLen, packSize int64
	}
	var todos []todo
	listed := map[cas.ID]bool{}
	s.mu.Lock()
	if !s.midTried {
		s.midTried = true
		if m, err := s.loadMidx(); err == nil {
			s.mid = m
		}
	}
	mid := s.mid
	if mid != nil {
		for i := range mid.gone {
			mid.gone[i] = true // until the listing shows it
		}
	}
	s.mu.Unlock()
	for name, n := range sizes {
		hex, ok := strings.CutSuffix(name, ".idx")
		if !ok {
			continue
		}
		id, err := cas.ParseID(hex)
		if err != nil {
			continue // not ours
		}
		packSize, ok := sizes[hex+".pack"]
		if !ok {
			report(packsPrefix+name, errors.New("its pack is missing; the index is not used"))
			continue
		}
		listed[id] = true
		if mid != nil && !fresh {
			if n, ok := mid.num[id]; ok && mid.size[n] == packSize {
				s.mu.Lock()
				mid.gone[n] = false
				s.mu.Unlock()
				continue
			}
		}
		s.mu.RLock()
		p, known := s.packs[id]
		s.mu.RUnlock()
		if known && p.size == packSize && !fresh {
			continue
		}
		todos = append(todos, todo{id, n, packSize})
	}
	s.mu.Lock()
	for id := range s.packs {
		if !listed[id] {
			delete(s.packs, id)
		}
	}
	s.mu.Unlock()
	if err := os.MkdirAll(s.cacheDir, 0o755); err != nil {
		return fmt.Errorf("remote index cache: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, t := range todos {
		g.Go(func() error {
			var p *remotePack
			var err error
			if fresh {
				p, err = s.loadFresh(gctx, t.id, t.idxLen, t.packSize, report)
			} else {
				p, err = s.loadIndex(gctx, t.id, t.idxLen, t.packSize)
			}
			if err != nil {
				if gctx.Err() != nil || !errors.Is(err, cas.ErrCorrupt) {
					return err
				}
				report(indexName(t.id), err)
				return nil
			}
			s.mu.Lock()
			s.packs[t.id] = p
			s.mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.mu.RLock()
	rebuild := len(s.packs) > midxThreshold || fresh && len(s.packs) > 0 && s.mid != nil
	s.mu.RUnlock()
	if rebuild {
		_ = s.rebuildMidx() // only costs speed when it fails
	}
	// Marks say what was whole on the remote: once packs are gone, or an
	// index cannot be used, they may no longer hold.
	if s.pruneCache(listed) > 0 || len(problems) > 0 {
		os.Remove(filepath.Join(s.cacheDir, marksFile))
	}
	sort.Slice(problems, func(i, j int) bool { return problems[i].Name < problems[j].Name })
	s.mu.Lock()
	s.problems, s.synced = problems, true
	s.mu.Unlock()
	return nil
}

// catalogName is the object that lists packs/ for readers that cannot
// list (a plain HTTP server): one line "name size" per object, sorted.
// Every push rewrites it from a real listing after its packs are
// published.
const catalogName = packsPrefix + "LIST"

// maxCatalogLen bounds the catalog read from a remote.
const maxCatalogLen = 64 << 20

// listPacks returns the objects under packs/ and their sizes: from a
// listing, or, where the back end cannot list, from the catalog.
func (s *Store) listPacks(ctx context.Context) (map[string]int64, error) {
	sizes := map[string]int64{}
	err := s.b.List(ctx, packsPrefix, remote.ListOptions{}, func(info remote.Info) error {
		sizes[strings.TrimPrefix(info.Name, packsPrefix)] = info.Size
		return nil
	})
	if err == nil {
		return sizes, nil
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		return nil, fmt.Errorf("list packs on %s: %w", s, err)
	}
	b, cerr := s.getAll(ctx, catalogName, maxCatalogLen)
	if notExist(cerr) {
		return nil, fmt.Errorf("%s cannot be listed, and has no %s (push to it once with this git-lode, through a writable URL): %w", s, catalogName, err)
	}
	if cerr != nil {
		return nil, fmt.Errorf("read %s from %s: %w", catalogName, s, cerr)
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, n, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		size, perr := strconv.ParseInt(n, 10, 64)
		if perr != nil || size < 0 || strings.Contains(name, "/") {
			continue
		}
		sizes[name] = size
	}
	return sizes, nil
}

// WriteCatalog rewrites the catalog of packs/ from a fresh listing, for
// readers that cannot list. Pushes call it once their packs are
// published. Two pushes at once may leave a catalog without the other's
// packs; the next push lists them again.
func (s *Store) WriteCatalog(ctx context.Context) error {
	var lines []string
	err := s.b.List(ctx, packsPrefix, remote.ListOptions{}, func(info remote.Info) error {
		name := strings.TrimPrefix(info.Name, packsPrefix)
		if strings.HasSuffix(name, ".pack") || strings.HasSuffix(name, ".idx") {
			lines = append(lines, name+" "+strconv.FormatInt(info.Size, 10)+"\n")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list packs on %s: %w", s, err)
	}
	sort.Strings(lines)
	b := []byte(strings.Join(lines, ""))
	if err := s.b.Put(ctx, catalogName, bytes.NewReader(b), int64(len(b)), remote.PutOptions{ContentType: "text/plain"}); err != nil {
		return fmt.Errorf("write %s on %s: %w", catalogName, s, err)
	}
	return nil
}

// ensureSynced syncs once per Store.
func (s *Store) ensureSynced(ctx context.Context) error {
	s.mu.RLock()
	done := s.synced
	s.mu.RUnlock()
	if done {
		return nil
	}
	return s.Sync(ctx)
}

// loadIndex returns pack id's index from the cache, or else from the
// remote, checked: its checksum is id, its records are in bounds, and it
// describes a pack of packSize bytes. An index that fails a check gives an
// error wrapping cas.ErrCorrupt.
func (s *Store) loadIndex(ctx context.Context, id cas.ID, idxLen, packSize int64) (*remotePack, error) {
	check := func(b []byte) (*remotePack, error) {
		ix, err := pack.ParseIndex(b)
		if err == nil {
			err = ix.Verify()
		}
		if err == nil && ix.ID() != id {
			err = fmt.Errorf("%w: index checksum does not match its name", pack.ErrFormat)
		}
		if err == nil && ix.PackSize() != packSize {
			err = fmt.Errorf("%w: the index describes a pack of %d bytes, the remote lists %d", pack.ErrFormat, ix.PackSize(), packSize)
		}
		if err != nil {
			return nil, err
		}
		return &remotePack{id: id, idx: ix, size: packSize}, nil
	}
	path := s.cachePath(id)
	if b, err := readLimited(path, MaxIndexLen); err == nil {
		if p, err := check(b); err == nil {
			return p, nil
		}
		os.Remove(path) // damaged or stale: fetch it again
	}
	if idxLen > MaxIndexLen {
		return nil, fmt.Errorf("%w: index of %d bytes, more than the %d allowed", cas.ErrCorrupt, idxLen, MaxIndexLen)
	}
	b, err := s.getAll(ctx, indexName(id), MaxIndexLen)
	if errors.Is(err, remote.ErrNotExist) {
		return nil, fmt.Errorf("%w: listed but gone: %v", cas.ErrCorrupt, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch index of pack %s from %s: %w", id.Short(), s, err)
	}
	p, err := check(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", cas.ErrCorrupt, err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return nil, fmt.Errorf("cache index of pack %s: %w", id.Short(), err)
	}
	return p, nil
}

// loadFresh reads pack id's index from the remote and checks it; when the
// remote's copy fails and the cached one passes, the cached one is used,
// the damage reported, and the good copy kept for RepairIndexes.
func (s *Store) loadFresh(ctx context.Context, id cas.ID, idxLen, packSize int64, report func(string, error)) (*remotePack, error) {
	path := s.cachePath(id)
	cached, _ := readLimited(path, MaxIndexLen)
	os.Remove(path) // so that loadIndex reads the remote's copy
	p, err := s.loadIndex(ctx, id, idxLen, packSize)
	if err == nil || cached == nil || !errors.Is(err, cas.ErrCorrupt) {
		if err != nil && cached != nil {
			writeFileAtomic(path, cached)
		}
		return p, err
	}
	if err := writeFileAtomic(path, cached); err != nil {
		return nil, err
	}
	good, cerr := s.loadIndex(ctx, id, idxLen, packSize)
	if cerr != nil {
		return nil, err // the cached copy is no better
	}
	report(indexName(id), fmt.Errorf("damaged on the remote (%v); a good copy is kept here, and 'git lode push --repair' uploads it again", err))
	s.mu.Lock()
	s.damaged[id] = cached
	s.mu.Unlock()
	return good, nil
}

// RepairIndexes uploads again the good local copies of the indexes that
// SyncFresh found damaged on the remote, and returns how many it uploaded.
func (s *Store) RepairIndexes(ctx context.Context) (int, error) {
	s.mu.Lock()
	damaged := s.damaged
	s.damaged = map[cas.ID][]byte{}
	s.mu.Unlock()
	n := 0
	for id, b := range damaged {
		if err := s.b.Put(ctx, indexName(id), bytes.NewReader(b), int64(len(b)), remote.PutOptions{ContentType: "application/octet-stream"}); err != nil {
			return n, fmt.Errorf("upload index of pack %s to %s again: %w", id.Short(), s, err)
		}
		n++
	}
	return n, nil
}

// pruneCache removes cached indexes of packs the remote no longer lists,
// and returns how many.
func (s *Store) pruneCache(listed map[cas.ID]bool) int {
	ents, err := os.ReadDir(s.cacheDir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		hex, ok := strings.CutSuffix(e.Name(), ".idx")
		if !ok {
			// A temporary file another process is writing is young;
			// one a killed process left is removed after a while.
			if strings.HasPrefix(e.Name(), ".tmp-") {
				if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
					os.Remove(filepath.Join(s.cacheDir, e.Name()))
				}
			}
			continue
		}
		if id, err := cas.ParseID(hex); err == nil && !listed[id] {
			os.Remove(filepath.Join(s.cacheDir, e.Name()))
			n++
		}
	}
	return n
}

// Loc is one copy of an object on the remote.
type Loc struct {
	Pack  cas.ID
	Entry pack.Entry // Offset is in that pack
}

// Locate returns every copy of id in the merged index, ordered by pack id
// (so that readers agree on which copy they try first).
func (s *Store) Locate(id cas.ID) []Loc {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Loc
	for pid, p := range s.packs {
		e, ok, err := p.idx.Lookup(id)
		if err == nil && ok {
			out = append(out, Loc{Pack: pid, Entry: e})
		}
	}
	if m := s.mid; m != nil {
		for l := range m.ix.Lookup(id) {
			if !m.gone[l.PackNum] && s.packs[l.Pack] == nil {
				out = append(out, Loc{Pack: l.Pack, Entry: l.Entry})
			}
		}
	}
	if len(out) > 1 {
		// Copies in condemned packs last: they may go.
		sort.Slice(out, func(i, j int) bool {
			ci, cj := s.isCondemned(out[i].Pack), s.isCondemned(out[j].Pack)
			if ci != cj {
				return cj
			}
			return out[i].Pack.Compare(out[j].Pack) < 0
		})
	}
	return out
}

// Has reports whether the merged index has id.
func (s *Store) Has(id cas.ID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for pid, p := range s.packs {
		if _, ok, err := p.idx.Lookup(id); err == nil && ok && !s.isCondemned(pid) {
			return true
		}
	}
	if m := s.mid; m != nil {
		for l := range m.ix.Lookup(id) {
			if !m.gone[l.PackNum] && !s.isCondemned(l.Pack) {
				return true
			}
		}
	}
	return false
}

// addPack makes a pack this process uploaded known without a Sync.
func (s *Store) addPack(id cas.ID, ix *pack.Index) {
	s.mu.Lock()
	s.packs[id] = &remotePack{id: id, idx: ix, size: ix.PackSize()}
	s.mu.Unlock()
}

// getAll reads a whole object, refusing one larger than limit.
func (s *Store) getAll(ctx context.Context, name string, limit int64) ([]byte, error) {
	rc, err := s.b.Get(ctx, name, 0, -1, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, limit+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", cas.ErrCorrupt, name, limit)
	}
	return buf.Bytes(), nil
}

func (s *Store) cachePath(id cas.ID) string { return filepath.Join(s.cacheDir, id.String()+".idx") }

// readLimited reads a local file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, over %d", path, fi.Size(), limit)
	}
	return io.ReadAll(f)
}

// writeFileAtomic writes data to path by write-temp, rename.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// notExist reports whether err means the object is gone.
func notExist(err error) bool {
	return errors.Is(err, remote.ErrNotExist) || errors.Is(err, fs.ErrNotExist)
}

// marksFile keeps, beside the cached indexes, tokens the caller recorded
// as known to be whole on this remote (the commits whose trees a push
// covered), newest last.
const marksFile = "marks"

// maxMarks bounds the marks kept.
const maxMarks = 256

// Marks returns the tokens recorded with AddMarks, newest last. They are
// this machine's record, not the remote's: what a plain push may assume;
// checks of the remote itself (push --repair, verify --remote) ignore
// them, and a Sync that finds packs gone or indexes it cannot use drops
// them.
func (s *Store) Marks() []string {
	b, err := readLimited(filepath.Join(s.cacheDir, marksFile), 1<<20)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// AddMarks records tokens (see Marks), keeping the newest maxMarks.
func (s *Store) AddMarks(tokens []string) error {
	all := append(s.Marks(), tokens...)
	seen := map[string]bool{}
	var out []string
	for i := len(all) - 1; i >= 0 && len(out) < maxMarks; i-- {
		if !seen[all[i]] {
			seen[all[i]] = true
			out = append(out, all[i])
		}
	}
	slices.Reverse(out)
	return writeFileAtomic(filepath.Join(s.cacheDir, marksFile), []byte(strings.Join(out, "\n")+"\n"))
}
