package cli

import (
	"bytes"
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
				return fmt.Errorf("pre-push: read refs from git: %w", err)
			}
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			dir := r.workTree
			if dir == "" {
				dir = r.gitDir
			}
			if err := a.prePush(cmd, r, args, stdin); err != nil {
				return err
			}
			return install.RunChained(ctx, dir, "pre-push", args, stdin, a.io.Out, a.io.Err)
		},
	})
	return cmd
}

// prePush is lode's part of the pre-push hook. Without remotes (a later
// stage of lode) there is nothing to upload; it checks the hook input so
// that a malformed call is reported.
func (a *app) prePush(cmd *cobra.Command, r *repo, args []string, stdin []byte) error {
	for _, line := range bytes.Split(bytes.TrimSpace(stdin), []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		if f := bytes.Fields(line); len(f) != 4 {
			return fmt.Errorf("pre-push: unexpected input line %q from git", line)
		}
	}
	return nil
}
