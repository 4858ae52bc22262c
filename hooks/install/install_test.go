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

func TestInstallScopes(t *testing.T) {
	tests := []struct {
		name  string
		scope Scope
		flag  string
		inDir bool // run from inside the repository
	}{
		{"local", ScopeLocal, "--local", true},
		{"global from a repository", ScopeGlobal, "--global", true},
		{"global from anywhere", ScopeGlobal, "--global", false},
		{"system", ScopeSystem, "--system", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScratch(t)
			dir := s.repo()
			o := s.opts("", tt.scope, false)
			if tt.scope == ScopeSystem {
				s.env = append(s.env, "GIT_CONFIG_NOSYSTEM=0")
				o.Env = s.env
			}
			if tt.inDir {
				o.Dir = dir
			} else {
				o.Dir = t.TempDir()
			}
			cs := mustInstall(t, o)
			if whats(cs) != "set,set,set,set,set,set,set,set" {
				t.Errorf("first Install changes = %v, want eight sets", cs)
			}
			s.checkConfig(dir, tt.flag, "git-lode")
			for _, other := range []string{"--local", "--global", "--system"} {
				if other != tt.flag && s.configValues(dir, other, "filter.lode.process") != nil {
					t.Errorf("Install in %s also wrote %s config", tt.flag, other)
				}
			}
			if cs := mustInstall(t, o); len(cs) != 0 {
				t.Errorf("second Install changed %v, want nothing", cs)
			}
			st, err := Status(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			for _, ss := range st.Settings {
				if ss.Kind != Current || ss.Effective != ss.Want {
					t.Errorf("Status %s = %v (effective %q), want current %q", ss.Key, ss.Kind, ss.Effective, ss.Want)
				}
			}
			// git may drop the emptied section itself (2.39 does).
			if cs := mustUninstall(t, o); strings.ReplaceAll(whats(cs), ",remove-section", "") != "unset,unset,unset,unset,unset,unset,unset,unset" {
				t.Errorf("Uninstall changes = %v", cs)
			}
			if out, _ := s.try(dir, "config", tt.flag, "--list"); strings.Contains(out, "lode") {
				t.Errorf("%s config after Uninstall:\n%s", tt.flag, out)
			}
			if cs := mustUninstall(t, o); len(cs) != 0 {
				t.Errorf("second Uninstall changed %v, want nothing", cs)
			}
		})
	}
}

func TestInstallLocalOutsideRepo(t *testing.T) {
	s := newScratch(t)
	dir := t.TempDir()
	for _, o := range []Options{
		s.opts(dir, ScopeLocal, false),
		s.opts(dir, ScopeGlobal, true),
	} {
		if _, err := Install(context.Background(), o); !errors.Is(err, ErrNotRepo) {
			t.Errorf("Install(%+v) = %v, want ErrNotRepo", o, err)
		}
		if _, err := Uninstall(context.Background(), o); !errors.Is(err, ErrNotRepo) {
			t.Errorf("Uninstall(%+v) = %v, want ErrNotRepo", o, err)
		}
	}
	if _, err := os.Stat(s.global); err == nil {
		t.Error("a failed Install wrote the global config")
	}
	if _, err := Status(context.Background(), s.opts(dir, ScopeLocal, false)); !errors.Is(err, ErrNotRepo) {
		t.Errorf("Status(local) outside a repository = %v, want ErrNotRepo", err)
	}
	st, err := Status(context.Background(), s.opts(dir, ScopeGlobal, false))
	if err != nil || st.Repo != "" || st.Hooks != nil {
		t.Errorf("Status(global) outside a repository = %+v, %v", st, err)
	}
}

