package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := []string{"HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "PATH=/usr/bin:/bin"}
	code = Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb}, env)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	t.Chdir(t.TempDir()) // not a repository
	tests := []struct {
		args    []string
		code    int
		message string
	}{
		{[]string{"--help"}, ExitOK, ""},
		{[]string{"version"}, ExitOK, ""},
		{[]string{"no-such-command"}, ExitUsage, "unknown command"},
		{[]string{"status", "--no-such-flag"}, ExitUsage, "unknown flag"},
		{[]string{"ls-files", "a", "b"}, ExitUsage, "at most 1 argument"},
		{[]string{"untrack"}, ExitUsage, "at least one pattern"},
		{[]string{"install", "--global", "--local"}, ExitUsage, "none of the others"},
		{[]string{"status"}, ExitError, "not inside a git repository"},
		{[]string{"verify"}, ExitError, "not inside a git repository"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.message) {
				t.Fatalf("stderr %q does not contain %q", stderr, tt.message)
			}
		})
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	a := newApp(IO{}, nil)
	for _, c := range a.rootCommand().Commands() {
		if c.Short == "" {
			t.Errorf("command %q has no short help", c.Name())
		}
		code, out, _ := run(t, c.Name(), "--help")
		if code != ExitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d, output %q", c.Name(), code, out)
		}
	}
}

