package migrate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/lodevcs/lode/hooks/gitrepo"
)

// git runs git child processes in one directory.
type git struct{ dir string }

func (g git) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// run runs git with args and stdin (nil for none) and returns its
// standard output; the error has its standard error.
func (g git) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := g.command(ctx, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, gitErr(ctx, args, err, &errb)
	}
	return out.Bytes(), nil
}

func gitErr(ctx context.Context, args []string, err error, stderr *bytes.Buffer) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	msg := strings.TrimSpace(stderr.String())
	if len(args) > 2 {
		args = args[:2]
	}
	if msg == "" {
		return fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, msg)
}

// catFile starts a `git cat-file --batch-command` in g's directory.
func (g git) catFile(ctx context.Context) (*gitrepo.CatFile, error) {
	return gitrepo.StartCatFile(ctx, g.dir)
}

var _ Blobs = (*gitrepo.CatFile)(nil)

// refs returns every ref and the object it points at.
func (g git) refs(ctx context.Context, prefix string) (map[string]string, error) {
	args := []string{"for-each-ref", "--format=%(objectname) %(refname)"}
	if prefix != "" {
		args = append(args, prefix)
	}
	out, err := g.run(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if id, ref, ok := strings.Cut(l, " "); ok {
			m[ref] = id
		}
	}
	return m, nil
}

// dropTemp deletes the refs under TempPrefix (left by a migration that
// stopped).
func (g git) dropTemp(ctx context.Context) error {
	refs, err := g.refs(ctx, TempPrefix)
	if err != nil || len(refs) == 0 {
		return err
	}
	var b strings.Builder
	for ref := range refs {
		fmt.Fprintf(&b, "delete %s\n", ref)
	}
	_, err = g.run(ctx, []byte(b.String()), "update-ref", "--stdin")
	return err
}
