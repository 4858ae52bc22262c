package remote

import (
	"fmt"
	"strings"
)

// Operation names, as passed to RetryOptions.OnRetry and used by the fault
// injector in remote/remotetest.
const (
	OpPut    = "put"
	OpGet    = "get"
	OpStat   = "stat"
	OpList   = "list"
	OpDelete = "delete"
)

// ValidateName checks that name can name an object on every back end: a
// non-empty sequence of non-empty segments separated by single slashes,
// none of them "." or "..", with no leading or trailing slash, backslash
// or NUL byte. It returns nil or an error wrapping ErrInvalidName. Back
// ends call it before any I/O so that a name means the same object
// everywhere and can never escape a local directory.
func ValidateName(name string) error {
	if err := checkName(name); err != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, name, err)
	}
	return nil
}

// ValidatePrefix checks a List prefix: empty, or a name that may end in a
// slash or in a partial segment ("packs/", "packs/ab"). It returns nil or
// an error wrapping ErrInvalidName.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	p := strings.TrimSuffix(prefix, "/")
	if err := checkName(p); err != "" {
		return fmt.Errorf("%w: list prefix %q: %s", ErrInvalidName, prefix, err)
	}
	return nil
}

func checkName(name string) string {
	switch {
	case name == "":
		return "empty"
	case strings.HasPrefix(name, "/"):
		return "starts with a slash"
	case strings.ContainsAny(name, "\\\x00"):
		return "contains a backslash or NUL byte"
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case "":
			return "has an empty path segment"
		case ".", "..":
			return "has a . or .. path segment"
		}
	}
	return ""
}
