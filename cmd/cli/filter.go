package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/transfer"

	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/hooks/filter"
	"github.com/lodevcs/lode/hooks/filterproc"
	"github.com/lodevcs/lode/hooks/gitrepo"
	"github.com/lodevcs/lode/hooks/install"
	"github.com/spf13/cobra"
)

// newFilter opens the store of the current repository and returns the
// filter over it, and the repository. The caller closes the store. With
// sizeRule, it is the filter of the size rule (filter=lode-above): files
// below the threshold (track.above) pass through clean unchanged.
//
// What git runs must not break plain git: the app is lenient (a
// configuration problem is a warning), and a file whose data cannot be
// had (no lode remote could be opened, or it lacks the data) is answered
// with its pointer (see leftPointers) instead of failing the checkout.
func (a *app) newFilter(ctx context.Context, sizeRule bool) (*filter.Filter, *repo, *store.Store, error) {
	a.lenient = true
	r, s, err := a.openRepoStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	f := &filter.Filter{Store: s, SkipSmudge: a.envBool("GIT_LODE_SKIP_SMUDGE"), LFS: a.lfsSource(r)}
	if sizeRule {
		f.PassBelow = a.sizeRuleThreshold(ctx, r)
	}
	rem := a.lazyRemote(r, s)
	f.Fetch = func(ctx context.Context, ps []pointer.Pointer) error {
		r, err := rem(ctx)
		if err != nil {
			return &remoteOpenError{err}
		}
		st, err := transfer.Fetch(ctx, s, r, ps, transfer.Options{})
		a.fetched.add(st)
		return err
	}
	f.Repair = func(ctx context.Context, p pointer.Pointer, id cas.ID) error {
		r, err := rem(ctx)
		if err != nil {
			return err
		}
		w := remotestore.ChunkWant(id)
		if mw, ok := remotestore.ManifestWant(p); ok && mw.ID == id {
			w = mw
		}
		return transfer.Repair(ctx, s, r, []remotestore.Want{w})
	}
	return f, r, s, nil
}

// remoteOpenError is why a smudge could not fetch anything: the lode
// remote could not be opened.
type remoteOpenError struct{ err error }

func (e *remoteOpenError) Error() string {
	return "it is not in the local store, and: " + e.err.Error()
}
func (e *remoteOpenError) Unwrap() error { return e.err }

// defaultSizeRule is the threshold of the size rule when .lode.toml sets
// none, and the size from which 'git lode status' warns about large files
// stored as plain git objects.
const defaultSizeRule = 10 << 20

// sizeRuleThreshold is track.above for the filter of the size rule, or
// defaultSizeRule, with a warning, when it is not set.
func (a *app) sizeRuleThreshold(ctx context.Context, r *repo) int64 {
	cfg, err := a.loadConfig(ctx, r)
	if err == nil && cfg.Track.Above > 0 {
		return cfg.Track.Above
	}
	a.warnOnce(fmt.Sprintf("the size rule (filter=lode-above in .gitattributes) applies, but .lode.toml sets no [track] above; using %s ('git lode track --above SIZE' sets it)", humanBytes(defaultSizeRule)))
	return defaultSizeRule
}

// lazyRemote returns a function that opens the lode remote on first use,
// so that checkouts whose data is local never need one.
func (a *app) lazyRemote(r *repo, s *store.Store) func(context.Context) (*remotestore.Store, error) {
	var once sync.Once
	var rem *remotestore.Store
	var openErr error
	return func(ctx context.Context) (*remotestore.Store, error) {
		once.Do(func() { rem, openErr = a.openRemote(ctx, r, s, "") })
		return rem, openErr
	}
}

