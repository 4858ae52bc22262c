package store

import (
	"path/filepath"
	"time"

	"github.com/lodevcs/lode/cas"
)

// The store directory's layout beyond packs (FORMAT.md, "Local store
// layout"): the one place that names these paths.

// ChunkCacheDir is where mounts cache the chunks they fetched.
func (s *Store) ChunkCacheDir() string { return filepath.Join(s.dir, "cache", "chunks") }

// MountsDir is where running mounts publish themselves, in the store at
// storeDir.
func MountsDir(storeDir string) string { return filepath.Join(storeDir, "mounts") }

// MountFiles returns the state file (JSON) and the log of a mount at the
// absolute path dir, in the store at storeDir.
func MountFiles(storeDir, dir string) (state, log string) {
	base := filepath.Join(MountsDir(storeDir), cas.Sum([]byte(dir)).Short())
	return base + ".json", base + ".log"
}

// MigrateMapPath is where a history rewrite of `git lode migrate`, done at
// t, keeps its map of old to new commits, in the store at storeDir.
func MigrateMapPath(storeDir string, t time.Time) string {
	return filepath.Join(storeDir, "migrate", t.UTC().Format("20060102T150405Z")+".map")
}
