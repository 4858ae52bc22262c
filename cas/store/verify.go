package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/midx"
	"github.com/lodevcs/lode/cas/pack"
	"golang.org/x/sync/errgroup"
)

// Severity says whether a Problem makes Verify fail.
type Severity int

const (
	// Warning is something harmless that gc can tidy, such as a
	// temporary file left by a killed writer.
	Warning Severity = iota
	// Error is damage: an object that cannot be read back as stored.
	Error
)

// Problem is one finding of Verify.
type Problem struct {
	Severity Severity
	Path     string // file concerned
	Object   cas.ID // zero when the problem is not about one object
	Offset   int64  // in the pack, when Object is set
	Err      error
}

func (p Problem) String() string {
	s := p.Path
	if !p.Object.IsZero() {
		s += fmt.Sprintf(": object %s at offset %d", p.Object, p.Offset)
	}
	return s + ": " + p.Err.Error()
}

// VerifyStats counts what Verify looked at.
type VerifyStats struct {
	Packs, Objects int
	Bytes          int64 // pack bytes read
}

// Verify reads back every pack in the store: it checks each index against
// its name and its pack, decompresses every object and checks it against
// its id. It calls report for every problem, and returns a non-nil error
// only if it could not run (ctx ended, directory unreadable).
func Verify(ctx context.Context, s *Store, report func(Problem)) (VerifyStats, error) {
	var st VerifyStats
	dir := s.packsDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return st, fmt.Errorf("verify: list packs: %w", err)
	}
	// Packs are checked in parallel; report is called one problem at a
	// time.
	var mu sync.Mutex // guards st and calls of report
	say := func(p Problem) {
		mu.Lock()
		defer mu.Unlock()
		report(p)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Concurrency)
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".idx"):
			base := strings.TrimSuffix(name, ".idx")
			if !names[base+".pack"] {
				say(Problem{Severity: Error, Path: path, Err: fmt.Errorf("index without its pack %s.pack", base)})
				continue
			}
			g.Go(func() error {
				n, size, err := verifyPack(gctx, s, base, say)
				if err != nil {
					return err
				}
				mu.Lock()
				st.Packs++
				st.Objects += n
				st.Bytes += size
				mu.Unlock()
				return nil
			})
		case strings.HasSuffix(name, ".pack"):
			if !names[strings.TrimSuffix(name, ".pack")+".idx"] {
				say(Problem{Severity: Warning, Path: path, Err: fmt.Errorf("pack without an index (left by an interrupted writer; its objects are not used)")})
			}
		case name == midxName:
			if err := verifyMidx(path); err != nil {
				say(Problem{Severity: Error, Path: path, Err: fmt.Errorf("%w (derived from the packs' own indexes: 'git lode verify --fix' writes it again)", err)})
			}
		default:
			say(Problem{Severity: Warning, Path: path, Err: fmt.Errorf("unexpected file in the packs directory")})
		}
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	tmps, _ := os.ReadDir(filepath.Join(s.dir, "tmp"))
	for _, e := range tmps {
		report(Problem{Severity: Warning, Path: filepath.Join(s.dir, "tmp", e.Name()), Err: fmt.Errorf("temporary file (in use by a running writer, or left by one that was killed)")})
	}
	return st, nil
}

// verifyPack checks one pack and its index.
func verifyPack(ctx context.Context, s *Store, base string, report func(Problem)) (int, int64, error) {
	dir := s.packsDir()
	idxPath := filepath.Join(dir, base+".idx")
	packPath := filepath.Join(dir, base+".pack")
	fail := func(path string, err error) { report(Problem{Severity: Error, Path: path, Err: err}) }

	idxBytes, err := os.ReadFile(idxPath)
	if err != nil {
		fail(idxPath, err)
		return 0, 0, nil
	}
	ix, err := pack.ParseIndex(idxBytes)
	if err == nil {
		err = ix.Verify()
	}
	if err != nil {
		fail(idxPath, err)
		return 0, 0, nil
	}
	if ix.ID().String() != base {
		fail(idxPath, fmt.Errorf("%w: index checksum %s does not match its name", pack.ErrFormat, ix.ID()))
	}

	f, err := os.Open(packPath)
	if err != nil {
		fail(packPath, err)
		return 0, 0, nil
	}
	defer f.Close()
	var scanned []pack.Entry
	bad := 0
	size, err := pack.Scan(f, func(e pack.Entry, stored []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		scanned = append(scanned, e)
		raw, err := s.codec.Decompress(nil, stored, e.Method, int(e.RawLen))
		if err == nil {
			err = CheckObject(e.ID, e.Kind, raw)
		}
		if err != nil {
			bad++
			report(Problem{Severity: Error, Path: packPath, Object: e.ID, Offset: e.Offset, Err: err})
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		fail(packPath, err)
		return len(scanned), size, nil
	}
	// A damaged entry header shows up as an index that no longer matches
	// what the pack holds.
	if rebuilt := pack.EncodeIndex(scanned, size); !bytes.Equal(rebuilt, idxBytes) {
		fail(packPath, fmt.Errorf("%w: pack contents do not match its index", pack.ErrFormat))
	}
	return len(scanned), size, nil
}

// verifyMidx checks the multi-pack index's structure and checksum.
func verifyMidx(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ix, err := midx.Open(b)
	if err == nil {
		err = ix.Verify()
	}
	return err
}
