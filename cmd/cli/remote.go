package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
)

// errNoRemote is returned when no lode remote is configured or implied.
var errNoRemote = errors.New("no lode remote is configured")

// remoteURL says which lode remote to use, and why.
type remoteURL struct {
	url    string
	source string // for messages: "LODE_REMOTE_URL", ".lode.toml", "git remote origin"...
	// readOnly: the store of another repository with a work tree, which
	// lode reads from and never writes into (see embeddedRemote).
	readOnly bool
}

// resolveRemote finds the lode remote for the repository: LODE_REMOTE_URL,
// else remote.url in the configuration (user config over .lode.toml, which
// is read from the work tree, the index or HEAD), else the embedded default:
// when the git remote (gitRemote, or the current branch's remote, or
// origin) is a local path or file:// URL, the folder "lode" inside that
// repository. Paths come back absolute (see resolveLocation); errors never
// show a URL's userinfo.
//
// gitURL, when not empty, is the git remote's URL (a push to a URL rather
// than to a named remote).
func (a *app) resolveRemote(ctx context.Context, r *repo, gitRemote, gitURL string) (remoteURL, error) {
	loc, err := a.remoteLocation(ctx, r)
	if err != nil {
		return remoteURL{}, err
	}
	if loc.value != "" {
		u, err := a.resolveLocation(r, loc)
		if err != nil {
			return remoteURL{}, err
		}
		return remoteURL{url: u, source: loc.source}, nil
	}
	dir := r.dir()
	if gitURL == "" {
		if gitRemote == "" {
			gitRemote = a.defaultGitRemote(ctx, dir)
		}
		out, err := a.git(ctx, dir, nil, "remote", "get-url", gitRemote)
		if err != nil {
			return remoteURL{}, fmt.Errorf("%w: set [remote] url in .lode.toml (or LODE_REMOTE_URL), or add a git remote %q that is a local path", errNoRemote, gitRemote)
		}
		gitURL = strings.TrimSpace(string(out))
	} else if gitRemote == "" {
		gitRemote = gitURL
	}
	shown := remote.RedactURL(gitRemote)
	path, ok, err := localPath(gitURL, dir, a.getenv("HOME"))
	if err != nil {
		return remoteURL{}, fmt.Errorf("git remote %s: %w", shown, err)
	}
	if !ok {
		return remoteURL{}, fmt.Errorf("%w: git remote %s is %s, which is not a local path; set [remote] url in .lode.toml (for example s3://bucket/prefix or gs://bucket/prefix) or LODE_REMOTE_URL", errNoRemote, shown, remote.RedactURL(gitURL))
	}
	em, err := a.embeddedRemote(path)
	if err != nil {
		return remoteURL{}, fmt.Errorf("git remote %s: %w", shown, err)
	}
	if em.workTree {
		return remoteURL{em.dir, "the store of git remote " + shown + ", a repository with a work tree", true}, nil
	}
	return remoteURL{em.dir, "inside git remote " + shown, false}, nil
}

// defaultGitRemote is the current branch's remote, or origin.
func (a *app) defaultGitRemote(ctx context.Context, dir string) string {
	if b, err := a.git(ctx, dir, nil, "symbolic-ref", "--short", "-q", "HEAD"); err == nil {
		branch := strings.TrimSpace(string(b))
		if out, err := a.git(ctx, dir, nil, "config", "--get", "branch."+branch+".remote"); err == nil {
			if name := strings.TrimSpace(string(out)); name != "" && name != "." {
				return name
			}
		}
	}
	return "origin"
}

// localPath returns the directory a git remote URL names, if it is
// local, resolved as git resolves it: a relative path against root (git
// runs from the top of the work tree, and runs hooks of a bare repository
// in its git dir), "~" under home. A file:// URL naming a host other than
// localhost is an error: git ignores the host (file://host/x is /x for
// git), which is too surprising to follow.
func localPath(gitURL, root, home string) (path string, ok bool, err error) {
	if scheme, isURL := urlScheme(gitURL); isURL {
		if !strings.EqualFold(scheme, "file") {
			return "", false, nil
		}
		p, err := fileURLPath(gitURL)
		return p, err == nil, err
	}
	if isSCPLike(gitURL) {
		return "", false, nil
	}
	p, err := resolvePath(gitURL, root, home)
	return p, err == nil, err
}

// isSCPLike recognises host:path git URLs (git@host:org/repo).
func isSCPLike(s string) bool {
	i := strings.Index(s, ":")
	return i > 0 && !strings.Contains(s[:i], "/")
}

// embedded is the lode remote inside a local git repository.
type embedded struct {
	dir      string
	workTree bool // the repository has a work tree: dir is its local store
}

