package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
	"github.com/lodevcs/lode/remote"
	"golang.org/x/sync/errgroup"
)

// Names in the remote layout.
const (
	packsPrefix     = "packs/"
	manifestsPrefix = "manifests/"
)

func packName(id cas.ID) string      { return packsPrefix + id.String() + ".pack" }
func indexName(id cas.ID) string     { return packsPrefix + id.String() + ".idx" }
func manifestName(oid cas.ID) string { return manifestsPrefix + oid.String() }

// ErrRemoteMissing is wrapped when the remote has no data for a file.
var ErrRemoteMissing = errors.New("missing on the remote")

// Remote is a lode remote: a back end holding the remote layout, plus a
// local cache of its pack indexes. It is safe for concurrent use.
type Remote struct {
	b        *remote.Counting
	cacheDir string

	mu   sync.Mutex // guards idx
	idx  map[cas.ID]*pack.Index
	sync sync.Mutex // held while listing the remote's packs
}

// NewRemote returns the remote stored in b, caching its pack indexes in
// cacheDir (created if needed).
func NewRemote(b remote.Backend, cacheDir string) *Remote {
	return &Remote{b: remote.NewCounting(b), cacheDir: cacheDir, idx: map[cas.ID]*pack.Index{}}
}

// Backend is the remote's back end.
func (r *Remote) Backend() remote.Backend { return r.b.Backend }

// Requests is the number of requests made to the back end so far (a
// request retried inside the back end counts once).
func (r *Remote) Requests() int64 { return r.b.Requests() }

// String describes the remote for messages.
func (r *Remote) String() string { return r.b.Location() }

// SyncIndexes lists the remote's pack indexes and loads those not loaded
// yet, from the cache or, failing that, from the remote (then caches them).
func (r *Remote) SyncIndexes(ctx context.Context) error {
	r.sync.Lock()
	defer r.sync.Unlock()
	var ids []cas.ID
	err := r.b.List(ctx, packsPrefix, remote.ListOptions{}, func(info remote.Info) error {
		name, ok := strings.CutSuffix(strings.TrimPrefix(info.Name, packsPrefix), ".idx")
		if !ok {
			return nil
		}
		id, err := cas.ParseID(name)
		if err != nil {
			return nil // not ours
		}
		r.mu.Lock()
		_, known := r.idx[id]
		r.mu.Unlock()
		if !known {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list packs on %s: %w", r, err)
	}
	if err := os.MkdirAll(r.cacheDir, 0o755); err != nil {
		return fmt.Errorf("remote index cache: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, id := range ids {
		g.Go(func() error {
			ix, err := r.loadIndex(ctx, id)
			if err != nil {
				return err
			}
			r.addIndex(id, ix)
			return nil
		})
	}
	return g.Wait()
}

// loadIndex reads the index of pack id from the cache, or from the remote.
func (r *Remote) loadIndex(ctx context.Context, id cas.ID) (*pack.Index, error) {
	path := r.cachePath(id)
	if b, err := os.ReadFile(path); err == nil {
		if ix, err := pack.ParseIndex(b); err == nil && ix.ID() == id {
			return ix, nil
		}
	}
	b, err := getAll(ctx, r.b, indexName(id), -1)
	if err != nil {
		return nil, fmt.Errorf("fetch index of pack %s from %s: %w", id.Short(), r, err)
	}
	ix, err := pack.ParseIndex(b)
	if err == nil {
		err = ix.Verify()
	}
	if err == nil && ix.ID() != id {
		err = fmt.Errorf("%w: index checksum does not match its name", pack.ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("index of pack %s on %s: %w: %v", id.Short(), r, cas.ErrCorrupt, err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return nil, fmt.Errorf("cache index of pack %s: %w", id.Short(), err)
	}
	return ix, nil
}

func (r *Remote) addIndex(id cas.ID, ix *pack.Index) {
	r.mu.Lock()
	r.idx[id] = ix
	r.mu.Unlock()
}

// locate finds chunk id in the remote's known packs.
func (r *Remote) locate(id cas.ID) (manifest.Location, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, ix := range r.idx {
		e, ok, err := ix.Lookup(id)
		if err == nil && ok && e.Kind == cas.KindChunk {
			return manifest.Location{Pack: pid, Offset: e.Offset, StoredLen: e.StoredLen, Method: uint8(e.Method)}, true
		}
	}
	return manifest.Location{}, false
}

// Located fetches and checks the located manifest of the file oid.
func (r *Remote) Located(ctx context.Context, oid cas.ID) (*manifest.Located, error) {
	b, err := getAll(ctx, r.b, manifestName(oid), 64<<20)
	if errors.Is(err, remote.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no data for oid %s (was it pushed from the clone that committed it?)", ErrRemoteMissing, r, oid.Short())
	}
	if err != nil {
		return nil, fmt.Errorf("fetch manifest of %s from %s: %w", oid.Short(), r, err)
	}
	l, err := manifest.DecodeLocated(b, oid)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s on %s: %w: %v", oid.Short(), r, cas.ErrCorrupt, err)
	}
	return l, nil
}

// HasFile reports whether the remote has the located manifest of oid.
func (r *Remote) HasFile(ctx context.Context, oid cas.ID) (bool, error) {
	_, err := r.b.Stat(ctx, manifestName(oid))
	if errors.Is(err, remote.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for file %s: %w", oid.Short(), err)
	}
	return true, nil
}

// getAll reads a whole object, refusing ones larger than limit (if > 0).
func getAll(ctx context.Context, b remote.Backend, name string, limit int64) ([]byte, error) {
	rc, err := b.Get(ctx, name, 0, -1, remote.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if limit > 0 {
		r = io.LimitReader(rc, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}

// writeFileAtomic writes data to path by write-temp, rename.
func writeFileAtomic(path string, data []byte) error {
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

func (r *Remote) cachePath(id cas.ID) string { return filepath.Join(r.cacheDir, id.String()+".idx") }
