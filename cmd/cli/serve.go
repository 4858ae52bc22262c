package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/lodevcs/lode/fuse/commitfs"
	"github.com/lodevcs/lode/fuse/serve"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/spf13/cobra"
)

// defaultServeAddr is where serve listens without --addr: loopback only.
const defaultServeAddr = "127.0.0.1:8417"

type serveFlags struct {
	addr        string
	remote      string
	cacheSize   string
	readTimeout time.Duration
	maxRequests int
	verbose     bool
	stdinLife   bool
}

func (a *app) serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [REV...]",
		Short: "Serve revisions over HTTP, read-only; data is fetched as it is read",
		Long: `Serves the repository's revisions read-only over HTTP, for tools that take
URLs (Label Studio tasks, a model server, a browser, fsspec, pandas):

  GET /REV/PATH     a file's bytes (Range requests; ETag is the lode oid,
                    or the git blob id of a plain git file)
  GET /REV/DIR/     a directory as JSON: name, type, size, oid of each entry

REV is a branch, tag, commit id or 'main~3', URL-escaped (a branch 'a/b' is
'a%2Fb'). Files are read as the mount reads them: only the chunks a request
touches are fetched (from the local store, else from the lode remote),
each checked against its id; what checkout would refuse (.git in any
spelling, a damaged pointer) is not served. Files that a revision holds as
Git LFS pointers (history from before a move from Git LFS) are served from
Git LFS's local store, checked whole against their SHA-256 first (ETag
"sha256:<hex>"; a damaged object is 500, one not there 502: run
'git lfs fetch').

With REV arguments only those revisions are served, pinned to the commits
they name when the server starts (by name or by their commit id); without,
any revision is, resolved at each request.

The server listens on 127.0.0.1 only unless --addr says otherwise, and
prints its URL on standard output once it is ready ("http://HOST:PORT/";
--addr 127.0.0.1:0 takes a free port). --addr unix:PATH listens on a unix
socket (mode 0600). Ctrl-C or SIGTERM stops it after the requests in
flight. -v logs each request on standard error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.serve(cmd.Context(), args, f)
		},
	}
	cmd.Flags().StringVar(&f.addr, "addr", defaultServeAddr, "address to listen on: HOST:PORT, or unix:PATH")
	cmd.Flags().StringVar(&f.remote, "remote", "", "git remote whose lode remote to read (default: the current branch's remote, or origin)")
	a.completeGitRemotes(cmd, "remote")
	cmd.Flags().StringVar(&f.cacheSize, "cache-size", "2GiB", "bound of the local cache of fetched chunks")
	cmd.Flags().DurationVar(&f.readTimeout, "read-timeout", commitfs.DefaultReadTimeout, "a read of a lode file that takes longer fails (the response is cut short) and is logged")
	cmd.Flags().IntVar(&f.maxRequests, "max-requests", serve.DefaultMaxRequests, "requests served at once (others wait)")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "log each request and every error on standard error")
	cmd.Flags().BoolVar(&f.stdinLife, "until-stdin-closes", false, "stop when standard input closes (for a program that starts the server: it stops when that program is gone)")
	return cmd
}

func (a *app) serve(ctx context.Context, revs []string, f serveFlags) error {
	cacheSize, err := parseSize(f.cacheSize)
	if err != nil {
		return usageError("--cache-size %q: %v", f.cacheSize, err)
	}
	if f.readTimeout <= 0 {
		return usageError("--read-timeout %v: want a positive duration such as 30s or 2m", f.readTimeout)
	}
	if f.maxRequests <= 0 {
		return usageError("--max-requests %d: want a positive number", f.maxRequests)
	}
	r, err := a.findRepo(ctx)
	if err != nil {
		return err
	}
	live, err := a.openLiveRepo(r)
	if err != nil {
		return err
	}
	defer live.close()
	revisions := &serveRevisions{live: live}
	if len(revs) > 0 {
		revisions.pinned = map[string]serve.Commit{}
		for _, rev := range revs {
			c, err := revisions.resolve(rev)
			if err != nil {
				return fmt.Errorf("cannot serve %s: %w", rev, err)
			}
			revisions.pinned[rev] = c
			revisions.pinned[c.ID.String()] = c
			revisions.names = append(revisions.names, rev)
		}
	}
	logf := func(string, ...any) {}
	if f.verbose {
		var mu sync.Mutex
		logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(a.io.Err, "%s git-lode serve: %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, args...))
		}
	}
	ds, err := a.openDataSource(ctx, r, f.remote, cacheSize)
	if err != nil {
		return err
	}
	defer ds.close()
	lfsFiles := a.lfsFiles(r)
	defer lfsFiles.close()
	trees, err := commitfs.NewTrees(commitfs.Options{Objects: live, Files: commitfs.SourceFiles(ds.src), Foreign: lfsFiles, Logf: logf, ReadTimeout: f.readTimeout})
	if err != nil {
		return err
	}
	h, err := serve.NewHandler(serve.Options{Trees: trees, Revisions: revisions, Logf: logf, MaxRequests: f.maxRequests})
	if err != nil {
		return err
	}
	ln, url, err := a.serveListen(f.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.stdinLife {
		var cancel context.CancelFunc
		sigCtx, cancel = context.WithCancel(sigCtx)
		defer cancel()
		go func() {
			_, _ = io.Copy(io.Discard, a.io.In)
			cancel()
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintln(a.io.Out, url)
	if fl, ok := a.io.Out.(interface{ Sync() error }); ok {
		_ = fl.Sync()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", f.addr, err)
	case <-sigCtx.Done():
	}
	logf("stopping: waiting for the requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	if strings.HasPrefix(f.addr, "unix:") {
		os.Remove(strings.TrimPrefix(f.addr, "unix:"))
	}
	return nil
}

// serveListen listens on addr (HOST:PORT or unix:PATH) and returns the
// URL to print.
func (a *app) serveListen(addr string) (net.Listener, string, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, "", usageError("--addr unix:PATH: the path is empty")
		}
		if fi, err := os.Lstat(path); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return nil, "", fmt.Errorf("listen on %s: a file that is not a socket is there", path)
			}
			if c, err := net.Dial("unix", path); err == nil {
				c.Close()
				return nil, "", fmt.Errorf("listen on %s: another server is listening there", path)
			}
			os.Remove(path) // a socket left by a server that is gone
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, "", fmt.Errorf("listen on %s: %w", path, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			return nil, "", fmt.Errorf("listen on %s: %w", path, err)
		}
		return ln, "unix:" + path, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", usageError("--addr %q: want HOST:PORT (such as 127.0.0.1:8417) or unix:PATH", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(a.io.Err, "lode: warning: serving on %s: anyone who can reach it can read every revision served\n", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, "http://" + ln.Addr().String() + "/", nil
}

// serveRevisions resolves the revisions of URLs: only the pinned ones
// (resolved at start) if any, else any, at each request.
type serveRevisions struct {
	live   *liveRepo
	pinned map[string]serve.Commit // nil: any revision
	names  []string

	mu      sync.Mutex // guards the caches below
	commits map[commitfs.Hash]serve.Commit
	revs    map[string]resolvedRev
}

// resolvedRev is a revision resolved at a time: reading references costs
// file system lookups, so a name is read again only revTTL after.
type resolvedRev struct {
	id commitfs.Hash
	at time.Time
}

// Bounds of serveRevisions' caches: a commit's tree and time never
// change; a name is resolved again after revTTL. A cache that reaches
// maxResolved entries starts again empty.
const (
	revTTL      = time.Second
	maxResolved = 4096
)

func (s *serveRevisions) List() []string { return s.names }

func (s *serveRevisions) Resolve(ctx context.Context, rev string) (serve.Commit, error) {
	if s.pinned != nil {
		c, ok := s.pinned[rev]
		if !ok {
			return serve.Commit{}, fmt.Errorf("%w: not one of the revisions served (%s)", serve.ErrUnknownRevision, strings.Join(s.names, ", "))
		}
		return c, nil
	}
	return s.resolve(rev)
}

// resolve resolves rev through the repository, opening it again once if
// rev is not found (a commit made since the server started).
func (s *serveRevisions) resolve(rev string) (serve.Commit, error) {
	c, err := s.resolveIn(rev)
	if err != nil && errors.Is(err, serve.ErrUnknownRevision) && s.live.reopen() {
		c, err = s.resolveIn(rev)
	}
	return c, err
}

func (s *serveRevisions) resolveIn(rev string) (serve.Commit, error) {
	now := time.Now()
	s.mu.Lock()
	if r, ok := s.revs[rev]; ok && now.Sub(r.at) < revTTL {
		if c, ok := s.commits[r.id]; ok {
			s.mu.Unlock()
			return c, nil
		}
	}
	s.mu.Unlock()
	gr, release := s.live.acquire()
	defer release()
	h, err := gr.Resolve(rev)
	if err != nil {
		if errors.Is(err, gitrepo.ErrUnknownRevision) {
			return serve.Commit{}, unknownRevError{err}
		}
		return serve.Commit{}, err
	}
	s.mu.Lock()
	c, ok := s.commits[commitfs.Hash(h)]
	s.mu.Unlock()
	if !ok {
		if c, err = commitOf(gr, h); err != nil {
			return serve.Commit{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.commits) >= maxResolved || s.commits == nil {
		s.commits = map[commitfs.Hash]serve.Commit{}
	}
	if len(s.revs) >= maxResolved || s.revs == nil {
		s.revs = map[string]resolvedRev{}
	}
	s.commits[c.ID] = c
	s.revs[rev] = resolvedRev{c.ID, now}
	return c, nil
}

// commitOf reads commit h's tree and time.
func commitOf(gr *gitrepo.Repo, h plumbing.Hash) (serve.Commit, error) {
	root, err := gr.CommitTree(h)
	if err != nil {
		return serve.Commit{}, fmt.Errorf("%w: %s: not a commit of this repository: %v", serve.ErrUnknownRevision, h, err)
	}
	when, err := gr.CommitTime(h)
	if err != nil {
		return serve.Commit{}, err
	}
	return serve.Commit{ID: commitfs.Hash(h), Root: commitfs.Hash(root), Time: when}, nil
}

// unknownRevError is gitrepo's unknown revision as serve's.
type unknownRevError struct{ err error }

func (e unknownRevError) Error() string        { return e.err.Error() }
func (e unknownRevError) Unwrap() error        { return e.err }
func (e unknownRevError) Is(target error) bool { return target == serve.ErrUnknownRevision }

// liveRepo is the repository a long-running server reads: it is opened
// again (at most once a second) when a revision is not found, since a
// gitrepo.Repo does not see objects written after its first lookup. A
// Repo is closed once the last read that uses it is done. It is the
// commitfs.Objects of the server.
type liveRepo struct {
	dir string

	mu       sync.Mutex // guards the fields below
	cur      *liveRef
	reopened time.Time
}

type liveRef struct {
	r    *gitrepo.Repo
	refs int  // reads in flight
	old  bool // replaced: close when refs drops to 0
}

func (a *app) openLiveRepo(r *repo) (*liveRepo, error) {
	dir := r.objectsDir()
	gr, err := gitrepo.Open(dir)
	if err != nil {
		return nil, err
	}
	return &liveRepo{dir: dir, cur: &liveRef{r: gr}}, nil
}

// acquire returns the current Repo and the function to call when done
// with it.
func (l *liveRepo) acquire() (*gitrepo.Repo, func()) {
	l.mu.Lock()
	ref := l.cur
	ref.refs++
	l.mu.Unlock()
	return ref.r, func() {
		l.mu.Lock()
		ref.refs--
		last := ref.old && ref.refs == 0
		l.mu.Unlock()
		if last {
			ref.r.Close()
		}
	}
}

// reopen opens the repository again, unless that was done less than a
// second ago; it reports whether it did.
func (l *liveRepo) reopen() bool {
	l.mu.Lock()
	if time.Since(l.reopened) < time.Second {
		l.mu.Unlock()
		return false
	}
	l.reopened = time.Now()
	l.mu.Unlock()
	gr, err := gitrepo.Open(l.dir)
	if err != nil {
		return false
	}
	l.mu.Lock()
	old := l.cur
	l.cur = &liveRef{r: gr}
	old.old = true
	idle := old.refs == 0
	l.mu.Unlock()
	if idle {
		old.r.Close()
	}
	return true
}

func (l *liveRepo) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cur.old = true
	if l.cur.refs == 0 {
		l.cur.r.Close()
	}
}

func (l *liveRepo) ReadTree(ctx context.Context, h commitfs.Hash) ([]commitfs.Entry, error) {
	gr, release := l.acquire()
	defer release()
	return gitObjects{gr}.ReadTree(ctx, h)
}

func (l *liveRepo) BlobHead(ctx context.Context, h commitfs.Hash, max int64) (int64, []byte, error) {
	gr, release := l.acquire()
	defer release()
	return gr.BlobHead(plumbing.Hash(h), max)
}

func (l *liveRepo) ReadBlob(ctx context.Context, h commitfs.Hash) ([]byte, error) {
	gr, release := l.acquire()
	defer release()
	return gr.ReadBlob(plumbing.Hash(h))
}