func (a *app) cleanCommand() *cobra.Command {
	var sizeRule bool
	cmd := &cobra.Command{
		Use:   "clean [--] [PATH]",
		Short: "Clean one file: content on stdin, pointer on stdout",
		Long: `Reads a file's content on standard input, stores it in the local store and
prints its lode pointer. PATH is only used in messages. Git runs this when
filter.lode.process is not available; it is also handy for debugging. With
--size-rule (the filter=lode-above driver), content smaller than
track.above in .lode.toml is printed unchanged.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, s, err := a.newFilter(cmd.Context(), sizeRule)
			if err != nil {
				return err
			}
			defer s.Close()
			out := bufio.NewWriter(a.io.Out)
			if err := f.Clean(cmd.Context(), a.io.In, out); err != nil {
				return fmt.Errorf("clean %s: %w", pathArg(args), err)
			}
			return out.Flush()
		},
	}
	cmd.Flags().BoolVar(&sizeRule, "size-rule", false, "pass content below track.above through unchanged")
	return cmd
}

func (a *app) smudgeCommand() *cobra.Command {
	var sizeRule bool
	cmd := &cobra.Command{
		Use:   "smudge [--] [PATH]",
		Short: "Smudge one file: pointer on stdin, content on stdout",
		Long: `Reads what git stored for a file on standard input and writes the file's
content. Content that is not a lode pointer passes through unchanged. With
GIT_LODE_SKIP_SMUDGE=1 pointers pass through too; with --size-rule (the
filter=lode-above driver), so does content that only starts like a pointer.
A file whose data is not local and cannot be fetched is written as its
pointer, with a warning that names it (see 'git lode pull'). PATH is only
used in messages.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, r, s, err := a.newFilter(cmd.Context(), sizeRule)
			if err != nil {
				return err
			}
			defer s.Close()
			out := bufio.NewWriterSize(a.io.Out, 1<<20)
			err = f.Smudge(cmd.Context(), a.io.In, out)
			var u *filter.UnavailableError
			var lu *filter.LFSUnavailableError
			switch {
			case errors.As(err, &u):
				err = a.newLeftPointers(r).leave(pathArg(args), u, out)
			case errors.As(err, &lu):
				err = a.newLeftPointers(r).leaveLFS(pathArg(args), lu, out)
			}
			if err != nil {
				return fmt.Errorf("smudge %s: %w", pathArg(args), err)
			}
			return out.Flush()
		},
	}
	cmd.Flags().BoolVar(&sizeRule, "size-rule", false, "the size rule's driver: what only starts like a pointer passes through")
	return cmd
}

// leftPointers is how the filter answers git for a file whose data it
// cannot get: with the pointer itself as the file's content (never any of
// the data), so that the checkout, a clone's included, writes every other
// file and git's index, and 'git lode pull' finds the file later. Each such
// file is named on stderr, with what to do, and recorded in
// <git dir>/lode-unavailable for the post-checkout hook, which names the
// files that still hold their pointers and fails the git command.
type leftPointers struct {
	stderr io.Writer
	record string // the record file; "" without a work tree

	mu    sync.Mutex      // guards fixes, and the writes to stderr and record
	fixes map[string]bool // what-to-do lines printed
}

func (a *app) newLeftPointers(r *repo) *leftPointers {
	l := &leftPointers{stderr: a.io.Err, fixes: map[string]bool{}}
	if r.workTree != "" {
		l.record = leftRecordPath(r)
	}
	return l
}

// leftRecordPath is where the filter records the files it left as
// pointers, per work tree.
func leftRecordPath(r *repo) string { return filepath.Join(r.gitDir, "lode-unavailable") }

// leave writes u's pointer to w as the content of the file at path (from
// the top of the work tree), and reports and records it.
func (l *leftPointers) leave(path string, u *filter.UnavailableError, w io.Writer) error {
	if _, err := w.Write(u.Text); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.stderr, "git-lode: warning: %s (oid %s): left as its lode pointer, since its data could not be fetched: %v\n", path, u.Pointer.OID, u.Err)
	if fix := missingFix(u.Err); !l.fixes[fix] {
		l.fixes[fix] = true
		fmt.Fprintf(l.stderr, "git-lode: %s\n", fix)
	}
	if l.record == "" || path == "" || path == pathArg(nil) {
		return nil
	}
	f, err := os.OpenFile(l.record, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = fmt.Fprintf(f, "%s %s %s\x00", u.Pointer.OID, failureKind(u.Err), path)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(l.stderr, "git-lode: warning: record the files left as pointers: %v\n", err)
	}
	return nil
}

// leaveLFS writes u's Git LFS pointer to w as the content of the file at
// path, as Git LFS does when it cannot download, and says what to do.
func (l *leftPointers) leaveLFS(path string, u *filter.LFSUnavailableError, w io.Writer) error {
	if _, err := w.Write(u.Text); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.stderr, "git-lode: warning: %s: left as its Git LFS pointer (oid %s): %v\n", path, u.Pointer, u.Err)
	const fix = "files from before the move from Git LFS are read from Git LFS's store: run 'git lfs fetch' for that revision, with git-lfs installed"
	if !l.fixes[fix] {
		l.fixes[fix] = true
		fmt.Fprintf(l.stderr, "git-lode: %s\n", fix)
	}
	return nil
}