func TestInstallConflict(t *testing.T) {
	tests := []struct {
		name      string
		key, val  string
		conflict  bool   // Install without Force fails
		wantWhats string // changes of Install (with Force when conflict)
	}{
		{"foreign clean", "filter.lode.clean", "my-cleaner %f", true, "set,set,set,set,set,set,set,set"},
		{"custom flags", "filter.lode.smudge", "git-lode smudge --verbose -- %f", true, "set,set,set,set,set,set,set,set"},
		{"required off", "filter.lode.required", "false", true, "set,set,set,set,set,set,set,set"},
		{"ours at another path", "filter.lode.process", "/usr/local/bin/git-lode filter-process", false, "set,set,set,set,set,set,set,set"},
		{"ours quoted", "filter.lode.process", "'/opt/my tools/git-lode' filter-process", false, "set,set,set,set,set,set,set,set"},
		{"required spelled yes", "filter.lode.required", "yes", false, "set,set,set,set,set,set,set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScratch(t)
			dir := s.repo()
			s.git(dir, "config", tt.key, tt.val)
			o := s.opts(dir, ScopeLocal, false)
			cs, err := Install(context.Background(), o)
			if tt.conflict {
				if !errors.Is(err, ErrConflict) {
					t.Fatalf("Install = %v, %v; want ErrConflict", cs, err)
				}
				for _, part := range []string{tt.key, tt.val, "--force"} {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				if got := s.configValues(dir, "--local", tt.key); len(got) != 1 || got[0] != tt.val {
					t.Errorf("failed Install changed %s to %q", tt.key, got)
				}
				if got := s.configValues(dir, "--local", "filter.lode.process"); tt.key != "filter.lode.process" && got != nil {
					t.Errorf("failed Install set filter.lode.process = %q", got)
				}
				o.Force = true
				cs, err = Install(context.Background(), o)
			}
			if err != nil {
				t.Fatal(err)
			}
			if whats(cs) != tt.wantWhats {
				t.Errorf("Install changes = %v, want %s", cs, tt.wantWhats)
			}
			if tt.key == "filter.lode.required" && !tt.conflict {
				return // "yes" stays as the user spelled it
			}
			s.checkConfig(dir, "--local", "git-lode")
		})
	}
}

func TestUninstallKeepsOthers(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	o := s.opts(dir, ScopeLocal, true)
	mustInstall(t, o)
	s.git(dir, "config", "--add", "filter.lode.smudge", "someone-else %f")
	s.git(dir, "config", "filter.lode.note", "kept")
	data := filepath.Join(dir, ".git", "lode", "packs", "p1")
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := mustUninstall(t, o)
	if whats(cs) != "unset,unset,unset,unset,unset,unset,unset,unset,hook,hook" {
		t.Errorf("Uninstall changes = %v", cs)
	}
	if got := s.configValues(dir, "--local", "filter.lode.smudge"); strings.Join(got, "|") != "someone-else %f" {
		t.Errorf("filter.lode.smudge after Uninstall = %q", got)
	}
	if got := s.configValues(dir, "--local", "filter.lode.note"); strings.Join(got, "|") != "kept" {
		t.Errorf("filter.lode.note after Uninstall = %q", got)
	}
	if string(readFile(t, data)) != "data" {
		t.Error("Uninstall touched .git/lode")
	}
	// With only lode's keys, the section goes entirely.
	s.git(dir, "config", "--remove-section", "filter.lode")
	mustInstall(t, o)
	mustUninstall(t, o)
	if cfg := readFile(t, filepath.Join(dir, ".git", "config")); bytes.Contains(cfg, []byte("lode")) {
		t.Errorf("config after Uninstall still mentions lode:\n%s", cfg)
	}
}

func TestCommandQuoting(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	o := s.opts(dir, ScopeLocal, true)
	o.Command = "/opt/my tools/git-lode"
	mustInstall(t, o)
	s.checkConfig(dir, "--local", "'/opt/my tools/git-lode'")
	if cs := mustInstall(t, o); len(cs) != 0 {
		t.Errorf("second Install changed %v", cs)
	}
	// The default command takes the values over as ours, no force needed.
	o.Command = ""
	if cs := mustInstall(t, o); whats(cs) != "set,set,set,set,set,set,hook,hook" {
		t.Errorf("Install with another command = %v", cs)
	}
	s.checkConfig(dir, "--local", "git-lode")
}

func TestShellWords(t *testing.T) {
	for _, s := range []string{"git-lode", "/usr/bin/git-lode", "/opt/my tools/git-lode", "it's", `a\b`, ""} {
		q := shellQuote(s)
		word, rest, ok := firstShellWord(q + " x")
		if s == "" {
			if ok {
				t.Errorf("firstShellWord(%q) accepted an empty word", q)
			}
			continue
		}
		if !ok || word != s || rest != " x" {
			t.Errorf("firstShellWord(shellQuote(%q) = %q) = %q, %q, %v", s, q, word, rest, ok)
		}
		out, err := exec.Command("sh", "-c", "printf %s "+q).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh reads shellQuote(%q) = %s as %q, %v", s, q, out, err)
		}
	}
}

func TestInstallHooksOnly(t *testing.T) {
	s := newScratch(t)
	dir := s.repo()
	o := s.opts(dir, ScopeLocal, false)
	o.HooksOnly = true
	cs := mustInstall(t, o)
	if whats(cs) != "hook,hook" {
		t.Fatalf("HooksOnly changes = %v, want the two hooks", cs)
	}
	if v := s.configValues(dir, "--local", "filter.lode.process"); v != nil {
		t.Fatalf("HooksOnly set filter.lode.process = %v", v)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "hooks", "pre-push")); err != nil {
		t.Fatal(err)
	}
}
