package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lodevcs/lode/cas/pointer"
	"github.com/spf13/cobra"
)

// trackAttrs are the attributes `git lode track` sets on a pattern.
const trackAttrs = "filter=lode -text"

func (a *app) trackCommand() *cobra.Command {
	var above string
	cmd := &cobra.Command{
		Use:   "track [PATTERN...] [--above SIZE]",
		Short: "Have lode handle files matching patterns, or of at least a size (writes .gitattributes)",
		Long: `Adds a line "PATTERN filter=lode -text" to the .gitattributes file at the
root of the work tree for each pattern that is not tracked yet, and says what
it did. Patterns use gitattributes syntax ("*.csv", "data/**"); quote them so
the shell does not expand them. A directory, as you would type it ("data/",
"data/img", "./data"), means everything under it ("data/img/**"); patterns
with a slash are taken from the current directory, as git does for
.gitattributes files there, and one starting with "/" from the top of the
work tree. gitattributes has no negative patterns: "!PATTERN" is refused
(write "PATTERN -filter" in .gitattributes to keep files out). A pattern
that matches no file yet is tracked, with a warning. With no pattern, lists
the tracked patterns and the size rule.

--above SIZE ("10MiB", "512k", "1GB", bytes) is the size rule: every file
of at least SIZE goes to lode whatever its name, and smaller files that no
pattern selects stay plain git objects, byte for byte. It writes
[track] above = "SIZE" in .lode.toml (commit it: the threshold must be the
same for everyone who clones) and the catch-all line "* filter=lode-above"
first in .gitattributes, so that patterns and "-filter" lines below it
still decide for the files they match. 'git lode untrack --above' removes
both.

Files that are already committed stay as they are until you run
'git add --renormalize .' and commit.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			if err := r.needWorkTree(); err != nil {
				return err
			}
			path := filepath.Join(r.workTree, ".gitattributes")
			lines, err := readLines(path)
			if err != nil {
				return err
			}
			if len(args) == 0 && above == "" {
				return a.listTracked(ctx, r, lines)
			}
			prefix, err := a.cwdPrefix(ctx, len(args) > 0)
			if err != nil {
				return err
			}
			var added []string
			for _, arg := range args {
				p, note, err := trackPattern(r.workTree, prefix, arg)
				if err != nil {
					return err
				}
				if note != "" {
					fmt.Fprintln(a.io.Out, note)
				}
				pat := escapePattern(p)
				if isTracked(lines, pat) {
					fmt.Fprintf(a.io.Out, "%q is already tracked\n", p)
					continue
				}
				lines = append(lines, pat+" "+trackAttrs)
				added = append(added, p)
			}
			var threshold int64
			if above != "" {
				if threshold, err = parseByteSize(above); err != nil || threshold <= 0 {
					return usageError("--above %q: want a size such as 10MiB, more than 0 bytes", above)
				}
				if err := a.setSizeRule(ctx, r, strings.TrimSpace(above), threshold); err != nil {
					return err
				}
				lines = withSizeRule(lines)
			}
			if len(added) > 0 || above != "" {
				if err := writeLines(path, lines); err != nil {
					return err
				}
			}
			for _, p := range added {
				fmt.Fprintf(a.io.Out, "Tracking %q (added to .gitattributes)\n", p)
				if ok, err := a.patternMatchesAny(ctx, r, p); err == nil && !ok {
					fmt.Fprintf(a.io.Err, "git-lode: warning: %q matches no file in the work tree yet (files that match later will go to lode)\n", p)
				}
			}
			if above != "" {
				fmt.Fprintf(a.io.Out, "Size rule: files of %s or more go to lode whatever their name ([track] above = %q in .lode.toml, %q first in .gitattributes; commit both)\n", humanBytes(threshold), strings.TrimSpace(above), sizeRuleLine)
				if big, err := a.largePlainBlobs(ctx, r, threshold); err == nil && len(big) > 0 {
					fmt.Fprintf(a.io.Out, "%d file(s) in git are that large and stored as plain git objects; to move them to lode run:\n  git add --renormalize . && git commit\n", len(big))
				}
			}
			if len(added) > 0 {
				if n, err := a.committedNonPointers(ctx, r); err == nil && n > 0 {
					fmt.Fprintf(a.io.Out, "%d file(s) already in git match and are stored as plain git objects; to move them to lode run:\n  git add --renormalize . && git commit\n", n)
				}
			}
			if !a.filterInstalled(ctx, r) {
				fmt.Fprintln(a.io.Out, "Note: the lode filter is not configured here; run 'git lode install' before 'git add'.")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&above, "above", "", "the size rule: every file of at least `SIZE` (\"10MiB\") goes to lode, whatever its name")
	return cmd
}

func (a *app) untrackCommand() *cobra.Command {
	var above bool
	cmd := &cobra.Command{
		Use:   "untrack PATTERN... | --above",
		Short: "Stop lode handling files matching patterns (or of a size: --above)",
		Long: `Removes the lines that 'git lode track' added for each pattern from the
root .gitattributes. With --above, removes the size rule: the catch-all line
of .gitattributes and [track] above from .lode.toml. Files keep their current
content in git until they are added again.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !above {
				return usageError("untrack needs at least one pattern, or --above")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := a.findRepo(ctx)
			if err != nil {
				return err
			}
			if err := r.needWorkTree(); err != nil {
				return err
			}
			path := filepath.Join(r.workTree, ".gitattributes")
			lines, err := readLines(path)
			if err != nil {
				return err
			}
			prefix, err := a.cwdPrefix(ctx, len(args) > 0)
			if err != nil {
				return err
			}
			changed := false
			for _, p := range args {
				pats := []string{escapePattern(p)}
				if np, _, err := trackPattern(r.workTree, prefix, p); err == nil && np != p {
					pats = append(pats, escapePattern(np)) // as track wrote it
				}
				kept := lines[:0:0]
				found := false
				for _, l := range lines {
					if f := strings.Fields(l); len(f) > 0 && slices.Contains(pats, f[0]) && hasLodeFilter(f[1:]) {
						found = true
						continue
					}
					kept = append(kept, l)
				}
				lines = kept
				if found {
					changed = true
					fmt.Fprintf(a.io.Out, "Untracking %q\n", p)
				} else {
					fmt.Fprintf(a.io.Out, "%q was not tracked\n", p)
				}
			}
			if above {
				removed, err := a.removeSizeRule(ctx, r)
				if err != nil {
					return err
				}
				if hasSizeRule(lines) {
					lines = withoutSizeRule(lines)
					changed, removed = true, true
				}
				if removed {
					fmt.Fprintln(a.io.Out, "Removed the size rule (.gitattributes, .lode.toml); commit both")
				} else {
					fmt.Fprintln(a.io.Out, "There was no size rule")
				}
			}
			if changed {
				return writeLines(path, lines)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&above, "above", false, "remove the size rule (git lode track --above)")
	return cmd
}

func (a *app) listTracked(ctx context.Context, r *repo, lines []string) error {
	pats := trackedPatterns(lines)
	if len(pats) == 0 {
		fmt.Fprintln(a.io.Out, "No patterns tracked. Add one with: git lode track \"*.csv\"")
	} else {
		fmt.Fprintln(a.io.Out, "Tracked patterns (.gitattributes):")
		for _, p := range pats {
			fmt.Fprintf(a.io.Out, "  %s\n", p)
		}
	}
	if line, err := a.sizeRuleStatus(ctx, r, lines); err != nil {
		return err
	} else if line != "" {
		fmt.Fprintln(a.io.Out, line)
	}
	return nil
}

// trackedPatterns returns the patterns of lines that set filter=lode.
func trackedPatterns(lines []string) []string {
	var out []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 1 && !strings.HasPrefix(f[0], "#") && hasLodeFilter(f[1:]) {
			out = append(out, f[0])
		}
	}
	return out
}

func hasLodeFilter(attrs []string) bool {
	for _, a := range attrs {
		if a == "filter=lode" {
			return true
		}
	}
	return false
}

func isTracked(lines []string, pat string) bool {
	for _, p := range trackedPatterns(lines) {
		if p == pat {
			return true
		}
	}
	return false
}

// escapePattern makes a pattern safe for .gitattributes, where whitespace
// separates fields.
// cwdPrefix is the current directory's path in the work tree ("" at its
// top, else ending in "/"), if need is set.
func (a *app) cwdPrefix(ctx context.Context, need bool) (string, error) {
	if !need {
		return "", nil
	}
	out, err := a.git(ctx, "", nil, "rev-parse", "--show-prefix")
	if err != nil {
		return "", fmt.Errorf("find the current directory in the work tree: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// trackPattern turns what a user typed for 'git lode track' into the
// gitattributes pattern to write in the top-level .gitattributes, given
// prefix, the current directory's path in the work tree ("" at the top,
// else ending in "/"). A directory means everything under it. note, if
// not empty, says how the pattern was read.
func trackPattern(workTree, prefix, arg string) (pat, note string, err error) {
	switch {
	case strings.TrimSpace(arg) == "":
		return "", "", usageError("empty pattern")
	case strings.ContainsAny(arg, "\n\r"):
		return "", "", usageError("pattern %q contains a line break", arg)
	case strings.HasPrefix(arg, "!"):
		return "", "", usageError("pattern %q: gitattributes has no negative patterns (git ignores such a line); to keep files out of lode, write %q in .gitattributes below the pattern that selects them, or 'git lode untrack PATTERN'", arg, strings.TrimPrefix(arg, "!")+" -filter")
	}
	p := arg
	anchored := strings.HasPrefix(p, "/")
	p = strings.TrimLeft(p, "/")
	for strings.HasPrefix(p, "./") {
		p = strings.TrimLeft(p[2:], "/")
	}
	if p == "." {
		p = ""
	}
	if strings.Contains("/"+p+"/", "/../") {
		return "", "", usageError("pattern %q: '..' is not allowed; run 'git lode track' from the directory above, or give the path from the top of the work tree with a leading /", arg)
	}
	dir := strings.HasSuffix(p, "/") || p == ""
	if !dir && !strings.ContainsAny(p, "*?[") {
		base := workTree
		if !anchored {
			base = filepath.Join(workTree, filepath.FromSlash(prefix))
		}
		if fi, err := os.Stat(filepath.Join(base, filepath.FromSlash(p))); err == nil && fi.IsDir() {
			dir = true
		}
	}
	p = strings.TrimRight(p, "/")
	if dir {
		if p == "" {
			p = "**"
		} else {
			p += "/**"
		}
	}
	if !anchored && prefix != "" && (dir || strings.Contains(p, "/")) {
		p = prefix + p
	}
	if anchored && !strings.Contains(p, "/") {
		p = "/" + p // a name at the top only
	}
	if dir {
		note = fmt.Sprintf("%q is a directory: tracking %q (everything under it)", arg, p)
	} else if p != arg {
		note = fmt.Sprintf("%q is %q from the top of the work tree", arg, p)
	}
	return p, note, nil
}

// patternMatchesAny reports whether the gitattributes pattern p matches a
// file in git's index or the work tree (not ignored). It reads git's
// listing only up to the first match.
func (a *app) patternMatchesAny(ctx context.Context, r *repo, p string) (bool, error) {
	spec := ":(glob)" + p
	if !strings.Contains(p, "/") {
		spec = ":(glob)**/" + p // like .gitignore, a name at any depth
	}
	found := false
	errFound := errors.New("found")
	err := a.gitStream(ctx, r.workTree, nil, func(out *bufio.Reader) error {
		if _, err := out.ReadSlice(0); err == nil || err == bufio.ErrBufferFull {
			found = true
			return errFound
		}
		return nil
	}, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", spec)
	if err != nil && !errors.Is(err, errFound) {
		return false, err
	}
	return found, nil
}

func escapePattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case ' ':
			b.WriteString("[[:space:]]")
		case '\t':
			b.WriteString("[[:blank:]]")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\n"), nil
}

// writeLines replaces path atomically, keeping its mode.
func writeLines(path string, lines []string) error {
	data := []byte(strings.Join(lines, "\n"))
	if len(lines) > 0 {
		data = append(data, '\n')
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic replaces path with data atomically, keeping its mode.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// lodeIndexEntry is a file in git's index that has filter=lode (or
// lode-above).
type lodeIndexEntry struct {
	path    string
	blob    string
	size    int64  // of the blob in git (the pointer, or the whole content)
	pointer bool   // the blob is a valid lode pointer
	text    []byte // the pointer's text, when pointer
	// sizeRule: the file has filter=lode-above (the size rule's
	// catch-all), so a plain blob below the threshold is expected.
	sizeRule bool
}

// lodeIndexEntries lists the index entries whose attributes say
// filter=lode, with whether git holds a pointer for them.
func (a *app) lodeIndexEntries(ctx context.Context, r *repo) ([]lodeIndexEntry, error) {
	out, err := a.git(ctx, r.workTree, nil, "ls-files", "-s", "-z")
	if err != nil {
		return nil, err
	}
	var paths []string
	blobs := map[string]string{}
	for _, rec := range bytes.Split(out, []byte{0}) {
		// "<mode> <blob> <stage>\t<path>"
		meta, path, ok := bytes.Cut(rec, []byte{'\t'})
		if !ok {
			continue
		}
		f := strings.Fields(string(meta))
		if len(f) != 3 || f[0] == "160000" || f[0] == "120000" {
			continue
		}
		paths = append(paths, string(path))
		blobs[string(path)] = f[1]
	}
	if len(paths) == 0 {
		return nil, nil
	}
	filtered, above, err := a.lodeAttrs(ctx, r, paths)
	if err != nil {
		return nil, err
	}
	if len(filtered) == 0 {
		return nil, nil
	}
	var req bytes.Buffer
	for _, p := range filtered {
		fmt.Fprintf(&req, "%s\n", blobs[p])
	}
	info, err := a.git(ctx, r.workTree, req.Bytes(), "cat-file", "--batch-check=%(objectsize)")
	if err != nil {
		return nil, err
	}
	sizes := strings.Fields(string(info))
	if len(sizes) != len(filtered) {
		return nil, fmt.Errorf("git cat-file returned %d sizes for %d blobs", len(sizes), len(filtered))
	}
	var small bytes.Buffer
	ents := make([]lodeIndexEntry, len(filtered))
	for i, p := range filtered {
		var n int64
		fmt.Sscan(sizes[i], &n)
		ents[i] = lodeIndexEntry{path: p, blob: blobs[p], size: n, sizeRule: above[p]}
		if n <= pointer.MaxLen {
			fmt.Fprintf(&small, "%s\n", blobs[p])
		}
	}
	if small.Len() > 0 {
		contents, err := a.git(ctx, r.workTree, small.Bytes(), "cat-file", "--batch")
		if err != nil {
			return nil, err
		}
		ptrs := parseBatch(contents)
		for i := range ents {
			ents[i].text = ptrs[ents[i].blob]
			ents[i].pointer = ents[i].text != nil
		}
	}
	return ents, nil
}

// parseBatch reads `git cat-file --batch` output and returns the blobs
// that are valid lode pointers, with their text.
func parseBatch(b []byte) map[string][]byte {
	out := map[string][]byte{}
	for len(b) > 0 {
		hdr, rest, ok := bytes.Cut(b, []byte{'\n'})
		if !ok {
			break
		}
		f := strings.Fields(string(hdr))
		if len(f) != 3 {
			break
		}
		var n int
		fmt.Sscan(f[2], &n)
		if n > len(rest) {
			break
		}
		if _, err := pointer.Parse(rest[:n]); err == nil {
			out[f[0]] = bytes.Clone(rest[:n])
		}
		b = rest[n:]
		if len(b) > 0 && b[0] == '\n' {
			b = b[1:]
		}
	}
	return out
}

// lodeAttrs returns the paths whose filter attribute is lode or
// lode-above, and which of them have lode-above.
func (a *app) lodeAttrs(ctx context.Context, r *repo, paths []string) ([]string, map[string]bool, error) {
	var in bytes.Buffer
	for _, p := range paths {
		in.WriteString(p)
		in.WriteByte(0)
	}
	out, err := a.git(ctx, r.workTree, in.Bytes(), "check-attr", "-z", "--stdin", "filter")
	if err != nil {
		return nil, nil, err
	}
	// Records are "<path>\0filter\0<value>\0".
	f := bytes.Split(out, []byte{0})
	var res []string
	above := map[string]bool{}
	for i := 0; i+2 < len(f); i += 3 {
		switch string(f[i+2]) {
		case sizeRuleDriver:
			above[string(f[i])] = true
			fallthrough
		case "lode":
			res = append(res, string(f[i]))
		}
	}
	return res, above, nil
}

// committedNonPointers counts index entries with filter=lode whose blob is
// not a pointer (committed before tracking).
func (a *app) committedNonPointers(ctx context.Context, r *repo) (int, error) {
	ents, err := a.lodeIndexEntries(ctx, r)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if !e.pointer && e.size > 0 && !e.sizeRule {
			n++
		}
	}
	return n, nil
}

// entriesHoldingPointers returns the entries of ents whose work-tree file is
// exactly the pointer git holds: lode files checked out without the
// filter (a clone made before 'git lode install', GIT_LODE_SKIP_SMUDGE, a
// download that failed), which 'git lode pull' fills in.
func entriesHoldingPointers(workTree string, ents []lodeIndexEntry) []lodeIndexEntry {
	var out []lodeIndexEntry
	for _, e := range ents {
		if !e.pointer {
			continue
		}
		p := filepath.Join(workTree, filepath.FromSlash(e.path))
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(e.text)) {
			continue // missing, replaced, or not the pointer
		}
		if cur, err := os.ReadFile(p); err != nil || !bytes.Equal(cur, e.text) {
			continue // modified
		}
		out = append(out, e)
	}
	return out
}

// sizeRuleDriver is the filter driver of the size rule's catch-all
// attribute (git lode track --above).
const sizeRuleDriver = "lode-above"

// filterInstalled reports whether git would run lode's filter here.
func (a *app) filterInstalled(ctx context.Context, r *repo) bool {
	return a.driverInstalled(ctx, r, "lode")
}

// driverInstalled reports whether git would run the filter driver name
// here.
func (a *app) driverInstalled(ctx context.Context, r *repo, name string) bool {
	out, err := a.git(ctx, r.workTree, nil, "config", "--get", "filter."+name+".process")
	return err == nil && strings.TrimSpace(string(out)) != ""
}
