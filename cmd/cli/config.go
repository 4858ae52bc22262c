package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// config is the union of lode's TOML settings. Files are read in order of
// increasing precedence: the repository's committed .lode.toml, then the
// user's $XDG_CONFIG_HOME/lode/config.toml; LODE_* environment variables
// override both.
type config struct {
	Store struct {
		// Dir is the local store directory (default <git dir>/lode); a
		// shared directory lets many clones (CI caches) share objects.
		Dir string `toml:"dir"`
	} `toml:"store"`
}

func (a *app) userConfigPath() string {
	base := a.getenv("XDG_CONFIG_HOME")
	if base == "" {
		home := a.getenv("HOME")
		if home == "" {
			return ""
		}
		base = filepath.Join(home, ".config")
	}
	return filepath.Join(base, "lode", "config.toml")
}

// loadConfig reads the configuration files that apply to r (r may be nil
// outside a repository).
func (a *app) loadConfig(r *repo) (*config, error) {
	var cfg config
	var paths []string
	if r != nil && r.workTree != "" {
		paths = append(paths, filepath.Join(r.workTree, ".lode.toml"))
	}
	if p := a.userConfigPath(); p != "" {
		paths = append(paths, p)
	}
	for _, p := range paths {
		md, err := toml.DecodeFile(p, &cfg)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read configuration %s: %w", p, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("configuration %s: unknown setting %q (known: store.dir)", p, und[0].String())
		}
	}
	return &cfg, nil
}
