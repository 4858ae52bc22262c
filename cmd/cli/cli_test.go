package cli

import (
	"bytes"
	"context"
	"errors"
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
