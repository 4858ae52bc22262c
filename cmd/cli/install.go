package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/lodevcs/lode/hooks/install"
	"github.com/spf13/cobra"
)

type installFlags struct {
	global, system, local bool
	force, skipHooks      bool
}

func (f *installFlags) add(cmd *cobra.Command, force bool) {
	cmd.Flags().BoolVar(&f.local, "local", false, "use the repository's .git/config only")
	cmd.Flags().BoolVar(&f.global, "global", false, "use your ~/.gitconfig, for every repository (the default)")
	cmd.Flags().BoolVar(&f.system, "system", false, "use the machine's git config")
	cmd.MarkFlagsMutuallyExclusive("local", "global", "system")
	cmd.Flags().BoolVar(&f.skipHooks, "skip-hooks", false, "leave the repository's hooks alone")
	if force {
		cmd.Flags().BoolVarP(&f.force, "force", "f", false, "replace filter.lode settings that are not lode's")
	}
}

// options turns flags into install options. Hooks go into the current
// repository whatever the scope, unless --skip-hooks or outside one.
func (a *app) installOptions(cmd *cobra.Command, f *installFlags) (install.Options, error) {
	o := install.Options{Force: f.force, Hooks: !f.skipHooks}
	switch {
	case f.local:
		o.Scope = install.ScopeLocal
	case f.system:
		o.Scope = install.ScopeSystem
	default:
		o.Scope = install.ScopeGlobal
	}
	if o.Scope != install.ScopeLocal && o.Hooks {
		if _, err := a.findRepo(cmd.Context()); errors.Is(err, errNotRepo) {
			o.Hooks = false
		}
	}
	return o, nil
}

func (a *app) installCommand() *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Configure the lode filter for your user (or --local) and this repository's hooks",
		Long: `Sets filter.lode.process, .clean, .smudge and .required, and the same for
filter.lode-above (the size rule's driver), in your global git config
(~/.gitconfig) by default, as 'git lfs install' does: every repository you
clone afterwards checks out its lode files' content. --local writes the
current repository's config only, --system the machine's.

Run inside a repository, it also installs lode's hooks (pre-push) there
(not with --skip-hooks); clones made later get theirs from the filter the
first time it runs in them. A hook you already had is kept and run after
lode's (renamed to NAME.lode-chained). Safe to run again: it only changes
what is missing or outdated, and says what it changed.

In a repository whose lode files were checked out before lode was set up
(they hold their pointers), it says so: run 'git lode pull'.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o, err := a.installOptions(cmd, &f)
			if err != nil {
				return err
			}
			changes, err := install.Install(ctx, o)
			if err != nil {
				switch {
				case errors.Is(err, install.ErrNotRepo):
					return fmt.Errorf("%w; run it inside a repository, or leave out --local", err)
				case errors.Is(err, install.ErrConflict):
					return fmt.Errorf("%w\nif the filter named 'lode' there is not yours to keep, run 'git lode install --force'", err)
				}
				return err
			}
			a.printChanges(changes, fmt.Sprintf("lode is already installed (%s config)", o.Scope))
			if len(changes) > 0 {
				fmt.Fprintf(a.io.Out, "lode installed (%s config).\n", o.Scope)
			}
			a.installNext(ctx, o.Scope)
			return nil
		},
	}
	f.add(cmd, true)
	return cmd
}

// installNext says what to do after an install: 'git lode pull' where
// lode files hold their pointers, 'git lode track' where nothing is
// tracked yet.
func (a *app) installNext(ctx context.Context, scope install.Scope) {
	r, err := a.findRepo(ctx)
	if err != nil || r.workTree == "" {
		if scope != install.ScopeLocal {
			fmt.Fprintln(a.io.Out, "Repositories you clone now check out their lode files' content. In a repository: git lode track \"*.csv\"")
		}
		return
	}
	ents, err := a.lodeIndexEntries(ctx, r)
	if err != nil {
		return
	}
	if left := entriesHoldingPointers(r.workTree, ents); len(left) > 0 {
		fmt.Fprintf(a.io.Out, "%d lode file(s) here hold their pointers (checked out before lode was set up): run 'git lode pull'\n", len(left))
		return
	}
	lines, _ := readLines(filepath.Join(r.workTree, ".gitattributes"))
	if len(ents) == 0 && len(trackedPatterns(lines)) == 0 && !hasSizeRule(lines) {
		fmt.Fprintln(a.io.Out, "Next: git lode track \"*.csv\" (or --above 10MiB)")
	}
}

func (a *app) uninstallCommand() *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what 'git lode install' set; data in the store is left alone",
		Long: `Unsets the filter.lode and filter.lode-above settings that hold lode's values
(in your global config by default, or --local / --system), removes lode's
hooks from the current repository and puts
back any hook that install had chained. The local store (.git/lode) and
.gitattributes are not touched; files stay as they are in the work tree.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := a.installOptions(cmd, &f)
			if err != nil {
				return err
			}
			changes, err := install.Uninstall(cmd.Context(), o)
			if err != nil {
				if errors.Is(err, install.ErrNotRepo) {
					return fmt.Errorf("%w; run it inside a repository, or leave out --local", err)
				}
				return err
			}
			a.printChanges(changes, "nothing to remove")
			return nil
		},
	}
	f.add(cmd, false)
	return cmd
}

func (a *app) printChanges(changes []install.Change, none string) {
	if len(changes) == 0 {
		fmt.Fprintln(a.io.Out, none)
		return
	}
	for _, c := range changes {
		fmt.Fprintf(a.io.Out, "%-8s %s\n", c.What, c.Detail)
	}
}