// reportLeftPointers is lode's part of the post-checkout hook: it reads
// and removes the record of the files the filter left as pointers, names
// those that still hold their pointers, and returns errSilent if there are
// any, so that git checkout, git switch and git clone exit with status 1.
func (a *app) reportLeftPointers(r *repo) error {
	if r.workTree == "" {
		return nil
	}
	path := leftRecordPath(r)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the files left as pointers: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	buf := make([]byte, pointer.MaxLen+1)
	seen := map[string]bool{}
	var still []missingFile
	var kinds []string
	for _, rec := range bytes.Split(b, []byte{0}) {
		// "<oid> <kind> <path>"
		hexOID, rest, _ := bytes.Cut(rec, []byte{' '})
		kind, name, ok := bytes.Cut(rest, []byte{' '})
		if !ok || seen[string(name)] {
			continue
		}
		seen[string(name)] = true
		oid, err := cas.ParseID(string(hexOID))
		if err != nil {
			continue
		}
		if p, ok := readPointerFile(filepath.Join(r.workTree, filepath.FromSlash(string(name))), buf, ""); ok && p.OID == oid {
			still = append(still, missingFile{path: string(name), oid: oid})
			if !slices.Contains(kinds, string(kind)) {
				kinds = append(kinds, string(kind))
			}
		}
	}
	if len(still) == 0 {
		return nil
	}
	fmt.Fprintf(a.io.Err, "git-lode: this checkout left %d file(s) as their lode pointers, without their data:\n", len(still))
	const show = 20
	for i, m := range still {
		if i == show {
			fmt.Fprintf(a.io.Err, "  ... and %d more ('git lode pull' lists them all)\n", len(still)-show)
			break
		}
		fmt.Fprintf(a.io.Err, "  %s (oid %s)\n", m.path, m.oid.Short())
	}
	for _, k := range kinds {
		fmt.Fprintf(a.io.Err, "git-lode: %s\n", kindFix(k))
	}
	return errSilent
}

func pathArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "<stdin>"
}

