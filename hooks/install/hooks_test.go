package install

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// userHook is a pre-push hook a user might have: it records its arguments,
// its standard input and its working directory next to itself, and prints
// a line.
const userHook = `#!/bin/sh
d=$(dirname "$0")
printf '%s\n' "$@" > "$d/user-args"
cat > "$d/user-stdin"
pwd > "$d/user-pwd"
echo "user hook ran"
exit ${USER_HOOK_EXIT:-0}
`

func TestHookInstallChainRestore(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	hooks := filepath.Join(dir, ".git", "hooks")
	hook := filepath.Join(hooks, "pre-push")
	if err := os.WriteFile(hook, []byte(userHook), 0o750); err != nil {
		t.Fatal(err)
	}
	os.Chmod(hook, 0o750)
	o := s.opts(dir, ScopeLocal, true)

	cs := mustInstall(t, o)
	if whats(cs) != "set,set,set,set,set,set,set,set,hook,hook" || !strings.Contains(cs[8].Detail, "pre-push.lode-chained") {
		t.Errorf("Install changes = %v, want eight sets, a chained hook and a new one", cs)
	}
	if got := readFile(t, hook+ChainedSuffix); string(got) != userHook {
		t.Errorf("chained hook = %q, want the user's", got)
	}
	if m := mode(t, hook+ChainedSuffix); m.Perm() != 0o750 {
		t.Errorf("chained hook mode = %v, want 0750", m)
	}
	if got := readFile(t, hook); !bytes.Equal(got, hookBody("git-lode", "pre-push")) {
		t.Errorf("pre-push = %q, want lode's hook", got)
	}
	if m := mode(t, hook); m.Perm()&0o111 != 0o111 {
		t.Errorf("lode's hook mode = %v, want executable", m)
	}
	if cs := mustInstall(t, o); len(cs) != 0 {
		t.Errorf("second Install changed %v", cs)
	}
	st, err := Status(context.Background(), o)
	if err != nil || len(st.Hooks) != 2 || st.Hooks[0].Kind != Current || !st.Hooks[0].Chained || st.HooksDir != hooks {
		t.Errorf("Status = %+v, %v", st, err)
	}

	// RunChained runs the user's hook with the same arguments and input,
	// from the top of the working tree, passing its output through.
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	args := []string{"origin", "https://example.com/repo.git"}
	stdin := []byte("refs/heads/main 1111 refs/heads/main 2222\n")
	var stdout, stderr bytes.Buffer
	if err := RunChained(context.Background(), sub, "pre-push", args, stdin, &stdout, &stderr); err != nil {
		t.Fatalf("RunChained: %v (stderr %q)", err, stderr.String())
	}
	if got := string(readFile(t, filepath.Join(hooks, "user-args"))); got != strings.Join(args, "\n")+"\n" {
		t.Errorf("chained hook saw arguments %q", got)
	}
	if got := readFile(t, filepath.Join(hooks, "user-stdin")); !bytes.Equal(got, stdin) {
		t.Errorf("chained hook saw stdin %q", got)
	}
	if got := strings.TrimSpace(string(readFile(t, filepath.Join(hooks, "user-pwd")))); got != dir {
		t.Errorf("chained hook ran in %q, want %q", got, dir)
	}
	if stdout.String() != "user hook ran\n" {
		t.Errorf("chained hook stdout = %q", stdout.String())
	}
	t.Setenv("USER_HOOK_EXIT", "3")
	err = RunChained(context.Background(), dir, "pre-push", nil, nil, &stdout, &stderr)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("RunChained of a failing hook = %v, want exit status 3", err)
	}

	// Uninstall gives the user's hook back, byte for byte, with its mode.
	cs = mustUninstall(t, o)
	if whats(cs) != "unset,unset,unset,unset,unset,unset,unset,unset,hook,hook,hook" {
		t.Errorf("Uninstall changes = %v", cs)
	}
	if got := readFile(t, hook); string(got) != userHook {
		t.Errorf("restored hook = %q", got)
	}
	if m := mode(t, hook); m.Perm() != 0o750 {
		t.Errorf("restored hook mode = %v, want 0750", m)
	}
	if _, err := os.Lstat(hook + ChainedSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("chained hook still there after Uninstall: %v", err)
	}
	if err := RunChained(context.Background(), dir, "pre-push", nil, nil, &stdout, &stderr); err != nil {
		t.Errorf("RunChained with nothing chained = %v, want nil", err)
	}
}

