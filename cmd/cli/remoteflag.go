package cli

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// remoteBare is what pflag gives --remote when it has no value: pflag tells
// "--remote" from "--remote=VALUE" only by the value, so the placeholder
// the help shows, --remote[=NAME], stands for "no name given". (A git
// remote called NAME is still reached as '--remote NAME'.)
const remoteBare = "NAME"

// remoteFlag is --remote[=NAME] of verify and prune: act on the lode remote
// (instead of the local store) of the git remote NAME, or without a name of
// the current branch's remote, or origin. '--remote NAME', with a space, is
// read as the same when NAME is a git remote (see takeRemoteOperand).
type remoteFlag struct {
	on   bool
	name string // the git remote; "" for the default
	bare bool   // the last --remote on the command line had no value
}

func (f *remoteFlag) String() string { return f.name }

// Type is empty so that the help shows --remote[=NAME], not a type.
func (f *remoteFlag) Type() string { return "" }

func (f *remoteFlag) Set(s string) error {
	if s == "" {
		return errors.New("name a git remote, or give --remote alone for the current branch's remote")
	}
	f.on, f.bare, f.name = true, s == remoteBare, s
	if f.bare {
		f.name = ""
	}
	return nil
}

// addRemoteFlag defines --remote[=NAME] on cmd; what says what it acts on.
func (a *app) addRemoteFlag(cmd *cobra.Command, f *remoteFlag, what string) {
	cmd.Flags().Var(f, "remote", what+" the lode remote of git remote NAME (default: the current branch's remote, or origin) instead of the local store")
	cmd.Flags().Lookup("remote").NoOptDefVal = remoteBare
	a.completeGitRemotes(cmd, "remote")
}

// completeGitRemotes makes the shell complete flag with the names of the
// git remotes.
func (a *app) completeGitRemotes(cmd *cobra.Command, flag string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		out, err := a.git(cmd.Context(), "", nil, "remote")
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return strings.Fields(string(out)), cobra.ShellCompDirectiveNoFileComp
	})
}

// remoteArgs allows max positional arguments, and one more after a bare
// --remote (which may be its value, written with a space).
func remoteArgs(f *remoteFlag, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		n := max
		if f.bare {
			n++
		}
		return maxArgs(n)(cmd, args)
	}
}

// takeRemoteOperand reads '--remote NAME', written with a space, as
// '--remote=NAME'. pflag gives a bare --remote its default (it has an
// optional value) and leaves NAME among the positional arguments args; if
// the word right after the last bare --remote on the command line is one
// of them and names a git remote, it is f's name and is taken out of args.
// Otherwise args are returned as they are (for verify, the word is then
// REV: 'verify --remote v1.0' checks v1.0 on the default lode remote).
func (a *app) takeRemoteOperand(ctx context.Context, r *repo, f *remoteFlag, args []string) []string {
	if !f.bare || len(args) == 0 {
		return args
	}
	words := a.args
	if i := slices.Index(words, "--"); i >= 0 {
		words = words[:i] // after "--", "--remote" is an operand too
	}
	last := -1
	for i, w := range words {
		if w == "--remote" {
			last = i
		}
	}
	if last < 0 || last+1 >= len(words) {
		return args
	}
	next := words[last+1]
	j := slices.Index(args, next)
	if j < 0 || !a.isGitRemote(ctx, r, next) {
		return args
	}
	f.name = next
	return slices.Delete(slices.Clone(args), j, j+1)
}

// needGitRemote fails unless name is empty (the default) or a configured
// git remote: a misspelt --remote must not quietly mean another remote.
func (a *app) needGitRemote(ctx context.Context, r *repo, name string) error {
	if name == "" || a.isGitRemote(ctx, r, name) {
		return nil
	}
	return usageError("--remote %s: no such git remote ('git remote -v' lists them)", name)
}
