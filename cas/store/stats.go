package store

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/manifest"
	"github.com/lodevcs/lode/cas/pack"
)

// Stats summarises a store.
type Stats struct {
	Packs      int
	PackBytes  int64 // bytes of pack files on disk
	IndexBytes int64 // bytes of index files on disk

	Chunks           int   // distinct chunks
	ChunkRawBytes    int64 // their total raw size
	ChunkStoredBytes int64 // their total stored (compressed) size

	// Files and LogicalBytes count the files of more than one chunk (those
	// with a manifest) and their size; a file of one chunk is that chunk,
	// and only git's pointers say which chunks are whole files, so callers
	// that know them fill these in.
	Files        int
	LogicalBytes int64
}

// DedupRatio is logical bytes per distinct raw chunk byte.
func (st Stats) DedupRatio() float64 { return ratio(st.LogicalBytes, st.ChunkRawBytes) }

// CompressionRatio is raw chunk bytes per stored chunk byte.
func (st Stats) CompressionRatio() float64 { return ratio(st.ChunkRawBytes, st.ChunkStoredBytes) }

// TotalRatio is logical bytes per byte on disk.
func (st Stats) TotalRatio() float64 { return ratio(st.LogicalBytes, st.PackBytes+st.IndexBytes) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// ComputeStats reads every index record and manifest of the store.
func ComputeStats(ctx context.Context, s *Store) (Stats, error) {
	var st Stats
	for _, p := range s.Packs() {
		st.Packs++
		st.PackBytes += p.Size
		if fi, err := os.Stat(strings.TrimSuffix(p.Path, ".pack") + ".idx"); err == nil {
			st.IndexBytes += fi.Size()
		}
	}
	if fi, err := os.Stat(s.midxPath()); err == nil {
		st.IndexBytes += fi.Size()
	}
	seen := map[cas.ID]bool{}
	var manifests []cas.ID
	err := s.eachEntry(func(_ cas.ID, e pack.Entry) error {
		if seen[e.ID] {
			return nil
		}
		seen[e.ID] = true
		switch e.Kind {
		case cas.KindChunk:
			st.Chunks++
			st.ChunkRawBytes += int64(e.RawLen)
			st.ChunkStoredBytes += int64(e.StoredLen)
		case cas.KindManifest:
			manifests = append(manifests, e.ID)
		}
		return ctx.Err()
	})
	if err != nil {
		return st, err
	}
	for _, id := range manifests {
		raw, err := s.Get(ctx, id)
		if err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		m, err := manifest.Decode(raw, id)
		if err != nil {
			return st, fmt.Errorf("stats: manifest %s: %w", id.Short(), err)
		}
		st.Files++
		st.LogicalBytes += m.Size
	}
	return st, nil
}
