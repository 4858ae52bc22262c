package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/lodevcs/lode/cas/store"
	"github.com/lodevcs/lode/remote"
	"github.com/spf13/cobra"
)

// version is set at link time by the Makefile (-X); "dev" otherwise.
var version = "dev"

// app holds what every command shares: the streams and the environment.
// It is created per Main call; commands must not keep state in it between
// runs.
type app struct {
	io   IO
	env  map[string]string
	args []string // the command line, without the program name

	// lenient is set by what git runs (the filter, the pre-push hook):
	// a configuration problem is then a warning, and the command goes on
	// with the settings it can use, so that plain git keeps working.
	lenient bool
	// quiet makes a lenient app keep its configuration warnings to
	// itself (env reports the problems its own way).
	quiet bool

	fetched fetchTally // what a filter process downloaded

	mu     sync.Mutex      // guards the fields below
	warned map[string]bool // warnings printed (each once per process)
}

func newApp(stdio IO, env []string) *app {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return &app{io: stdio, env: m}
}

func (a *app) getenv(k string) string { return a.env[k] }

// warnOnce prints a warning on stderr unless this process printed the
// same one before (the filter reads the configuration more than once).
func (a *app) warnOnce(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.warned[msg] {
		return
	}
	if a.warned == nil {
		a.warned = map[string]bool{}
	}
	a.warned[msg] = true
	if !a.quiet {
		fmt.Fprintf(a.io.Err, "git-lode: warning: %s\n", msg)
	}
}

// configWarning is warnOnce for a configuration problem that a lenient
// command passes over: the command then runs on part of its
// configuration.
func (a *app) configWarning(msg string) {
	a.warnOnce(msg)
}

// envBool reads a boolean environment variable: 1, true, yes, on.
func (a *app) envBool(k string) bool {
	switch strings.ToLower(a.env[k]) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "git-lode",
		Short: "Version large files with plain git: chunked, deduplicated, verified",
		Long: `lode keeps large files (datasets, models) next to code in git. Git stores a
small pointer; the content is cut into content-defined chunks, deduplicated,
compressed and kept in .git/lode.

Set up once, then use git as usual:

  git lode install           # once: the filter for your user, and this repository's hooks
  git lode track "*.csv"     # which files lode handles (.gitattributes)
  git add big.csv && git commit -m data

In every command REV is a commit, branch or tag (default HEAD), and
--remote NAME names a git remote, whose lode remote the command uses
(default: the current branch's remote, or origin). 'git lode COMMAND
--help' prints a command's help; its manual page is git-lode-COMMAND(1).

Exit codes: 0 success, 1 failure, 2 bad usage, 3 verify found problems.`,
		Version:           versionString(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: ExitUsage, err: err}
	})
	root.AddCommand(
		a.installCommand(),
		a.uninstallCommand(),
		a.trackCommand(),
		a.untrackCommand(),
		a.statusCommand(),
		a.envCommand(),
		a.lsFilesCommand(),
		a.diffCommand(),
		a.statsCommand(),
		a.migrateCommand(),
		a.verifyCommand(),
		a.cleanCommand(),
		a.smudgeCommand(),
		a.filterProcessCommand(),
		a.pushCommand(),
		a.fetchCommand(),
		a.pullCommand(),
		a.pruneCommand("prune"),
		a.pruneCommand("gc"),
		a.mountCommand(),
		a.serveCommand(),
		a.umountCommand(),
		a.hookCommand(),
		a.versionCommand(),
		a.completionCommand(),
		a.manCommand(),
	)
	return root
}

func versionString() string {
	v := version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return v + " (pointer lode/2, pack format 1, remote layout 2)"
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.io.Out, "git-lode %s\n", versionString())
			return nil
		},
	}
}

// errNotRepo is returned when a command needs a repository.
var errNotRepo = errors.New("not inside a git repository (run this in a repository, or 'git init' one first)")

// repo describes the repository the command runs in.
type repo struct {
	gitDir    string // .git of this work tree (differs from commonDir in linked worktrees)
	commonDir string // shared .git directory
	workTree  string // "" when bare
	prePush   string // where git looks for the pre-push hook (core.hooksPath honoured)
}