func (a *app) filterProcessCommand() *cobra.Command {
	var sizeRule bool
	cmd := &cobra.Command{
		Use:   "filter-process",
		Short: "Serve git's long-running filter protocol on stdin/stdout",
		Long: `Git starts this once per command (filter.lode.process) and sends it every
file to clean or smudge over the pkt-line protocol. Not for interactive use.
With --size-rule (filter.lode-above.process), content smaller than
track.above in .lode.toml passes clean unchanged.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, r, s, err := a.newFilter(ctx, sizeRule)
			if err != nil {
				return err
			}
			defer s.Close()
			growPipes(a.io.In, a.io.Out)
			a.ensureHooks(ctx, r)
			// The files of one git command share packs; they are
			// published when full, shortly after git stops sending
			// files, and at the latest when git closes the filter.
			f.Batch = true
			idleCtx, stopIdle := context.WithCancel(ctx)
			go f.FlushWhenIdle(idleCtx, filterIdleFlush, func(err error) {
				fmt.Fprintf(a.io.Err, "git-lode: %v\n", err)
			})
			blobs := &pointerBlobs{dir: r.dir()}
			defer blobs.close()
			prior := a.newLFSPrior(r)
			defer prior.close()
			serveErr := filterproc.Serve(ctx, a.io.In, a.io.Out, procHandler{f, a.newLeftPointers(r), prior}, filterproc.Options{
				Delay:    true,
				Stderr:   a.io.Err,
				SpoolDir: s.TempDir(),
				DelayedContent: func(ctx context.Context, req *filterproc.Request) ([]byte, error) {
					if b, ok := f.DelayedPointer(req.Pathname); ok {
						return b, nil
					}
					return blobs.read(ctx, req.Blob)
				},
			})
			stopIdle()
			f.Wait()
			if err := f.Flush(context.WithoutCancel(ctx)); err != nil {
				fmt.Fprintf(a.io.Err, "git-lode: error: %v\ngit-lode: the files git just added have no data in the store; fix the problem, then run 'git add --renormalize .'\n", err)
				if serveErr == nil {
					serveErr = errSilent
				}
			}
			a.fetched.report(a)
			return serveErr
		},
	}
	cmd.Flags().BoolVar(&sizeRule, "size-rule", false, "pass content below track.above through clean unchanged")
	return cmd
}

// pointerBlobs reads back, from git, the pointer of a file whose smudge
// was delayed (filterproc.Options.DelayedContent) when the filter no
// longer has it (it keeps those of the files it listed last only). It
// reads through one `git cat-file` process (started at the first read),
// which holds nothing per object either.
type pointerBlobs struct {
	dir string
	mu  sync.Mutex // guards what follows
	cf  *gitrepo.CatFile
	err error
}

func (b *pointerBlobs) read(ctx context.Context, blob string) ([]byte, error) {
	if !plumbing.IsHash(blob) {
		return nil, fmt.Errorf("%q is not an object id", blob)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cf == nil && b.err == nil {
		// Not ctx: the process serves the whole filter session.
		b.cf, b.err = gitrepo.StartCatFile(context.WithoutCancel(ctx), b.dir)
	}
	if b.err != nil {
		return nil, b.err
	}
	// Only pointers are delayed: a larger blob is not the one delayed.
	return b.cf.Read(ctx, blob, pointer.MaxLen)
}

func (b *pointerBlobs) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cf != nil {
		b.cf.Close()
	}
}

// filterIdleFlush is how long the filter process waits without a clean
// request before it publishes what it stored.
const filterIdleFlush = 100 * time.Millisecond

// fetchTally sums what a filter process fetched, for one summary line.
type fetchTally struct {
	mu sync.Mutex // guards st
	st transfer.Stats
}

func (t *fetchTally) add(st transfer.Stats) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.Files += st.Files
	t.st.Chunks += st.Chunks
	t.st.Bytes += st.Bytes
	t.st.Requests += st.Requests
}

// report prints the summary of a filter process that fetched anything.
func (t *fetchTally) report(a *app) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.st.Files == 0 {
		return
	}
	fmt.Fprintf(a.io.Err, "lode: downloaded %d file(s): %d chunk(s), %s, %d request(s)\n", t.st.Files, t.st.Chunks, humanBytes(t.st.Bytes), t.st.Requests)
}

// procHandler adapts filter.Filter to filterproc.Handler.
type procHandler struct {
	f     *filter.Filter
	left  *leftPointers
	prior *lfsPrior
}

func (h procHandler) Clean(ctx context.Context, req *filterproc.Request, r io.Reader, w io.Writer) error {
	return h.prior.clean(ctx, req.Pathname, r, w, func(r io.Reader, w io.Writer) error { return h.f.Clean(ctx, r, w) })
}

// Smudge answers a file whose data cannot be had with its pointer (see
// leftPointers): the checkout goes on, and the file is named.
func (h procHandler) Smudge(ctx context.Context, req *filterproc.Request, r io.Reader, w io.Writer) error {
	err := h.f.Smudge(ctx, r, w)
	var u *filter.UnavailableError
	if errors.As(err, &u) {
		return h.left.leave(req.Pathname, u, w)
	}
	var lu *filter.LFSUnavailableError
	if errors.As(err, &lu) {
		return h.left.leaveLFS(req.Pathname, lu, w)
	}
	return err
}

func (h procHandler) Delay(ctx context.Context, req *filterproc.Request, content []byte) (bool, error) {
	return h.f.Delay(ctx, req.Pathname, content), nil
}

func (h procHandler) Available(ctx context.Context) ([]string, error) {
	return h.f.Available(ctx)
}

// ensureHooks installs lode's hooks in a repository that has none, as
// happens in a clone made with lode configured globally: without the
// pre-push hook, a push from it could send commits without their data.
func (a *app) ensureHooks(ctx context.Context, r *repo) {
	if r.workTree == "" || r.prePush == "" {
		return
	}
	if _, err := os.Lstat(r.prePush); err == nil {
		return
	}
	if _, err := install.Install(ctx, install.Options{Dir: r.workTree, HooksOnly: true}); err != nil {
		fmt.Fprintf(a.io.Err, "git-lode: warning: could not install lode's hooks (run 'git lode install'): %v\n", err)
	}
}
