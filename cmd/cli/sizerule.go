package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The size rule (git lode track --above SIZE): every file of at least
// SIZE goes to lode whatever its name. Git tells a filter nothing of a
// file but its path and content, so the rule needs the filter to see
// every file: a catch-all line first in the root .gitattributes sends
// them to the driver lode-above (whose filter passes files below the
// threshold through clean unchanged), and every line below it (the
// patterns 'git lode track' writes, "-filter" lines) still decides for
// the files it matches, as later lines do in gitattributes. A driver of
// its own, rather than "* filter=lode", is how the filter tells the two
// apart: a pattern's small files must still go to lode. The threshold is
// [track] above in the committed .lode.toml: the same for everyone.
const (
	sizeRuleLine    = "* filter=" + sizeRuleDriver
	sizeRuleComment = "# git lode track --above: files of [track] above (.lode.toml) or more go to lode; the lines below override this one"
)

// isSizeRuleLine reports whether a .gitattributes line is the catch-all.
func isSizeRuleLine(l string) bool {
	f := strings.Fields(l)
	if len(f) < 2 || f[0] != "*" {
		return false
	}
	for _, a := range f[1:] {
		if a == "filter="+sizeRuleDriver {
			return true
		}
	}
	return false
}

func hasSizeRule(lines []string) bool {
	for _, l := range lines {
		if isSizeRuleLine(l) {
			return true
		}
	}
	return false
}

// withSizeRule returns lines with the catch-all (and its comment) first,
// once.
func withSizeRule(lines []string) []string {
	if len(lines) > 0 && isSizeRuleLine(lines[0]) || len(lines) > 1 && lines[0] == sizeRuleComment && isSizeRuleLine(lines[1]) && !hasSizeRule(lines[2:]) {
		return lines
	}
	return append([]string{sizeRuleComment, sizeRuleLine}, withoutSizeRule(lines)...)
}

// withoutSizeRule returns lines without the catch-all and its comment.
func withoutSizeRule(lines []string) []string {
	var out []string
	for _, l := range lines {
		if isSizeRuleLine(l) || l == sizeRuleComment {
			continue
		}
		out = append(out, l)
	}
	return out
}

// lodeTOMLPath is the repository's .lode.toml in the work tree.
func lodeTOMLPath(r *repo) string { return filepath.Join(r.workTree, ".lode.toml") }

// setSizeRule writes [track] above = "text" into .lode.toml, keeping the
// rest of the file as it is, and checks that the file then says so.
func (a *app) setSizeRule(ctx context.Context, r *repo, text string, n int64) error {
	path := lodeTOMLPath(r)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	data := setTOMLKey(old, "track", "above", strconv.Quote(text))
	var before, after config
	before.apply(&configSource{name: path, data: old, repo: true})
	after.apply(&configSource{name: path, data: data, repo: true})
	if after.Track.Above != n || len(after.problems) > len(before.problems) {
		return fmt.Errorf("could not set [track] above in %s safely; add these lines to it by hand:\n[track]\nabove = %q", path, text)
	}
	return writeFileAtomic(path, data)
}

// removeSizeRule removes [track] above from .lode.toml and reports
// whether it was there.
func (a *app) removeSizeRule(ctx context.Context, r *repo) (bool, error) {
	path := lodeTOMLPath(r)
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	data, found := removeTOMLKey(old, "track", "above")
	if !found {
		return false, nil
	}
	var after config
	after.apply(&configSource{name: path, data: data, repo: true})
	if after.Track.Above != 0 {
		return false, fmt.Errorf("could not remove [track] above from %s safely; remove it by hand", path)
	}
	return true, writeFileAtomic(path, data)
}

// sizeRuleStatus describes the size rule for status and track, or
// returns "" when there is none.
func (a *app) sizeRuleStatus(ctx context.Context, r *repo, lines []string) (string, error) {
	cfg, err := a.loadConfig(ctx, r)
	if err != nil {
		return "", err
	}
	on := hasSizeRule(lines)
	switch {
	case on && cfg.Track.Above > 0:
		return fmt.Sprintf("Size rule: files of %s or more go to lode whatever their name (track.above in %s)", humanBytes(cfg.Track.Above), cfg.aboveFrom), nil
	case on:
		return fmt.Sprintf("Size rule: %q is in .gitattributes but .lode.toml sets no [track] above; the filter uses %s ('git lode track --above SIZE' sets it)", sizeRuleLine, humanBytes(defaultSizeRule)), nil
	case cfg.Track.Above > 0:
		return fmt.Sprintf("Size rule: OFF: track.above is set in %s but %q is not in .gitattributes; run 'git lode track --above %s'", cfg.aboveFrom, sizeRuleLine, humanBytes(cfg.Track.Above)), nil
	}
	return "", nil
}

// largeBlob is a file that git holds as a plain object of at least the
// size status warns about.
type largeBlob struct {
	path  string
	size  int64
	where string // "HEAD", "staged", "HEAD, staged"
}