// git runs the git binary in dir with args and returns its stdout. stdin
// may be nil. The error includes git's stderr.
func (a *app) git(ctx context.Context, dir string, stdin []byte, args ...string) ([]byte, error) {
	return a.gitEnv(ctx, dir, nil, stdin, args...)
}

// gitEnv is git with env added to the environment.
func (a *app) gitEnv(ctx context.Context, dir string, env []string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.Bytes(), fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
	}
	return out.Bytes(), nil
}

// findRepo locates the repository around the current directory, honouring
// GIT_DIR and GIT_WORK_TREE as git does.
func (a *app) findRepo(ctx context.Context) (*repo, error) {
	// One git process: every command and every filter start pays for it.
	out, err := a.git(ctx, "", nil, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir", "--is-bare-repository", "--git-path", "hooks/pre-push", "--is-inside-work-tree", "--show-cdup")
	if err != nil {
		if strings.Contains(err.Error(), "not a git repository") {
			return nil, errNotRepo
		}
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 5 { // --show-cdup printed an empty line
		lines = append(lines, "")
	}
	if len(lines) != 6 {
		return nil, fmt.Errorf("git rev-parse printed %q", out)
	}
	r := &repo{gitDir: lines[0], commonDir: lines[1], prePush: lines[3]}
	switch {
	case lines[2] == "true":
	case lines[4] == "true":
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		r.workTree = filepath.Clean(filepath.Join(wd, lines[5]))
		// git reports the top level with symlinks resolved.
		if real, err := filepath.EvalSymlinks(r.workTree); err == nil {
			r.workTree = real
		}
	default: // in the git dir of a work tree, or GIT_WORK_TREE elsewhere
		top, err := a.git(ctx, "", nil, "rev-parse", "--show-toplevel")
		if err == nil {
			r.workTree = strings.TrimSpace(string(top))
		}
	}
	return r, nil
}

// dir is where to run git for r: the work tree, or the git dir when bare.
func (r *repo) dir() string {
	if r.workTree != "" {
		return r.workTree
	}
	return r.gitDir
}

// needWorkTree fails for bare repositories.
func (r *repo) needWorkTree() error {
	if r.workTree == "" {
		return errors.New("this command needs a work tree, and this repository is bare")
	}
	return nil
}

// storeDir is where the local store lives: LODE_STORE_DIR, else the
// configured store.dir (see resolveLocation), else <common dir>/lode. A
// lenient app uses the default when the configured one cannot be, with a
// warning.
func (a *app) storeDir(ctx context.Context, r *repo) (string, error) {
	dir, err := a.configuredStoreDir(ctx, r)
	if err != nil && a.lenient {
		def := filepath.Join(r.commonDir, "lode")
		a.configWarning(fmt.Sprintf("%v; using the default store %s", err, def))
		return def, nil
	}
	return dir, err
}

func (a *app) configuredStoreDir(ctx context.Context, r *repo) (string, error) {
	loc, err := a.storeLocation(ctx, r)
	if err != nil {
		return "", err
	}
	if loc.value == "" {
		return filepath.Join(r.commonDir, "lode"), nil
	}
	dir, err := a.resolveLocation(r, loc)
	if err != nil {
		return "", err
	}
	if _, isURL := urlScheme(dir); isURL {
		return "", fmt.Errorf("%s: the local store is a directory, not %s (a remote goes in remote.url or LODE_REMOTE_URL)", loc.source, remote.RedactURL(dir))
	}
	return dir, nil
}

// openStore opens the local store of r.
func (a *app) openStore(ctx context.Context, r *repo) (*store.Store, error) {
	dir, err := a.storeDir(ctx, r)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(dir, store.Options{PackSize: a.packSize()})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%w (check the permissions of %s, or set LODE_STORE_DIR)", err, dir)
		}
		return nil, err
	}
	return s, nil
}

// packSize is LODE_PACK_SIZE (bytes), the size at which packs are sealed,
// or 0 for the default. Small packs help tests; nobody else needs it.
func (a *app) packSize() int64 {
	var n int64
	if v := a.getenv("LODE_PACK_SIZE"); v != "" {
		fmt.Sscan(v, &n)
	}
	return n
}

// openRepoStore finds the repository and opens its local store; the
// caller closes the store.
func (a *app) openRepoStore(ctx context.Context) (*repo, *store.Store, error) {
	r, err := a.findRepo(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := a.openStore(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return r, s, nil
}
