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
	a.args = args
	if path := a.getenv("LODE_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(stdio.Err, "git-lode: LODE_CPUPROFILE: %v\n", err)
			return ExitError
		}
		defer stop()
	}
	if path := a.getenv("LODE_MEMPROFILE"); path != "" {
		defer startHeapProfile(path)()
	}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	cmd, err := root.ExecuteContextC(ctx)
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
		err = errors.New("interrupted")
		code = 130
	}
	if msg := errorLine(cmd, err); msg != "" {
		fmt.Fprintln(stdio.Err, msg)
		if code == ExitUsage {
			if cmd.HasParent() {
				fmt.Fprintf(stdio.Err, "Run 'git lode %s --help' for usage.\n", commandName(cmd))
			} else {
				fmt.Fprintln(stdio.Err, "Run 'git lode help' for the commands.")
			}
		}
	}
	return code
}

// errorLine is how an error of cmd is shown: once, as
//
//	git-lode: COMMAND: what was being done: cause
//
// where COMMAND is the command that ran ("ls-files", "hook pre-push"), left
// out for the program itself, and when the message already starts with it
// ("untrack needs at least one pattern"). Errors say what failed and why;
// neither the program's nor the command's name belongs in them. "" for
// errors that need no message (errSilent).
func errorLine(cmd *cobra.Command, err error) string {
	msg := err.Error()
	if msg == "" {
		return ""
	}
	if cmd == nil {
		return "git-lode: " + msg
	}
	// cobra's own errors name the command they are about: 'unknown
	// command "x" for "git-lode"'.
	msg = strings.Replace(msg, fmt.Sprintf(" for %q", cmd.CommandPath()), "", 1)
	name := commandName(cmd)
	if name == "" || strings.HasPrefix(msg, name+" ") || strings.HasPrefix(msg, name+":") {
		return "git-lode: " + msg
	}
	return "git-lode: " + name + ": " + msg
}

// commandName is cmd's name as typed after 'git lode' ("push", "hook
// pre-push"), "" for the program itself.
func commandName(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return ""
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
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
			return usageError("takes at most %d argument(s), got %d: %s", n, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// deprecated warns that old is a spelling that still works but will go,
// and says what to write instead.
func (a *app) deprecated(old, now string) {
	fmt.Fprintf(a.io.Err, "git-lode: warning: '%s' is deprecated: write '%s'\n", old, now)
}
