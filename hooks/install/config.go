package install

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// Sections are the configuration sections lode owns: the filter driver
// that `git lode track` patterns name, and the driver of the size rule
// (`git lode track --above`: a catch-all attribute, whose filter passes
// files below the threshold through unchanged).
const (
	section      = "filter.lode"
	aboveSection = "filter.lode-above"
)

var sections = [...]string{section, aboveSection}

// setting is one configuration key Install manages.
type setting struct {
	key    string
	args   string // what follows the command ("" for a non-command value)
	isBool bool
}

// settings are the keys Install writes, in the order it writes them.
var settings = [...]setting{
	{key: section + ".process", args: "filter-process"},
	{key: section + ".clean", args: "clean -- %f"},
	{key: section + ".smudge", args: "smudge -- %f"},
	{key: section + ".required", isBool: true},
	{key: aboveSection + ".process", args: "filter-process --size-rule"},
	{key: aboveSection + ".clean", args: "clean --size-rule -- %f"},
	{key: aboveSection + ".smudge", args: "smudge --size-rule -- %f"},
	{key: aboveSection + ".required", isBool: true},
}

// want returns the value Install writes for s.
func (s setting) want(command string) string {
	if s.isBool {
		return "true"
	}
	return shellQuote(command) + " " + s.args
}

// classify tells whether value is what Install writes (Current), the same
// command line naming another git-lode executable (Outdated), or not ours
// (Foreign).
func (s setting) classify(command, value string) Kind {
	if s.isBool {
		switch strings.ToLower(value) {
		case "true", "yes", "on", "1", "":
			// "" is a key with no "=", which git reads as true.
			return Current
		}
		return Foreign
	}
	if value == s.want(command) {
		return Current
	}
	word, rest, ok := firstShellWord(value)
	if !ok || rest != " "+s.args {
		return Foreign
	}
	if word == command || strings.TrimSuffix(filepath.Base(word), ".exe") == defaultCommand {
		return Outdated
	}
	return Foreign
}

// kindOf sums up the values a key has in one scope.
func (s setting) kindOf(command string, values []string) Kind {
	if len(values) == 0 {
		return Missing
	}
	k := Current
	if len(values) > 1 {
		k = Outdated // replace the duplicates with one value
	}
	for _, v := range values {
		switch s.classify(command, v) {
		case Foreign:
			return Foreign
		case Outdated:
			k = Outdated
		}
	}
	return k
}

// scopeFlag is the git config option selecting the file of scope s.
func scopeFlag(s Scope) string {
	switch s {
	case ScopeGlobal:
		return "--global"
	case ScopeSystem:
		return "--system"
	}
	return "--local"
}

// readSection returns the values of every key of lode's sections in one config
// file (scopeArg "--local", "--global" or "--system") or, with scopeArg "",
// as git sees them from g.dir across all scopes. Keys are lower case; values
// are in file order (git uses the last).
func (g git) readSection(ctx context.Context, scopeArg string) (map[string][]string, error) {
	args := []string{"config", "-z"}
	if scopeArg != "" {
		args = append(args, scopeArg)
	}
	args = append(args, "--get-regexp", `^filter\.lode(-above)?\.`)
	out, err := g.run(ctx, args...)
	if exitCode(err) == 1 {
		return map[string][]string{}, nil // no such keys
	}
	if err != nil {
		return nil, fmt.Errorf("read %s and %s settings: %w", section, aboveSection, err)
	}
	m := make(map[string][]string)
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		key, value, _ := strings.Cut(string(rec), "\n")
		m[key] = append(m[key], value)
	}
	return m, nil
}

// shellQuote returns s as one word for sh, unchanged when that is safe.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+:@%=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// firstShellWord splits the first sh word off s, undoing the quoting
// shellQuote does and backslash escapes. rest starts with the separating
// space.
func firstShellWord(s string) (word, rest string, ok bool) {
	var b strings.Builder
	i := 0
	for i < len(s) && s[i] != ' ' && s[i] != '\t' {
		switch c := s[i]; c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", "", false
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case '\\':
			if i+1 >= len(s) {
				return "", "", false
			}
			b.WriteByte(s[i+1])
			i += 2
		case '"', '$', '`':
			return "", "", false // not a form we write
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), s[i:], b.Len() > 0
}
