package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// git runs git child processes in one directory with one environment.
type git struct {
	dir string   // working directory; "" for the current one
	env []string // extra environment, appended to the inherited one
}

// gitError is a git command that failed; stderr is kept for matching.
type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		return fmt.Sprintf("git %s: %v", strings.Join(e.args, " "), e.err)
	}
	return fmt.Sprintf("git %s: %v: %s", strings.Join(e.args, " "), e.err, msg)
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode returns the exit code of a git process that ran and failed, or
// -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// run runs git with args and returns its standard output. A failure is a
// *gitError.
func (g git) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(append(os.Environ(), g.env...), "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &gitError{args: args, err: err, stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// repo is what install needs to know of the repository containing a
// directory.
type repo struct {
	gitDir   string // absolute
	hooksDir string // absolute, core.hooksPath honoured
	top      string // absolute top of the working tree; "" when bare
}

// findRepo asks git about the repository containing g.dir. It returns an
// error wrapping ErrNotRepo when there is none.
func (g git) findRepo(ctx context.Context) (repo, error) {
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return repo{}, err
	}
	out, err := g.run(ctx, "rev-parse", "--is-bare-repository", "--absolute-git-dir", "--git-path", "hooks", "--show-cdup")
	if err != nil {
		var ge *gitError
		if errors.As(err, &ge) && strings.Contains(ge.stderr, "not a git repository") {
			return repo{}, fmt.Errorf("%s: %w", abs, ErrNotRepo)
		}
		return repo{}, fmt.Errorf("find the repository at %s: %w", abs, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) < 3 {
		return repo{}, fmt.Errorf("find the repository at %s: unexpected git rev-parse output %q", abs, out)
	}
	r := repo{gitDir: lines[1], hooksDir: lines[2]}
	if !filepath.IsAbs(r.hooksDir) {
		r.hooksDir = filepath.Join(abs, r.hooksDir)
	}
	if lines[0] == "false" && len(lines) >= 4 {
		r.top = filepath.Join(abs, lines[3])
	}
	return r, nil
}

// display returns path relative to the top of the working tree when it is
// inside it, for messages.
func (r repo) display(path string) string {
	if r.top != "" {
		if rel, err := filepath.Rel(r.top, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return rel
		}
	}
	return path
}
