// Command floor is a no-op filter-process for the benchmark: it measures
// what git itself costs to check out a large file through a long-running
// filter, so that lode's and Git LFS's checkout times can be read against
// it. It is not part of lode.
//
// The blobs in a floor repository hold the absolute path of a data file.
// Smudge streams that file; clean returns the path of the file named in
// FLOOR_FILES (colon-separated) whose size matches the content, so that
// git sees an unmodified work tree.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lodevcs/lode/hooks/filterproc"
	"golang.org/x/sys/unix"
)

type handler struct{}

func (handler) Clean(ctx context.Context, req *filterproc.Request, r io.Reader, w io.Writer) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	for _, f := range strings.Split(os.Getenv("FLOOR_FILES"), ":") {
		if fi, err := os.Stat(f); err == nil && fi.Size() == n {
			_, err := fmt.Fprintln(w, f)
			return err
		}
	}
	return fmt.Errorf("no file of FLOOR_FILES has %d bytes", n)
}

func (handler) Smudge(ctx context.Context, req *filterproc.Request, r io.Reader, w io.Writer) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f, err := os.Open(string(bytes.TrimSpace(b)))
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(w, f, make([]byte, 1<<20))
	return err
}

func main() {
	// The same pipe size lode asks for.
	_, _ = unix.FcntlInt(os.Stdin.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	_, _ = unix.FcntlInt(os.Stdout.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	if err := filterproc.Serve(context.Background(), os.Stdin, os.Stdout, handler{}, filterproc.Options{Stderr: os.Stderr, Prog: "floor"}); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}
