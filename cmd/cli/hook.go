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
	return cmd
}
