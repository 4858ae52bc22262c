package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall runs 'make install PREFIX=...' as a user without root
// would (PREFIX=~/.local), then uses what it installed the way git and the
// shells find it: git-lode on PATH, the manual that 'git lode --help' and
// 'git help lode' open (man-db derives PREFIX/share/man from PATH), the
// bash completion for 'git-lode' and 'git lode', and 'make uninstall'.
func TestMakeInstall(t *testing.T) {
	for _, tool := range []string{"make", "git", "man", "bash"} {
		requireTool(t, tool)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	prefix := filepath.Join(home, ".local")
	mk := func(target string) {
		t.Helper()
		cmd := exec.Command("make", "--no-print-directory", target, "PREFIX="+prefix)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	mk("install")

	for _, f := range []string{
		"bin/git-lode",
		"share/man/man1/git-lode.1",
		"share/man/man1/git-lode-push.1",
		"share/man/man1/git-lode-verify.1",
		"share/bash-completion/completions/git-lode",
		"share/zsh/site-functions/_git-lode",
		"share/fish/vendor_completions.d/git-lode.fish",
	} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("make install: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(prefix, "share/man/man1/git-lode-hook.1")); err == nil {
		t.Errorf("make install wrote a page for the hidden hook command")
	}

	// The environment of a new terminal: the installed binary, not the
	// test's, on PATH; no MANPATH (man-db derives it from PATH).
	env := []string{
		"PATH=" + filepath.Join(prefix, "bin") + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + filepath.Join(home, ".gitconfig"),
		"MANPAGER=cat", "PAGER=cat", "MANWIDTH=100",
		"LANG=C", "LC_ALL=C",
	}
	run := func(extra []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = home
		cmd.Env = append(append([]string{}, env...), extra...)
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}
	want := func(what, out string, subs ...string) {
		t.Helper()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				t.Errorf("%s does not show %q:\n%s", what, s, out)
			}
		}
	}

	manual := []string{"GIT-LODE(1)", "NAME", "git-lode - Version large files", "SYNOPSIS", "COMMANDS", "git lode verify", "git-lode-push(1)"}
	want("man -M PREFIX/share/man git-lode", run(nil, "man", "-M", filepath.Join(prefix, "share/man"), "git-lode"), manual...)
	want("git lode --help (MANPATH from PATH)", run(nil, "git", "lode", "--help"), manual...)
	want("git help lode", run(nil, "git", "help", "lode"), manual...)
	want("git lode --help (MANPATH set)", run([]string{"MANPATH=" + filepath.Join(prefix, "share/man")}, "git", "lode", "--help"), manual...)
	want("man git-lode-verify", run(nil, "man", "git-lode-verify"), "git lode verify [REV]", "--all-history", "--remote[=NAME]")
	// A command's --help stays cobra's (git only turns 'git CMD --help' into
	// 'git help CMD'), and says the same as its page.
	want("git lode verify --help", run(nil, "git", "lode", "verify", "--help"), "git-lode verify [REV]", "--all-history")

	// Completion: valid bash, and both 'git-lode <TAB>' and, through git's
	// own completion, 'git lode <TAB>' complete.
	comp := filepath.Join(prefix, "share/bash-completion/completions/git-lode")
	run(nil, "bash", "-n", comp)
	// cobra's script needs _get_comp_words_by_ref, from the bash-completion
	// package or from git's completion, which this test sources.
	const gitComp = "/usr/share/bash-completion/completions/git"
	if _, err := os.Stat(gitComp); err != nil {
		t.Logf("%s missing: completing 'git lode <TAB>' not checked", gitComp)
	} else {
		script := `
complete_words() {
	COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
	"$fn" 2>/dev/null
	echo "$* => ${COMPREPLY[*]}"
}
source "$GITCOMP"
source "$COMP"
fn=__start_git-lode
complete_words git-lode ver
complete_words git-lode verify --all
fn=__git_wrap__git_main
complete_words git lode ver
complete_words git lode verify --all
complete_words git -C . lode pus
`
		out := run([]string{"COMP=" + comp, "GITCOMP=" + gitComp}, "bash", "--norc", "-c", script)
		want("bash completion", out,
			"git-lode ver => verify version", "git-lode verify --all => --all-history",
			"git lode ver => verify version", "git lode verify --all => --all-history", "git -C . lode pus => push")
	}

	mk("uninstall")
	var left []string
	filepath.Walk(prefix, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("make uninstall left %v", left)
	}
}
