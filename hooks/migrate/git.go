package migrate

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// catFile is a running `git cat-file --batch-command`: Blobs.
type catFile struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

var _ Blobs = (*catFile)(nil)

func (g git) catFile(ctx context.Context) (*catFile, error) {
	c := &catFile{cmd: g.command(ctx, "cat-file", "--batch-command")}
	c.cmd.Stderr = &c.stderr
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReaderSize(out, 64<<10)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	return c, nil
}

// header sends a command and reads the "<id> <type> <size>" answer.
func (c *catFile) header(command, id string) (int64, error) {
	if _, err := fmt.Fprintf(c.in, "%s %s\n", command, id); err != nil {
		return 0, fmt.Errorf("git cat-file: %w: %s", err, strings.TrimSpace(c.stderr.String()))
	}
	l, err := c.out.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("git cat-file: %w: %s", noEOF(err), strings.TrimSpace(c.stderr.String()))
	}
	f := strings.Fields(l)
	if len(f) != 3 || f[1] != "blob" {
		return 0, fmt.Errorf("git cat-file: object %s: %s", id, strings.TrimSpace(l))
	}
	n, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("git cat-file: %q", strings.TrimSpace(l))
	}
	return n, nil
}

func (c *catFile) Size(ctx context.Context, id string) (int64, error) {
	return c.header("info", id)
}

func (c *catFile) Read(ctx context.Context, id string, max int64) ([]byte, error) {
	n, err := c.header("contents", id)
	if err != nil {
		return nil, err
	}
	if n > max {
		// Read past it, so that the next answer lines up.
		if _, err := io.CopyN(io.Discard, c.out, n+1); err != nil {
			return nil, fmt.Errorf("git cat-file: %w", noEOF(err))
		}
		return nil, fmt.Errorf("blob %s is %d bytes, more than %d", id, n, max)
	}
	b := make([]byte, n+1)
	if _, err := io.ReadFull(c.out, b); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", noEOF(err))
	}
	return b[:n], nil
}

func (c *catFile) Stream(ctx context.Context, id string, fn func(io.Reader, int64) error) error {
	n, err := c.header("contents", id)
	if err != nil {
		return err
	}
	lr := &io.LimitedReader{R: c.out, N: n}
	ferr := fn(lr, n)
	// Read what fn left, and the newline, so that the next answer lines up.
	if _, err := io.CopyN(io.Discard, c.out, lr.N+1); err != nil {
		return fmt.Errorf("git cat-file: %w", noEOF(err))
	}
	return ferr
}

func (c *catFile) close() error {
	c.in.Close()
	err := c.cmd.Wait()
	if err != nil {
		return fmt.Errorf("git cat-file: %w: %s", err, strings.TrimSpace(c.stderr.String()))
	}
	return nil
}

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
