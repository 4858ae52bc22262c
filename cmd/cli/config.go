package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// config is the union of lode's TOML settings. Sources are read in order
// of increasing precedence: the repository's committed .lode.toml, then the
// user's $XDG_CONFIG_HOME/lode/config.toml; LODE_* environment variables
// override both (as git's own config overrides .lfsconfig for Git LFS).
// Paths in any of them are resolved by resolveLocation.
type config struct {
	Store struct {
		// Dir is the local store directory (default <git dir>/lode); a
		// shared directory lets many clones (CI caches) share objects.
		Dir string `toml:"dir"`
	} `toml:"store"`
	Remote struct {
		// URL is where pushes upload and fetches download:
		// s3://bucket/prefix, gs://bucket/prefix, file:///path, a path,
		// or http(s)://host/path (read only).
		URL string `toml:"url"`
	} `toml:"remote"`
	Prune struct {
		// Recent is how many days of history `git lode prune` keeps in
		// the local store besides the tips (default 7; 0 keeps the tips
		// only).
		Recent *int `toml:"recent"`
		// Grace is how long `git lode prune --remote` waits between
		// condemning a pack and deleting it (a Go duration, default
		// "24h"): longer than any push may take.
		Grace string `toml:"grace"`
	} `toml:"prune"`

	// storeFrom and remoteFrom name the source that set Store.Dir and
	// Remote.URL last, for messages.
	storeFrom, remoteFrom string
}

const knownSettings = "store.dir, remote.url, prune.recent, prune.grace"

// configSource is one TOML document and where it came from.
type configSource struct {
	name string // for messages
	data []byte
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

// repoConfig returns the repository's .lode.toml: from the work tree, or,
// when it is not there (a clone whose checkout has not written it yet, or a
// bare repository), from the index, or from HEAD.
func (a *app) repoConfig(ctx context.Context, r *repo) (*configSource, error) {
	if r == nil {
		return nil, nil
	}
	if r.workTree != "" {
		p := filepath.Join(r.workTree, ".lode.toml")
		b, err := os.ReadFile(p)
		if err == nil {
			return &configSource{name: p, data: b}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read configuration %s: %w", p, err)
		}
	}
	dir := r.workTree
	if dir == "" {
		dir = r.gitDir
	}
	specs := []string{":.lode.toml", "HEAD:.lode.toml"}
	if r.workTree == "" {
		specs = specs[1:]
	}
	// One git process for both places (the filter starts often).
	out, err := a.git(ctx, dir, []byte(strings.Join(specs, "\n")+"\n"), "cat-file", "--batch")
	if err != nil {
		return nil, nil
	}
	for _, spec := range specs {
		// "<oid> blob <size>\n<content>\n", or "<spec> missing\n".
		hdr, rest, ok := bytes.Cut(out, []byte{'\n'})
		if !ok {
			break
		}
		f := strings.Fields(string(hdr))
		if len(f) != 3 || f[1] != "blob" {
			out = rest
			continue
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n > len(rest) {
			break
		}
		if n > 1<<20 {
			return nil, fmt.Errorf("configuration %s in git is %d bytes; that is not a configuration file", spec, n)
		}
		return &configSource{name: ".lode.toml (" + strings.TrimSuffix(spec, ".lode.toml") + ")", data: rest[:n]}, nil
	}
	return nil, nil
}

// loadConfig reads the configuration that applies to r (r may be nil
// outside a repository).
func (a *app) loadConfig(ctx context.Context, r *repo) (*config, error) {
	var cfg config
	var srcs []*configSource
	rc, err := a.repoConfig(ctx, r)
	if err != nil {
		return nil, err
	}
	if rc != nil {
		srcs = append(srcs, rc)
	}
	if p := a.userConfigPath(); p != "" {
		b, err := os.ReadFile(p)
		if err == nil {
			srcs = append(srcs, &configSource{name: p, data: b})
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read configuration %s: %w", p, err)
		}
	}
	for _, s := range srcs {
		var c config
		md, err := toml.Decode(string(s.data), &c)
		if err != nil {
			return nil, fmt.Errorf("configuration %s: %w", s.name, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("configuration %s: unknown setting %q (known: %s)", s.name, und[0].String(), knownSettings)
		}
		if md.IsDefined("store", "dir") {
			cfg.Store.Dir, cfg.storeFrom = c.Store.Dir, s.name
		}
		if md.IsDefined("remote", "url") {
			cfg.Remote.URL, cfg.remoteFrom = c.Remote.URL, s.name
		}
		if md.IsDefined("prune", "recent") {
			if *c.Prune.Recent < 0 {
				return nil, fmt.Errorf("configuration %s: prune.recent is %d; it is a number of days, 0 or more", s.name, *c.Prune.Recent)
			}
			cfg.Prune.Recent = c.Prune.Recent
		}
		if md.IsDefined("prune", "grace") {
			if _, err := time.ParseDuration(c.Prune.Grace); err != nil {
				return nil, fmt.Errorf("configuration %s: prune.grace %q: %v (write a duration such as \"24h\")", s.name, c.Prune.Grace, err)
			}
			cfg.Prune.Grace = c.Prune.Grace
		}
	}
	return &cfg, nil
}