func TestHookConflict(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	hook := filepath.Join(dir, ".git", "hooks", "pre-push")
	for _, f := range []string{hook, hook + ChainedSuffix} {
		if err := os.WriteFile(f, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Install(context.Background(), s.opts(dir, ScopeLocal, true))
	if !errors.Is(err, ErrHookConflict) || !strings.Contains(err.Error(), "pre-push.lode-chained") {
		t.Fatalf("Install = %v, want ErrHookConflict naming the chained file", err)
	}
	if s.configValues(dir, "--local", "filter.lode.process") != nil {
		t.Error("Install set configuration although the hooks conflict")
	}
	if got := string(readFile(t, hook)); got != "#!/bin/sh\nexit 0\n" {
		t.Errorf("Install changed the user's hook to %q", got)
	}
	// Uninstall leaves a foreign hook and its chained file alone.
	cs := mustUninstall(t, s.opts(dir, ScopeLocal, true))
	if whats(cs) != "warn" {
		t.Errorf("Uninstall changes = %v, want one warning", cs)
	}
}

func TestHookUpgrade(t *testing.T) {
	tests := []struct {
		name string
		body string
		perm os.FileMode
	}{
		{"older version", "#!/bin/sh\n# git-lode hook v0: old\nexec git lode pre-push \"$@\"\n", 0o755},
		{"same body, not executable", string(hookBody("git-lode", "pre-push")), 0o644},
		{"marker further down", "#!/bin/sh\nset -e\n# git-lode hook v7: future\nexit 0\n", 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScratch(t)
			dir := s.repo()
			hook := filepath.Join(dir, ".git", "hooks", "pre-push")
			if err := os.WriteFile(hook, []byte(tt.body), tt.perm); err != nil {
				t.Fatal(err)
			}
			os.Chmod(hook, tt.perm)
			cs := mustInstall(t, s.opts(dir, ScopeLocal, true))
			if whats(cs) != "set,set,set,set,set,set,set,set,hook,hook" || !strings.Contains(cs[8].Detail, "upgraded") {
				t.Errorf("Install changes = %v, want an upgraded hook", cs)
			}
			if got := readFile(t, hook); !bytes.Equal(got, hookBody("git-lode", "pre-push")) {
				t.Errorf("hook = %q", got)
			}
			if m := mode(t, hook).Perm(); m != tt.perm|0o111 {
				t.Errorf("hook mode = %v, want %v", m, tt.perm|0o111)
			}
			if _, err := os.Lstat(hook + ChainedSuffix); err == nil {
				t.Error("lode's own old hook was chained")
			}
			if cs := mustUninstall(t, s.opts(dir, ScopeLocal, true)); whats(cs) != "unset,unset,unset,unset,unset,unset,unset,unset,hook,hook" {
				t.Errorf("Uninstall changes = %v", cs)
			}
			if _, err := os.Lstat(hook); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("hook still there after Uninstall: %v", err)
			}
		})
	}
}

func TestHooksPath(t *testing.T) {
	tests := []struct {
		name      string
		hooksPath func(dir, tmp string) string // core.hooksPath value
		want      func(dir, tmp string) string // where the hook must land
	}{
		{"relative", func(string, string) string { return "githooks" }, func(dir, _ string) string { return filepath.Join(dir, "githooks") }},
		{"absolute", func(_, tmp string) string { return filepath.Join(tmp, "shared-hooks") }, func(_, tmp string) string { return filepath.Join(tmp, "shared-hooks") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScratch(t)
			dir := s.repo()
			tmp := t.TempDir()
			s.git(dir, "config", "core.hooksPath", tt.hooksPath(dir, tmp))
			sub := filepath.Join(dir, "a", "b")
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			mustInstall(t, s.opts(sub, ScopeLocal, true))
			want := filepath.Join(tt.want(dir, tmp), "pre-push")
			if got := readFile(t, want); !bytes.Equal(got, hookBody("git-lode", "pre-push")) {
				t.Errorf("%s = %q", want, got)
			}
			if _, err := os.Lstat(filepath.Join(dir, ".git", "hooks", "pre-push")); err == nil {
				t.Error("hook written to .git/hooks despite core.hooksPath")
			}
			mustUninstall(t, s.opts(sub, ScopeLocal, true))
			if _, err := os.Lstat(want); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("hook still there after Uninstall: %v", err)
			}
		})
	}
}

