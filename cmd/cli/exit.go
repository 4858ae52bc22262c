package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes. Scripts may rely on them.
const (
	ExitOK       = 0 // success
	ExitError    = 1 // the command failed; the message says why and what to do
	ExitUsage    = 2 // bad command line: unknown command or flag, wrong arguments
	ExitProblems = 3 // verify found damaged or missing data
)

// exitError carries an exit code other than ExitError.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// errSilent is returned by commands that already printed their report and
// only need a non-zero exit code.
var errSilent = errors.New("")

// IO is where a command reads and writes.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Stdio returns the process's standard streams.
func Stdio() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// Main runs git-lode with args (without the program name) and returns the
// exit code. env is the environment, as from os.Environ.
func Main(ctx context.Context, args []string, stdio IO, env []string) int {
	a := newApp(stdio, env)
	if path := a.getenv("LODE_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stdio.Err, "git-lode: LODE_CPUPROFILE: %v\n", err)
			return ExitError
		}
		defer stop()
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitError
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if isUsage(err) {
		code = ExitUsage
	}
	if ctx.Err() != nil && code == ExitError {
		fmt.Fprintln(stdio.Err, "git-lode: interrupted")
		return 130
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stdio.Err, "git-lode: %s\n", msg)
		if code == ExitUsage {
			fmt.Fprintln(stdio.Err, "Run 'git lode --help' for usage.")
		}
	}
	return code
}

// isUsage recognises cobra's own command-line errors.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "if any flags in the group"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// maxArgs returns a usage error (exit code 2) for too many arguments.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}
