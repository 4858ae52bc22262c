package gitrepo

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

// CatFile is a running `git cat-file --batch-command`: it reads blobs by
// id through git itself, one request at a time, holding nothing per
// object (git maps its packs). A reader of many objects once each (the
// pointers of a million-file checkout) keeps its memory flat this way,
// where go-git would build an in-memory index of the pack and cache what
// it decoded. Its methods are not safe for concurrent use.
type CatFile struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

// StartCatFile starts `git cat-file --batch-command` in dir. The caller
// closes it.
func StartCatFile(ctx context.Context, dir string) (*CatFile, error) {
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch-command")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	c := &CatFile{cmd: cmd}
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
func (c *CatFile) header(command, id string) (int64, error) {
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

// Size returns the size of blob id.
func (c *CatFile) Size(ctx context.Context, id string) (int64, error) {
	return c.header("info", id)
}

// Read returns the content of blob id, which must be at most max bytes.
func (c *CatFile) Read(ctx context.Context, id string, max int64) ([]byte, error) {
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

// Stream calls fn with a reader of the content of blob id and its size;
// the reader is valid during the call only.
func (c *CatFile) Stream(ctx context.Context, id string, fn func(io.Reader, int64) error) error {
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

// Close ends the git process.
func (c *CatFile) Close() error {
	c.in.Close()
	err := c.cmd.Wait()
	if err != nil {
		return fmt.Errorf("git cat-file: %w: %s", err, strings.TrimSpace(c.stderr.String()))
	}
	return nil
}