func TestWorktreeSharesHooks(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	wt := filepath.Join(t.TempDir(), "wt")
	s.git(dir, "worktree", "add", "-q", "-b", "wt", wt)
	mustInstall(t, s.opts(wt, ScopeLocal, true))
	hook := filepath.Join(dir, ".git", "hooks", "pre-push")
	if _, err := os.Stat(hook); err != nil {
		t.Fatalf("hook not in the main repository: %v", err)
	}
	s.checkConfig(dir, "--local", "git-lode")
	// Both worktrees see it installed.
	for _, d := range []string{dir, wt} {
		st, err := Status(context.Background(), s.opts(d, ScopeLocal, true))
		if err != nil || st.Hooks[0].Kind != Current || st.Hooks[0].Path != hook {
			t.Errorf("Status from %s = %+v, %v", d, st, err)
		}
	}
}

// TestHookRunsGitLode runs the installed hook for real, through git push,
// with and without a git-lode on PATH.
func TestHookRunsGitLode(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	remote := filepath.Join(t.TempDir(), "remote.git")
	s.git("", "init", "-q", "--bare", remote)
	s.git(dir, "remote", "add", "origin", remote)
	mustInstall(t, s.opts(dir, ScopeLocal, true))

	bin := t.TempDir()
	record := filepath.Join(bin, "record")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + shellQuote(record) + "\ncat >> " + shellQuote(record) + "\n"
	if err := os.WriteFile(filepath.Join(bin, "git-lode"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	gitDir := filepath.Dir(mustLookPath(t, "git"))

	push := func(path string) (string, error) {
		cmd := exec.Command("git", "push", "-q", "origin", "main")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+path)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := push(gitDir)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "git-lode, which is not on your PATH") || !strings.Contains(out, ".git/hooks/pre-push") {
		t.Errorf("push without git-lode on PATH: exit %d, output %q; want a failure that says why", code, out)
	}
	if _, err := push(bin + string(os.PathListSeparator) + gitDir); err != nil {
		t.Fatalf("push with git-lode on PATH: %v", err)
	}
	head := s.git(dir, "rev-parse", "HEAD")
	want := "hook\npre-push\norigin\n" + remote + "\nrefs/heads/main " + head + " refs/heads/main " + strings.Repeat("0", 40) + "\n"
	if got := string(readFile(t, record)); got != want {
		t.Errorf("git-lode was run with\n%q\nwant\n%q", got, want)
	}
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skip(err)
	}
	return p
}

func TestRunChainedWithoutShebang(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	hook := filepath.Join(dir, ".git", "hooks", "pre-push")
	if err := os.WriteFile(hook, []byte("echo plain \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustInstall(t, s.opts(dir, ScopeLocal, true))
	var out bytes.Buffer
	if err := RunChained(context.Background(), dir, "pre-push", []string{"x"}, nil, &out, &out); err != nil || out.String() != "plain x\n" {
		t.Errorf("RunChained = %v, output %q", err, out.String())
	}
	// A chained hook that is not executable is skipped, as git skips it.
	os.Chmod(hook+ChainedSuffix, 0o644)
	out.Reset()
	if err := RunChained(context.Background(), dir, "pre-push", nil, nil, &out, &out); err != nil || out.Len() != 0 {
		t.Errorf("RunChained of a non-executable hook = %v, output %q", err, out.String())
	}
	if err := RunChained(context.Background(), t.TempDir(), "pre-push", nil, nil, &out, &out); !errors.Is(err, ErrNotRepo) {
		t.Errorf("RunChained outside a repository = %v, want ErrNotRepo", err)
	}
}
