package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
	"github.com/lodevcs/lode/cas/remotestore"
	"github.com/lodevcs/lode/cas/transfer"

	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/hooks/filter"
	"github.com/lodevcs/lode/hooks/filterproc"
	"github.com/lodevcs/lode/hooks/install"
	"github.com/spf13/cobra"
)

// newFilter opens the store of the current repository and returns the
// filter over it, and the repository. The caller closes the store.
func (a *app) newFilter(ctx context.Context) (*filter.Filter, *repo, *store.Store, error) {
	r, s, err := a.openRepoStore(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	f := &filter.Filter{Store: s, SkipSmudge: a.envBool("GIT_LODE_SKIP_SMUDGE"), LFS: a.lfsSource(r)}
	rem := a.lazyRemote(r, s)
	f.Fetch = func(ctx context.Context, ps []pointer.Pointer) error {
		r, err := rem(ctx)
		if err != nil {
			return fmt.Errorf("it is not in the local store, and: %w", err)
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
	return &cobra.Command{
		Use:   "clean [--] [PATH]",
		Short: "Clean one file: content on stdin, pointer on stdout",
		Long: `Reads a file's content on standard input, stores it in the local store and
prints its lode pointer. PATH is only used in messages. Git runs this when
filter.lode.process is not available; it is also handy for debugging.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, s, err := a.newFilter(cmd.Context())
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
}

func (a *app) smudgeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "smudge [--] [PATH]",
		Short: "Smudge one file: pointer on stdin, content on stdout",
		Long: `Reads what git stored for a file on standard input and writes the file's
content. Content that is not a lode pointer passes through unchanged. With
GIT_LODE_SKIP_SMUDGE=1 pointers pass through too. PATH is only used in
messages.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, _, s, err := a.newFilter(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			out := bufio.NewWriterSize(a.io.Out, 1<<20)
			if err := f.Smudge(cmd.Context(), a.io.In, out); err != nil {
				return fmt.Errorf("smudge %s: %w", pathArg(args), err)
			}
			return out.Flush()
		},
	}
}

func pathArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "<stdin>"
}

func (a *app) filterProcessCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "filter-process",
		Short: "Serve git's long-running filter protocol on stdin/stdout",
		Long: `Git starts this once per command (filter.lode.process) and sends it every
file to clean or smudge over the pkt-line protocol. Not for interactive use.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, r, s, err := a.newFilter(ctx)
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
			serveErr := filterproc.Serve(ctx, a.io.In, a.io.Out, procHandler{f}, filterproc.Options{
				Delay:    true,
				Stderr:   a.io.Err,
				SpoolDir: s.TempDir(),
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
type procHandler struct{ f *filter.Filter }

func (h procHandler) Clean(ctx context.Context, req *filterproc.Request, r io.Reader, w io.Writer) error {
	return h.f.Clean(ctx, r, w)
}

func (h procHandler) Smudge(ctx context.Context, req *filterproc.Request, r io.Reader, w io.Writer) error {
	return h.f.Smudge(ctx, r, w)
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
