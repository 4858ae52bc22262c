package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// gitBashShim makes 'git lode <TAB>' complete like 'git-lode <TAB>'. git's
// own bash completion handles 'git NAME ...' for a command it does not know
// by calling _git_NAME, after loading the completion file of git-NAME (so
// this shim must be in the same file as the rest). It hands cobra's
// completion functions the words after "lode", as if 'git-lode' had been
// typed; git's completion has already set words, cword, cur and prev the
// way cobra's expect (split at spaces only, not at '=' or ':').
const gitBashShim = `
# 'git lode ...': git's completion calls _git_lode (git-completion.bash).
_git_lode()
{
    local lode_i=${__git_cmd_idx-}
    if [[ -z $lode_i ]]; then
        # git older than 2.32: find the word "lode".
        for ((lode_i = 1; lode_i < cword; lode_i++)); do
            [[ ${words[lode_i]} == lode ]] && break
        done
    fi
    local -a lode_words=(git-lode "${words[@]:lode_i+1:cword-lode_i}")
    local words cword=$((cword - lode_i)) out directive
    words=("${lode_words[@]}")
    COMPREPLY=()
    __git-lode_get_completion_results
    __git-lode_process_completion_results
}
`

func (a *app) completionCommand() *cobra.Command {
	var noDesc bool
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script for git-lode (bash, zsh or fish)",
		Long: `Prints a script that makes the shell complete git-lode's commands, flags and
arguments. 'make install' installs them where the shells look (bash:
PREFIX/share/bash-completion/completions/git-lode, zsh:
PREFIX/share/zsh/site-functions/_git-lode, fish:
PREFIX/share/fish/vendor_completions.d/git-lode.fish).

The bash script completes both 'git-lode ...' and 'git lode ...' (through
git's own bash completion, which calls _git_lode); bash needs the
bash-completion package to load it by itself. To try it in the current
shell:

  source <(git lode completion bash)

fish completes 'git lode ...' from the fish script by itself; zsh completes
'git-lode ...'.`,
		ValidArgs:             []string{"bash", "zsh", "fish"},
		DisableFlagsInUseLine: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("name one shell: bash, zsh or fish")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeCompletion(cmd.Root(), args[0], !noDesc, a.io.Out)
		},
	}
	cmd.Flags().BoolVar(&noDesc, "no-descriptions", false, "complete without a description of each choice")
	return cmd
}

// writeCompletion writes root's completion script for shell to w.
func writeCompletion(root *cobra.Command, shell string, desc bool, w io.Writer) error {
	switch shell {
	case "bash":
		if err := root.GenBashCompletionV2(w, desc); err != nil {
			return err
		}
		_, err := io.WriteString(w, gitBashShim)
		return err
	case "zsh":
		if desc {
			return root.GenZshCompletion(w)
		}
		return root.GenZshCompletionNoDesc(w)
	case "fish":
		return root.GenFishCompletion(w, desc)
	}
	return usageError("unknown shell %q: bash, zsh or fish", shell)
}