// embeddedRemote is the lode remote inside the local git repository at
// path: <bare repository>/lode, where pushes to it upload; or, for a
// repository with a work tree (a teammate's clone, 'git clone
// ../alice/project'), its local store, which holds the data of every file
// committed there: store.dir of its .lode.toml (relative to its root), or
// <its git common dir>/lode. That store belongs to the other repository:
// lode reads from it and never writes into it (its prune would not know of
// what a push put there, and git itself refuses pushes to a checked-out
// branch), so a push to such a repository uploads nothing and succeeds
// only when the store already holds what the pushed commits need.
func (a *app) embeddedRemote(path string) (embedded, error) {
	top, gitDir, ok := workTreeRepo(path)
	if !ok {
		return embedded{dir: filepath.Join(path, "lode")}, nil
	}
	common := gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = filepath.Clean(c)
	}
	dir := filepath.Join(common, "lode")
	if b, err := os.ReadFile(filepath.Join(top, ".lode.toml")); err == nil {
		var c config
		c.apply(&configSource{name: filepath.Join(top, ".lode.toml"), data: b, repo: true})
		if c.Store.Dir != "" {
			if _, isURL := urlScheme(c.Store.Dir); isURL {
				p, err := fileURLPath(c.Store.Dir)
				if err != nil {
					return embedded{}, fmt.Errorf("store.dir in %s: %w", filepath.Join(top, ".lode.toml"), err)
				}
				dir = p
			} else {
				p, err := resolvePath(c.Store.Dir, top, a.getenv("HOME"))
				if err != nil {
					return embedded{}, fmt.Errorf("store.dir in %s: %w", filepath.Join(top, ".lode.toml"), err)
				}
				dir = p
			}
		}
	}
	return embedded{dir: dir, workTree: true}, nil
}

// workTreeRepo reports whether path is a repository with a work tree (or
// the .git directory of one), and returns its top and git dir.
func workTreeRepo(path string) (top, gitDir string, ok bool) {
	dotGit := filepath.Join(path, ".git")
	fi, err := os.Stat(dotGit)
	switch {
	case err == nil && fi.IsDir():
		return path, dotGit, true
	case err == nil && fi.Mode().IsRegular():
		// A linked worktree or a submodule: "gitdir: <path>".
		b, err := os.ReadFile(dotGit)
		if err != nil {
			return "", "", false
		}
		g, found := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
		if !found {
			return "", "", false
		}
		g = strings.TrimSpace(g)
		if !filepath.IsAbs(g) {
			g = filepath.Join(path, g)
		}
		return path, filepath.Clean(g), true
	}
	// The .git directory of a repository with a work tree.
	if filepath.Base(path) == ".git" {
		if fi, err := os.Stat(filepath.Join(path, "HEAD")); err == nil && fi.Mode().IsRegular() {
			return filepath.Dir(path), path, true
		}
	}
	return "", "", false
}

// openRemote opens the lode remote of r (see resolveRemote), wrapped with
// retries, with its index cache under the local store.
func (a *app) openRemote(ctx context.Context, r *repo, st *store.Store, gitRemote string) (*remotestore.Store, error) {
	return a.openRemoteFor(ctx, r, st, gitRemote, "")
}

// openRemoteFor is openRemote for a push to a git URL.
func (a *app) openRemoteFor(ctx context.Context, r *repo, st *store.Store, gitRemote, gitURL string) (*remotestore.Store, error) {
	b, err := a.openRemoteBackend(ctx, r, gitRemote, gitURL)
	if err != nil {
		return nil, err
	}
	b = remote.NewRetrying(b, remote.RetryOptions{
		OnRetry: func(op, name string, attempt int, err error) {
			if a.getenv("LODE_DEBUG") != "" {
				fmt.Fprintf(a.io.Err, "git-lode: retrying %s %s (attempt %d): %v\n", op, name, attempt, err)
			}
		},
	})
	return remotestore.New(b, st.RemoteCacheDir(b.Location()), st.Codec()), nil
}

// openRemoteBackend resolves the lode remote (resolveRemote) and opens its
// back end, without retries.
func (a *app) openRemoteBackend(ctx context.Context, r *repo, gitRemote, gitURL string) (remote.Backend, error) {
	ru, err := a.resolveRemote(ctx, r, gitRemote, gitURL)
	if err != nil {
		return nil, err
	}
	b, err := a.openBackend(ctx, ru.url)
	if err != nil {
		return nil, fmt.Errorf("lode remote %s (from %s): %w", remote.RedactURL(ru.url), ru.source, err)
	}
	if ru.readOnly {
		b = readOnlyBackend{b, ru.source}
	}
	return b, nil
}

// openBackend opens the back end a remote URL names (as resolveRemote
// returns it). Its errors never show the URL's userinfo.
func (a *app) openBackend(ctx context.Context, raw string) (remote.Backend, error) {
	scheme, ok := urlScheme(raw)
	if !ok {
		return openLocal(raw)
	}
	// Schemes are case-insensitive; the parsers below want them lower.
	raw = strings.ToLower(scheme) + raw[len(scheme):]
	switch strings.ToLower(scheme) {
	case "file":
		p, err := fileURLPath(raw)
		if err != nil {
			return nil, err
		}
		return openLocal(p)
	case "s3":
		return a.openS3(ctx, raw)
	case "gs":
		return a.openGCS(ctx, raw)
	case "http", "https":
		return openHTTP(raw)
	}
	return nil, fmt.Errorf("unknown scheme %q: use s3://bucket/prefix, gs://bucket/prefix, file:///path, a path, or http(s)://host/path (read only)", scheme)
}
