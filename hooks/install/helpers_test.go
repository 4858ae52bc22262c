package install

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain isolates every git process the tests start, including those
// RunChained starts with the inherited environment, from the user's and
// the machine's configuration.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if _, err := exec.LookPath("git"); err != nil {
		fmt.Println("skipping: git not found on PATH:", err)
		return 0
	}
	home, err := os.MkdirTemp("", "lode-install-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(home)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GIT_") {
			os.Unsetenv(k)
		}
	}
	for k, v := range map[string]string{
		"HOME":                home,
		"XDG_CONFIG_HOME":     filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM": "1",
		"GIT_CONFIG_SYSTEM":   filepath.Join(home, "system-gitconfig"),
		"GIT_CONFIG_GLOBAL":   filepath.Join(home, "global-gitconfig"),
		"GIT_AUTHOR_NAME":     "Test",
		"GIT_AUTHOR_EMAIL":    "test@example.com",
		"GIT_COMMITTER_NAME":  "Test",
		"GIT_COMMITTER_EMAIL": "test@example.com",
	} {
		os.Setenv(k, v)
	}
	return m.Run()
}

// scratch gives a test its own global and system config files, passed to
// install through Options.Env.
type scratch struct {
	t      *testing.T
	global string
	system string
	env    []string
}

func newScratch(t *testing.T) *scratch {
	t.Helper()
	d := t.TempDir()
	s := &scratch{t: t, global: filepath.Join(d, "global"), system: filepath.Join(d, "system")}
	s.env = []string{"GIT_CONFIG_GLOBAL=" + s.global, "GIT_CONFIG_SYSTEM=" + s.system}
	return s
}

// git runs git in dir with the scratch environment and returns its trimmed
// output; it fails the test if git fails.
func (s *scratch) git(dir string, args ...string) string {
	s.t.Helper()
	out, err := s.try(dir, args...)
	if err != nil {
		s.t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (s *scratch) try(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), s.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

// repo creates a repository with one commit and returns its directory.
func (s *scratch) repo() string {
	s.t.Helper()
	dir := filepath.Join(s.t.TempDir(), "repo")
	s.git("", "init", "-q", "-b", "main", dir)
	s.git(dir, "commit", "-q", "--allow-empty", "-m", "first")
	return dir
}

func (s *scratch) opts(dir string, scope Scope, hooks bool) Options {
	return Options{Dir: dir, Scope: scope, Hooks: hooks, Env: s.env}
}

// configValues returns the values of key in one scope ("--local", ...).
func (s *scratch) configValues(dir, scope, key string) []string {
	s.t.Helper()
	out, err := s.try(dir, "config", scope, "--get-all", key)
	if err != nil {
		return nil
	}
	return strings.Split(out, "\n")
}

func wantValues(command string) map[string]string {
	return map[string]string{
		"filter.lode.process":  command + " filter-process",
		"filter.lode.clean":    command + " clean -- %f",
		"filter.lode.smudge":   command + " smudge -- %f",
		"filter.lode.required": "true",

		"filter.lode-above.process":  command + " filter-process --size-rule",
		"filter.lode-above.clean":    command + " clean --size-rule -- %f",
		"filter.lode-above.smudge":   command + " smudge --size-rule -- %f",
		"filter.lode-above.required": "true",
	}
}

// checkConfig fails unless scope holds exactly lode's values.
func (s *scratch) checkConfig(dir, scope, command string) {
	s.t.Helper()
	for k, v := range wantValues(command) {
		if got := s.configValues(dir, scope, k); len(got) != 1 || got[0] != v {
			s.t.Errorf("%s %s = %q, want %q", scope, k, got, v)
		}
	}
}

func whats(cs []Change) string {
	var w []string
	for _, c := range cs {
		w = append(w, c.What)
	}
	return strings.Join(w, ",")
}

func mustInstall(t *testing.T, o Options) []Change {
	t.Helper()
	cs, err := Install(context.Background(), o)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	return cs
}

func mustUninstall(t *testing.T, o Options) []Change {
	t.Helper()
	cs, err := Uninstall(context.Background(), o)
	if err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	return cs
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mode(t *testing.T, name string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}
