package remote

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// RedactURL returns s, a remote URL as someone wrote it, fit for a message
// or a log: its userinfo, if any, is replaced by "xxxxx", user name and
// all ("https://xxxxx@host/store"). Unlike url.URL.Redacted it hides the
// user name too, because a token is often written as one
// (https://TOKEN@host/), and it works on strings that do not parse. An
// access key's secret may hold an unescaped "/", which ends the authority
// early ("s3://KEY:SE/CRET@bucket"): when the text before the last "@"
// holds a ":", everything up to that "@" is hidden. That may also hide a
// path segment that merely contains ":" and "@"; in a message, hiding too
// much is the safe mistake. A string without "://" (a path, or a git
// scp-like address such as git@host:repo) is returned as it is.
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		at = strings.LastIndex(rest, "@")
		if at < 0 || !strings.Contains(rest[:at], ":") {
			return s
		}
	}
	return scheme + "://xxxxx" + rest[at:]
}

// HasUserinfo reports whether the URL s carries userinfo (credentials), as
// RedactURL sees it.
func HasUserinfo(s string) bool { return RedactURL(s) != s }

// ParseURL is url.Parse with an error that is safe to print: it names the
// URL as RedactURL shows it, and leaves out the parser's detail when the
// URL holds userinfo (the detail may quote part of it, as in `invalid port
// ":SECRET" after host`).
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err == nil {
		return u, nil
	}
	detail := err
	var uerr *url.Error
	if errors.As(err, &uerr) {
		detail = uerr.Err
	}
	if HasUserinfo(s) {
		return nil, fmt.Errorf("malformed URL %s", RedactURL(s))
	}
	return nil, fmt.Errorf("malformed URL %s: %v", s, detail)
}
