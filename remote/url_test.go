package remote_test

import (
	"strings"
	"testing"

	"github.com/lodevcs/lode/remote"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"s3://AKIAEXAMPLE:SECRETVALUE@bucket/x", "s3://xxxxx@bucket/x"},
		{"gs://user:SECRETVALUE@bucket", "gs://xxxxx@bucket"},
		{"https://user:SECRETVALUE@host:8443/store", "https://xxxxx@host:8443/store"},
		{"https://SECRETVALUE@host/store", "https://xxxxx@host/store"}, // a token as user name
		{"file://user:SECRETVALUE@localhost/x", "file://xxxxx@localhost/x"},
		{"https://us@r:SECRET@VALUE@host/x", "https://xxxxx@host/x"},
		// An unescaped "/" in the secret ends the authority early.
		{"s3://AKIAEXAMPLE:SECRET/VALUE@bucket/x", "s3://xxxxx@bucket/x"},
		{"https://user:SECRET/VALUE@host/x", "https://xxxxx@host/x"},
		// No userinfo: unchanged.
		{"s3://bucket/team@example.com/data", "s3://bucket/team@example.com/data"},
		{"https://host:8443/a/b", "https://host:8443/a/b"},
		{"file:///tmp/x", "file:///tmp/x"},
		{"/path/with@sign", "/path/with@sign"},
		{"git@github.com:org/repo.git", "git@github.com:org/repo.git"},
		{"", ""},
	} {
		got := remote.RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if has := remote.HasUserinfo(tc.in); has != (got != tc.in) {
			t.Errorf("HasUserinfo(%q) = %v", tc.in, has)
		}
	}
}

func TestParseURLHidesUserinfo(t *testing.T) {
	for _, in := range []string{
		"https://user:SECRETVALUE@host/%zz",
		"s3://AKIA:SECRETVALUE/more@bucket/x", // url.Parse: invalid port ":SECRETVALUE" after host
		"https://user:SECRET VALUE@host/",
	} {
		_, err := remote.ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", in)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("ParseURL(%q): %v shows the secret", in, err)
		}
	}
	// Without userinfo the parser's detail helps.
	if _, err := remote.ParseURL("https://host/%zz"); err == nil || !strings.Contains(err.Error(), `invalid URL escape "%zz"`) {
		t.Errorf("ParseURL of a bad escape: %v", err)
	}
	if u, err := remote.ParseURL("https://user:pw@host/x"); err != nil || u.User.Username() != "user" {
		t.Errorf("ParseURL of a good URL: %v, %v", u, err)
	}
}
