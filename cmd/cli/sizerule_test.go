package cli

import (
	"strings"
	"testing"
)

func TestSetTOMLKey(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "[track]\nabove = \"1MiB\"\n"},
		{"other tables", "[remote]\nurl = \"x\" # where\n", "[remote]\nurl = \"x\" # where\n\n[track]\nabove = \"1MiB\"\n"},
		{"table without the key", "[track]\n# sizes\n[remote]\nurl = \"x\"\n", "[track]\nabove = \"1MiB\"\n# sizes\n[remote]\nurl = \"x\"\n"},
		{"replace", "[track]\nabove = \"5MiB\"   # old\n[prune]\n", "[track]\nabove = \"1MiB\"\n[prune]\n"},
		{"same key in another table", "[prune]\nabove = 1\n", "[prune]\nabove = 1\n\n[track]\nabove = \"1MiB\"\n"},
		{"dotted at the top", "track.above = 5\n[remote]\nurl = \"x\"\n", "track.above = \"1MiB\"\n[remote]\nurl = \"x\"\n"},
		{"spaced header", "[ track ]  # rule\nabove=3\n", "[ track ]  # rule\nabove = \"1MiB\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(setTOMLKey([]byte(tc.in), "track", "above", `"1MiB"`))
			if got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
			var before, c config
			before.apply(&configSource{name: "F", data: []byte(tc.in), repo: true})
			c.apply(&configSource{name: "F", data: []byte(got), repo: true})
			if c.Track.Above != 1<<20 || len(c.problems) > len(before.problems) {
				t.Fatalf("result reads as above=%d, problems %v", c.Track.Above, c.problems)
			}
		})
	}
}

func TestRemoveTOMLKey(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		found          bool
	}{
		{"absent", "[remote]\nurl = \"x\"\n", "[remote]\nurl = \"x\"\n", false},
		{"only setting", "[remote]\nurl = \"x\"\n\n[track]\nabove = \"1MiB\"\n", "[remote]\nurl = \"x\"\n", true},
		{"table keeps others", "[track]\nabove = 1\nother = 2\n", "[track]\nother = 2\n", true},
		{"table first", "[track]\nabove = 1\n[remote]\nurl = \"x\"\n", "[remote]\nurl = \"x\"\n", true},
		{"dotted", "track.above = 1\n", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := removeTOMLKey([]byte(tc.in), "track", "above")
			if string(got) != tc.want || found != tc.found {
				t.Fatalf("got %q, %v; want %q, %v", got, found, tc.want, tc.found)
			}
		})
	}
}

func TestSizeRuleLines(t *testing.T) {
	in := []string{"*.csv filter=lode -text", "* filter=lode-above", "docs/** -filter"}
	got := withSizeRule(in)
	want := []string{sizeRuleComment, sizeRuleLine, "*.csv filter=lode -text", "docs/** -filter"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("withSizeRule = %q, want %q", got, want)
	}
	if again := withSizeRule(got); strings.Join(again, "\n") != strings.Join(want, "\n") {
		t.Fatalf("withSizeRule twice = %q", again)
	}
	if !hasSizeRule(got) || hasSizeRule(withoutSizeRule(got)) {
		t.Fatal("hasSizeRule/withoutSizeRule disagree")
	}
	if back := withoutSizeRule(got); strings.Join(back, "\n") != "*.csv filter=lode -text\ndocs/** -filter" {
		t.Fatalf("withoutSizeRule = %q", back)
	}
}
