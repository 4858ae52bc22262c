package migrate

import (
	"bytes"
	"strings"
)

// RewriteAttributes rewrites the lines of a .gitattributes file that send
// paths to Git LFS (filter=lfs) so that they send them to lode, as `git
// lode track` writes them: filter=lfs becomes filter=lode, diff=lfs and
// merge=lfs are dropped (lode has no diff or merge driver; git's own
// apply), and -text is added if it is not there. Other lines, comments
// and line ends are kept byte for byte. It reports whether anything
// changed.
func RewriteAttributes(b []byte) ([]byte, bool) {
	var out bytes.Buffer
	changed := false
	for len(b) > 0 {
		line, rest, found := bytes.Cut(b, []byte{'\n'})
		b = rest
		nl := ""
		if found {
			nl = "\n"
		}
		body, cr := bytes.CutSuffix(line, []byte{'\r'})
		if nb, ok := rewriteAttrLine(string(body)); ok {
			changed = true
			out.WriteString(nb)
		} else {
			out.Write(body)
		}
		if cr {
			out.WriteByte('\r')
		}
		out.WriteString(nl)
	}
	return out.Bytes(), changed
}

// rewriteAttrLine rewrites one line (without its line end) if it sets
// filter=lfs.
func rewriteAttrLine(line string) (string, bool) {
	trimmed := strings.TrimLeft(line, " \t")
	if trimmed == "" || trimmed[0] == '#' {
		return line, false
	}
	pattern, attrs := splitPattern(trimmed)
	if !hasToken(attrs, "filter=lfs") {
		return line, false
	}
	var kept []string
	text := false
	for _, a := range strings.Fields(attrs) {
		switch a {
		case "filter=lfs":
			kept = append(kept, "filter=lode")
		case "diff=lfs", "merge=lfs":
		case "-text":
			text = true
			kept = append(kept, a)
		default:
			kept = append(kept, a)
		}
	}
	if !text {
		kept = append(kept, "-text")
	}
	indent := line[:len(line)-len(trimmed)]
	return indent + pattern + " " + strings.Join(kept, " "), true
}

// splitPattern splits a trimmed attributes line into its pattern (quoted
// or not) and the rest.
func splitPattern(s string) (pattern, attrs string) {
	if s[0] == '"' {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return s[:i+1], s[i+1:]
			}
		}
		return s, ""
	}
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// hasToken reports whether tok appears in line as a whole
// whitespace-separated word.
func hasToken(line, tok string) bool {
	for _, f := range strings.Fields(line) {
		if f == tok {
			return true
		}
	}
	return false
}