// largePlainBlobs lists the files of HEAD and of the index whose blob is
// at least min bytes (a pointer never is: those are plain git objects).
func (a *app) largePlainBlobs(ctx context.Context, r *repo, min int64) ([]largeBlob, error) {
	type ent struct {
		blob string
		size int64
	}
	head := map[string]ent{}
	if out, err := a.git(ctx, r.workTree, nil, "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD"); err == nil {
		for _, rec := range bytes.Split(out, []byte{0}) {
			// "<mode> blob <oid> <size>\t<path>"
			meta, path, ok := bytes.Cut(rec, []byte{'\t'})
			f := strings.Fields(string(meta))
			if !ok || len(f) != 4 || f[1] != "blob" || f[0] == "120000" {
				continue
			}
			n, _ := strconv.ParseInt(f[3], 10, 64)
			head[string(path)] = ent{f[2], n}
		}
	}
	found := map[string]*largeBlob{}
	for p, e := range head {
		if e.size >= min {
			found[p] = &largeBlob{path: p, size: e.size, where: "HEAD"}
		}
	}
	out, err := a.git(ctx, r.workTree, nil, "ls-files", "-s", "-z")
	if err != nil {
		return nil, err
	}
	var staged []string
	blobs := map[string]string{}
	for _, rec := range bytes.Split(out, []byte{0}) {
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		f := strings.Fields(string(meta))
		if !ok || len(f) != 3 || f[0] == "160000" || f[0] == "120000" {
			continue
		}
		if h, ok := head[string(path)]; ok && h.blob == f[1] {
			continue
		}
		staged = append(staged, string(path))
		blobs[string(path)] = f[1]
	}
	if len(staged) > 0 {
		var req bytes.Buffer
		for _, p := range staged {
			fmt.Fprintf(&req, "%s\n", blobs[p])
		}
		info, err := a.git(ctx, r.workTree, req.Bytes(), "cat-file", "--batch-check=%(objectsize)")
		if err != nil {
			return nil, err
		}
		sizes := strings.Fields(string(info))
		for i, p := range staged {
			if i >= len(sizes) {
				break
			}
			n, _ := strconv.ParseInt(sizes[i], 10, 64)
			if n < min {
				continue
			}
			if b := found[p]; b != nil {
				b.where, b.size = "HEAD, staged", n
			} else {
				found[p] = &largeBlob{path: p, size: n, where: "staged"}
			}
		}
	}
	res := make([]largeBlob, 0, len(found))
	for _, b := range found {
		res = append(res, *b)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].path < res[j].path })
	return res, nil
}

// tomlHeader matches a table header line: [name], with an optional
// comment. Array tables ([[name]]) do not match.
var tomlHeader = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_.\-" ]+?)\s*\]\s*(#.*)?$`)

// tomlKeyLine returns a pattern matching the line that sets key.
func tomlKeyLine(key string) *regexp.Regexp {
	return regexp.MustCompile(`^\s*` + regexp.QuoteMeta(key) + `\s*=`)
}

// setTOMLKey returns data with key = value in [table]: the line that sets
// it replaced, or a line added under the table's header, or the table
// appended. The rest of the file is kept as it is. Callers check the
// result by parsing it.
func setTOMLKey(data []byte, table, key, value string) []byte {
	lines := splitTOML(data)
	keyRE, dotted := tomlKeyLine(key), tomlKeyLine(table+"."+key)
	cur, header := "", -1
	for i, l := range lines {
		if m := tomlHeader.FindStringSubmatch(l); m != nil {
			cur = m[1]
			if cur == table && header < 0 {
				header = i
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), "[[") {
			cur = "[["
			continue
		}
		if cur == table && keyRE.MatchString(l) || cur == "" && dotted.MatchString(l) {
			if cur == "" {
				lines[i] = table + "." + key + " = " + value
			} else {
				lines[i] = key + " = " + value
			}
			return joinTOML(lines)
		}
	}
	if header >= 0 {
		lines = append(lines[:header+1], append([]string{key + " = " + value}, lines[header+1:]...)...)
		return joinTOML(lines)
	}
	if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
		lines = append(lines, "")
	}
	return joinTOML(append(lines, "["+table+"]", key+" = "+value))
}

// removeTOMLKey returns data without the line that sets key in [table]
// (and without the table's header when no setting is left in it), and
// whether there was such a line.
func removeTOMLKey(data []byte, table, key string) ([]byte, bool) {
	lines := splitTOML(data)
	keyRE, dotted := tomlKeyLine(key), tomlKeyLine(table+"."+key)
	cur, header := "", -1
	for i, l := range lines {
		if m := tomlHeader.FindStringSubmatch(l); m != nil {
			cur, header = m[1], i
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), "[[") {
			cur = "[["
			continue
		}
		if !(cur == table && keyRE.MatchString(l) || cur == "" && dotted.MatchString(l)) {
			continue
		}
		lines = append(lines[:i], lines[i+1:]...)
		if cur == table && tableEmpty(lines[header+1:]) {
			lines = append(lines[:header], lines[header+1:]...)
			for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
				lines = lines[:len(lines)-1]
			}
		}
		return joinTOML(lines), true
	}
	return data, false
}

// tableEmpty reports whether the lines up to the next header hold no
// setting (only blank lines and comments).
func tableEmpty(lines []string) bool {
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if tomlHeader.MatchString(l) || strings.HasPrefix(t, "[[") {
			return true
		}
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

func splitTOML(data []byte) []string {
	s := strings.TrimRight(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func joinTOML(lines []string) []byte {
	if len(lines) == 0 {
		return nil
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}
