package cli

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/lodevcs/lode/remote"
)

// How a remote URL, a store directory or a git remote's path becomes a
// place (docs/FORMAT.md, Configuration, says the same to users):
//
//   - "~" and "~/x" are under $HOME, "~user/x" under that user's home
//     directory, as git expands them in a remote's path;
//   - a relative path is relative to the repository root (the work tree's
//     top level; for a bare repository, its git dir), wherever it was
//     written: .lode.toml, the user configuration, LODE_REMOTE_URL or
//     LODE_STORE_DIR. Git runs lode's pre-push hook and filter from that
//     root whatever directory the user typed the command in, and resolves
//     a git remote's relative path against it too; any other base would
//     make "git push" and "git lode push" from a subdirectory disagree;
//   - file:///abs/path and file://localhost/abs/path name /abs/path, with
//     percent-escapes decoded. Any other host is an error: lode reads only
//     this machine's files, and git, which ignores the host of a file://
//     URL, would read file://relative/path as /path;
//   - userinfo in a URL is never printed (remote.RedactURL); s3:// and
//     gs:// refuse it, http(s):// sends it as basic auth.

// location is a configured remote URL or store directory, as written, and
// where it was set.
type location struct {
	value  string
	source string // for messages: "LODE_REMOTE_URL", "remote.url in /repo/.lode.toml"
}

// remoteLocation is the configured lode remote: LODE_REMOTE_URL, else
// remote.url from the configuration. Its value is "" when neither is set.
// The configuration is read (and checked) even when the variable is set.
func (a *app) remoteLocation(ctx context.Context, r *repo) (location, error) {
	cfg, err := a.loadConfig(ctx, r)
	if err != nil {
		return location{}, err
	}
	if v := a.getenv("LODE_REMOTE_URL"); v != "" {
		return location{v, "LODE_REMOTE_URL"}, nil
	}
	return location{cfg.Remote.URL, "remote.url in " + cfg.remoteFrom}, nil
}

// storeLocation is the configured local store: LODE_STORE_DIR, else
// store.dir from the configuration. Its value is "" when neither is set.
func (a *app) storeLocation(ctx context.Context, r *repo) (location, error) {
	cfg, err := a.loadConfig(ctx, r)
	if err != nil {
		return location{}, err
	}
	if v := a.getenv("LODE_STORE_DIR"); v != "" {
		return location{v, "LODE_STORE_DIR"}, nil
	}
	return location{cfg.Store.Dir, "store.dir in " + cfg.storeFrom}, nil
}

// resolveLocation turns a configured location into what openBackend and
// store.Open take: a path or a file:// URL becomes a clean absolute path
// (a relative one relative to r's root); a URL of any other scheme comes
// back as written, for openBackend to check. Errors name loc's source and
// never its userinfo.
func (a *app) resolveLocation(r *repo, loc location) (string, error) {
	var p string
	var err error
	if scheme, ok := urlScheme(loc.value); !ok {
		if isSCPLike(loc.value) {
			// "s3:bucket" or "file:/x" would otherwise be a
			// directory of that name in the repository.
			// The value is not shown: "s3:KEY:SECRET@bucket" is no URL
			// that RedactURL would recognise.
			return "", fmt.Errorf("%s is neither a URL (scheme://...) nor a path (it has a colon before any slash); start a relative path with ./", loc.source)
		}
		p, err = resolvePath(loc.value, r.dir(), a.getenv("HOME"))
	} else if strings.EqualFold(scheme, "file") {
		p, err = fileURLPath(loc.value)
	} else {
		return loc.value, nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", loc.source, err)
	}
	return p, nil
}

// urlScheme returns the scheme of s if s is a URL: as for git, a letter,
// then letters, digits, "+", "-" or ".", then "://". A path such as
// "./a://b" is no URL.
func urlScheme(s string) (string, bool) {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return "", false
	}
	for i, c := range scheme {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	return scheme, true
}

// resolvePath returns the clean absolute path that p names: "~", "~/x"
// and "~user/x" are under a home directory (home is $HOME), an absolute
// path is itself, and a relative one is relative to root.
func resolvePath(p, root, home string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if name, ok := strings.CutPrefix(p, "~"); ok {
		name, rest, _ := strings.Cut(name, "/")
		dir := home
		if name == "" && home == "" {
			return "", fmt.Errorf("cannot expand %q: HOME is not set", p)
		}
		if name != "" {
			u, err := user.Lookup(name)
			if err != nil {
				return "", fmt.Errorf("cannot expand %q: %w", p, err)
			}
			dir = u.HomeDir
		}
		return filepath.Join(dir, rest), nil
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	if root == "" {
		return "", fmt.Errorf("relative path %q outside a repository: write an absolute path", p)
	}
	return filepath.Join(root, p), nil
}

// fileURLPath returns the local path that a file:// URL names: its path,
// percent-escapes decoded, when the host is empty or "localhost".
func fileURLPath(raw string) (string, error) {
	shown := remote.RedactURL(raw)
	if remote.HasUserinfo(raw) {
		return "", fmt.Errorf("%s: a file:// URL takes no user name or password", shown)
	}
	u, err := remote.ParseURL(raw)
	if err != nil {
		return "", err
	}
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		rel := strings.TrimPrefix(u.Host+u.Path, "/")
		return "", fmt.Errorf("%s names the host %q, and lode reads only this machine's files: write file:///%s (an absolute path), or %s (a path relative to the repository root)",
			shown, u.Host, rel, rel)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%s: a file:// URL has no query or fragment (write %%3F for ? and %%23 for # in a path)", shown)
	}
	if u.Path == "" {
		return "", fmt.Errorf("%s: no path (write file:///abs/path)", shown)
	}
	return filepath.Clean(u.Path), nil
}