func TestEscapePattern(t *testing.T) {
	for in, want := range map[string]string{
		"*.csv":          "*.csv",
		"data/**":        "data/**",
		"my data/*.bin":  "my[[:space:]]data/*.bin",
		"tab\there.json": "tab[[:blank:]]here.json",
	} {
		if got := escapePattern(in); got != want {
			t.Errorf("escapePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrackedPatterns(t *testing.T) {
	lines := []string{
		"# comment filter=lode",
		"*.csv filter=lode -text",
		"*.txt text",
		"data/** filter=lode -text",
		"*.bin filter=lfs diff=lfs merge=lfs -text",
	}
	got := strings.Join(trackedPatterns(lines), " ")
	if got != "*.csv data/**" {
		t.Fatalf("trackedPatterns = %q", got)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 1 << 30: "1.0 GiB", 5 << 40: "5.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPathFilter(t *testing.T) {
	paths := []string{"a.csv", "data/img/x.png", "data/img/sub/y.png", "data/imgs/z.png", "data/b.csv", "other/data/img/w.png", "img", "data2/q.bin"}
	tests := []struct {
		include, exclude []string
		want             []string
	}{
		{nil, nil, paths},
		{[]string{"data/img"}, nil, []string{"data/img/x.png", "data/img/sub/y.png"}},
		{[]string{"./data/img/"}, nil, []string{"data/img/x.png", "data/img/sub/y.png"}},
		{[]string{"/data/img"}, nil, []string{"data/img/x.png", "data/img/sub/y.png"}},
		{[]string{"data/"}, nil, []string{"data/img/x.png", "data/img/sub/y.png", "data/imgs/z.png", "data/b.csv", "other/data/img/w.png"}},
		{[]string{"./data/"}, nil, []string{"data/img/x.png", "data/img/sub/y.png", "data/imgs/z.png", "data/b.csv"}},
		{[]string{"data/**"}, nil, []string{"data/img/x.png", "data/img/sub/y.png", "data/imgs/z.png", "data/b.csv"}},
		{[]string{"data/*"}, nil, []string{"data/img/x.png", "data/img/sub/y.png", "data/imgs/z.png", "data/b.csv"}},
		{[]string{"*.csv"}, nil, []string{"a.csv", "data/b.csv"}},
		{[]string{"img"}, nil, []string{"data/img/x.png", "data/img/sub/y.png", "other/data/img/w.png", "img"}},
		{[]string{"img/"}, nil, []string{"data/img/x.png", "data/img/sub/y.png", "other/data/img/w.png"}},
		{[]string{"**/img/*.png"}, nil, []string{"data/img/x.png", "other/data/img/w.png"}},
		{[]string{"data/**/*.png"}, nil, []string{"data/img/x.png", "data/img/sub/y.png", "data/imgs/z.png"}},
		{[]string{"data"}, []string{"data/img/"}, []string{"data/imgs/z.png", "data/b.csv", "other/data/img/w.png"}},
		{[]string{"./"}, []string{"*.png"}, []string{"a.csv", "data/b.csv", "img", "data2/q.bin"}},
	}
	for _, tt := range tests {
		f, err := newPathFilter(tt.include, tt.exclude)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range paths {
			if f.match(p) {
				got = append(got, p)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("-I %q -X %q selects %q, want %q", tt.include, tt.exclude, got, tt.want)
		}
	}

	// Patterns that match nothing are reported; bad ones are usage errors.
	f, _ := newPathFilter([]string{"data/img", "data/imgs/none", "./nothing/"}, []string{"*.txt"})
	for _, p := range paths {
		f.match(p)
	}
	var out strings.Builder
	f.warnUnmatched(&out, "lode file in HEAD")
	for _, want := range []string{`--include "data/imgs/none" matches no lode file in HEAD`, `--include "./nothing/" matches no`, `--exclude "*.txt" matches no`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("warnings %q lack %q", out.String(), want)
		}
	}
	if strings.Contains(out.String(), `"data/img"`) {
		t.Errorf("warned about a pattern that matched: %q", out.String())
	}
	for _, bad := range []string{"data/[x", "../up"} {
		if _, err := newPathFilter([]string{bad}, nil); err == nil || !isUsageErr(err) {
			t.Errorf("pattern %q: %v, want a usage error", bad, err)
		}
	}
}

func isUsageErr(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.code == ExitUsage
}

func TestManPages(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := run(t, "man", dir)
	if code != ExitOK {
		t.Fatalf("man: exit %d: %s", code, stderr)
	}
	for _, name := range []string{"git-lode.1", "git-lode-push.1", "git-lode-verify.1", "git-lode-completion.1"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		if !strings.HasPrefix(page, ".TH ") || !strings.Contains(page, "\n.SH DESCRIPTION\n") {
			t.Errorf("%s is not a man page:\n%s", name, page)
		}
		for _, line := range strings.Split(page, "\n") {
			if strings.HasPrefix(line, ".") && !strings.HasPrefix(line, `.\`) {
				if f := strings.Fields(line); !slices.Contains([]string{".TH", ".SH", ".PP", ".TP", ".B", ".nf", ".fi"}, f[0]) {
					t.Errorf("%s: text taken for a request: %q", name, line)
				}
			}
		}
	}
	for _, hidden := range []string{"git-lode-hook.1", "git-lode-man.1", "git-lode-help.1"} {
		if _, err := os.Stat(filepath.Join(dir, hidden)); err == nil {
			t.Errorf("%s written, but that command is not listed by --help", hidden)
		}
	}
}

func TestRoffEscape(t *testing.T) {
	var b bytes.Buffer
	roffText(&b, ".lode is not a request\nback\\slash and --flag\n  'quoted' example\n\nnext")
	want := ".PP\n\\&.lode is not a request\nback\\eslash and \\-\\-flag\n.nf\n  'quoted' example\n.fi\n.PP\nnext\n"
	if b.String() != want {
		t.Errorf("roffText:\n%q\nwant\n%q", b.String(), want)
	}
}

// TestErrorShape checks that an error is printed once, as "git-lode:
// COMMAND: what failed: cause", without the program's or the command's
// name repeated, and that a usage error points at the command's help.
func TestErrorShape(t *testing.T) {
	outside := t.TempDir()
	repoDir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repoDir).CombinedOutput(); err != nil {
		t.Skipf("git init: %v %s", err, out)
	}
	tests := []struct {
		dir  string
		args []string
		want string // the first line starts with it
		help string // the second line, for usage errors
	}{
		{outside, []string{"ls-files", "a", "b"}, "git-lode: ls-files: takes at most 1 argument(s), got 2: a b", "Run 'git lode ls-files --help' for usage."},
		{outside, []string{"no-such-command"}, `git-lode: unknown command "no-such-command"`, ""},
		{outside, []string{"status", "--no-such-flag"}, "git-lode: status: unknown flag: --no-such-flag", "Run 'git lode status --help' for usage."},
		{outside, []string{"verify"}, "git-lode: verify: not inside a git repository", ""},
		{outside, []string{"mount"}, "git-lode: mount: takes [REV] DIR", "Run 'git lode mount --help' for usage."},
		{repoDir, []string{"hook", "pre-push"}, "git-lode: hook pre-push: needs the remote name", "Run 'git lode hook pre-push --help' for usage."},
		{outside, []string{"completion", "tcsh"}, `git-lode: completion: unknown shell "tcsh"`, "Run 'git lode completion --help' for usage."},
		{repoDir, []string{"ls-files", "nosuch"}, `git-lode: ls-files: resolve "nosuch": unknown revision`, ""},
		{repoDir, []string{"verify", "--remote=nosuch"}, "git-lode: verify: --remote nosuch: no such git remote", "Run 'git lode verify --help' for usage."},
		{repoDir, []string{"verify", "--remote", "--fix"}, "git-lode: verify: --fix and --store-only are for the local store", "Run 'git lode verify --help' for usage."},
		{repoDir, []string{"prune", "--remote", "nosuch"}, `git-lode: prune: "nosuch" is not a git remote`, "Run 'git lode prune --help' for usage."},
		{repoDir, []string{"push", "nosuch"}, `git-lode: push: unknown revision "nosuch"`, "Run 'git lode push --help' for usage."},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Chdir(tt.dir)
			code, _, stderr := run(t, tt.args...)
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if code == ExitOK || !strings.HasPrefix(lines[0], tt.want) {
				t.Fatalf("exit %d, stderr %q; want a first line starting %q", code, stderr, tt.want)
			}
			if n := strings.Count(lines[0], "git-lode"); n != 1 {
				t.Errorf("%q names the program %d times", lines[0], n)
			}
			if name := tt.args[0]; strings.Count(lines[0], name+":")+strings.Count(lines[0], name+" ") > 1 {
				t.Errorf("%q names the command more than once", lines[0])
			}
			if tt.help != "" && (code != ExitUsage || lines[len(lines)-1] != tt.help) {
				t.Errorf("exit %d, last line %q; want a usage error ending %q", code, lines[len(lines)-1], tt.help)
			}
			if tt.help == "" && strings.Contains(stderr, "for usage") {
				t.Errorf("not a usage error, but %q", stderr)
			}
		})
	}
}
