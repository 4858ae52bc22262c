package cli

import (
	"errors"
	"fmt"

	"github.com/lodevcs/lode/hooks/install"
	"github.com/spf13/cobra"
)

type installFlags struct {
	global, system, local bool
	force, skipHooks      bool
}

func (f *installFlags) add(cmd *cobra.Command, force bool) {
	cmd.Flags().BoolVar(&f.local, "local", false, "use the repository's .git/config (the default)")
	cmd.Flags().BoolVar(&f.global, "global", false, "use your ~/.gitconfig, for every repository")
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
	case f.global:
		o.Scope = install.ScopeGlobal
	case f.system:
		o.Scope = install.ScopeSystem
	default:
		o.Scope = install.ScopeLocal
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
		Short: "Configure the lode filter and hooks (this repository by default)",
		Long: `Sets filter.lode.process, .clean, .smudge and .required in git's config (the
repository's by default, or --global / --system), and installs lode's hooks
(pre-push) in the current repository. A hook you already had is kept and
run after lode's (renamed to NAME.lode-chained). Safe to run again: it only
changes what is missing or outdated, and says what it changed.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := a.installOptions(cmd, &f)
			if err != nil {
				return err
			}
			changes, err := install.Install(cmd.Context(), o)
			if err != nil {
				switch {
				case errors.Is(err, install.ErrNotRepo):
					return fmt.Errorf("%w; run it inside a repository, or use --global", err)
				case errors.Is(err, install.ErrConflict):
					return fmt.Errorf("%w\nif the filter named 'lode' there is not yours to keep, run 'git lode install --force'", err)
				}
				return err
			}
			a.printChanges(changes, fmt.Sprintf("lode is already installed (%s config)", o.Scope))
			if len(changes) > 0 {
				fmt.Fprintf(a.io.Out, "lode installed (%s config). Next: git lode track \"*.csv\"\n", o.Scope)
			}
			return nil
		},
	}
	f.add(cmd, true)
	return cmd
}

func (a *app) uninstallCommand() *cobra.Command {
	var f installFlags
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what 'git lode install' set; data in the store is left alone",
		Long: `Unsets the filter.lode settings that hold lode's values (in the repository's
config by default, or --global / --system), removes lode's hooks and puts
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
					return fmt.Errorf("%w; run it inside a repository, or use --global", err)
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
