package cli

import (
	"fmt"
	"io"

	"github.com/lodevcs/lode/hooks/install"
	"github.com/spf13/cobra"
)

func (a *app) hookCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "hook NAME [ARGS...]",
		Short:  "Entry points for the git hooks that 'git lode install' writes",
		Hidden: true,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "pre-push REMOTE URL",
		Short: "Run by git before a push (reads the refs being pushed on stdin)",
		Long: `Git runs this from .git/hooks/pre-push. Lode's own work runs first; then the
hook that was there before 'git lode install' (pre-push.lode-chained), if
any, gets the same arguments and standard input.`,
		Args:               cobra.ArbitraryArgs,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// git runs this: a configuration problem is a warning, and
			// the hook goes on with what it can use (a commit still
			// never leaves without its data).
			a.lenient = true
			stdin, err := io.ReadAll(a.io.In)
			if err != nil {
				return fmt.Errorf("read refs from git: %w", err)
			}
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			dir := r.workTree
			if dir == "" {
				dir = r.gitDir
			}
			if err := a.prePush(ctx, r, args, stdin); err != nil {
				return err
			}
			return install.RunChained(ctx, dir, "pre-push", args, stdin, a.io.Out, a.io.Err)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "post-checkout PREV NEW FLAG",
		Short: "Run by git after a checkout or a clone: fails it if files were left as pointers",
		Long: `Git runs this from .git/hooks/post-checkout. When lode's filter could not get
the data of files the checkout wrote, it wrote their pointers instead and
recorded them; this names those that still hold their pointers, says what
to do, and exits with status 1, which git checkout, git switch and git
clone then exit with. Then the hook that was there before 'git lode
install' (post-checkout.lode-chained), if any, gets the same arguments.`,
		Args:               cobra.ArbitraryArgs,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			left := a.reportLeftPointers(r)
			if err := install.RunChained(ctx, r.dir(), "post-checkout", args, nil, a.io.Out, a.io.Err); err != nil {
				return err
			}
			return left
		},
	})
	return cmd
}
