package cli

import (
	"fmt"
	"strings"
	"testing"
)

func TestConfigApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		toml string
		user bool     // the user configuration rather than .lode.toml
		want string   // the settings taken, as configSummary prints them
		errs []string // substrings of the problems, in order
	}{
		{name: "empty", want: "url= dir= recent=- grace= above=0"},
		{name: "all", toml: "[remote]\nurl = \"s3://b/p\"\n[store]\ndir = \"../s\"\n[prune]\nrecent = 3\ngrace = \"2h\"\n[track]\nabove = \"10MiB\"\n",
			want: "url=s3://b/p dir=../s recent=3 grace=2h above=10485760"},
		{name: "typo", toml: "[remote]\nulr = \"s3://b/p\"\n[store]\ndir = \"d\"\n", want: "url= dir=d recent=- grace= above=0",
			errs: []string{`remote.ulr: unknown setting (did you mean remote.url?)`}},
		{name: "unknown table", toml: "[remot]\nurl = \"x\"\nother = 1\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`remot: unknown table [remot] (did you mean [remote]?)`}},
		{name: "unknown top-level key", toml: "url = \"x\"\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`url: unknown setting`}},
		{name: "table as a value", toml: "remote = \"x\"\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`remote: is a table ([remote] and its settings below it), not a string`}},
		{name: "nested unknown reported once", toml: "[remote.x]\ny = 1\nz = 2\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`remote.x: unknown setting`}},
		{name: "dotted keys", toml: "remote.url = \"d\"\n", want: "url=d dir= recent=- grace= above=0"},
		{name: "wrong type", toml: "[remote]\nurl = 5\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`remote.url: is the integer 5; it is a URL`}},
		{name: "bad TOML", toml: "[remote]\nurl = \n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`not valid TOML: line 2`}},
		{name: "negative recent", toml: "[prune]\nrecent = -1\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`prune.recent: is the integer -1; it is a number of days`}},
		{name: "bad grace", toml: "[prune]\ngrace = \"soon\"\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`prune.grace: "soon" is not a duration`}},
		{name: "above bytes", toml: "[track]\nabove = 1024\n", want: "url= dir= recent=- grace= above=1024"},
		{name: "above decimal", toml: "[track]\nabove = \"1.5 MB\"\n", want: "url= dir= recent=- grace= above=1500000"},
		{name: "above zero", toml: "[track]\nabove = 0\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`track.above: is the integer 0; it must be more than 0 bytes`}},
		{name: "above not a size", toml: "[track]\nabove = \"big\"\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`track.above: "big" is not a size`}},
		{name: "above in the user config", user: true, toml: "[track]\nabove = \"1MiB\"\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`track.above: belongs in the repository's .lode.toml`}},
		{name: "two problems", toml: "[remote]\nulr = 1\n[prune]\nrecnt = 2\n", want: "url= dir= recent=- grace= above=0",
			errs: []string{`remote.ulr`, `prune.recnt: unknown setting (did you mean prune.recent?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg config
			cfg.apply(&configSource{name: "F", data: []byte(tc.toml), repo: !tc.user})
			if got := configSummary(&cfg); got != tc.want {
				t.Errorf("settings %q, want %q", got, tc.want)
			}
			if len(cfg.problems) != len(tc.errs) {
				t.Fatalf("problems %v, want %d", cfg.problems, len(tc.errs))
			}
			for i, p := range cfg.problems {
				if !strings.Contains(p.Error(), tc.errs[i]) || !strings.HasPrefix(p.Error(), "configuration F: ") {
					t.Errorf("problem %d: %q, want it to name the file and contain %q", i, p.Error(), tc.errs[i])
				}
			}
			if len(cfg.problems) > 0 {
				if msg := configError(cfg.problems).Error(); !strings.Contains(msg, "known settings: remote.url, store.dir, prune.recent, prune.grace, track.above") {
					t.Errorf("error does not list the known settings: %s", msg)
				}
			}
		})
	}
}

func configSummary(c *config) string {
	recent := "-"
	if c.Prune.Recent != nil {
		recent = fmt.Sprint(*c.Prune.Recent)
	}
	return fmt.Sprintf("url=%s dir=%s recent=%s grace=%s above=%d", c.Remote.URL, c.Store.Dir, recent, c.Prune.Grace, c.Track.Above)
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"1048576", 1 << 20, false},
		{"10MiB", 10 << 20, false},
		{"10 mib", 10 << 20, false},
		{"512k", 512 << 10, false},
		{"1.5GiB", 3 << 29, false},
		{"2MB", 2e6, false},
		{"3 B", 3, false},
		{"", 0, true},
		{"MiB", 0, true},
		{"10 parsecs", 0, true},
		{"1..2M", 0, true},
		{"99999999TiB", 0, true},
	} {
		got, err := parseByteSize(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}
