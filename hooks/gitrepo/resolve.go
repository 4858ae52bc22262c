package gitrepo

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// minAbbrev is the shortest abbreviated hash Resolve accepts, as in git.
const minAbbrev = 4

// maxPeel bounds how many tags Resolve follows to reach a commit.
const maxPeel = 64

// Resolve turns a revision into a commit hash. It understands:
//
//   - HEAD, @, and other all-capital names in the git directory (FETCH_HEAD);
//   - reference names, full (refs/heads/main) or short, tried in git's order:
//     NAME, refs/NAME, refs/tags/NAME, refs/heads/NAME, refs/remotes/NAME,
//     refs/remotes/NAME/HEAD;
//   - a full hash, or an abbreviated one of at least 4 hex digits that is
//     unique (a reference of the same name wins, as in git);
//   - any number of suffixes: ~N and ~ (first parent, N times), ^N and ^
//     (Nth parent; ^0 is the commit itself), ^{commit} and ^{} (peel).
//
// Annotated tags, also tags of tags, are peeled to their commit. A revision
// that names no commit (unknown, ambiguous, past the first commit, a tree
// or blob, or other syntax such as @{upstream} or REV:PATH) gives an error
// wrapping ErrUnknownRevision that quotes rev.
func (r *Repo) Resolve(rev string) (plumbing.Hash, error) {
	h, err := r.resolve(rev)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
	}
	return h, nil
}

func (r *Repo) resolve(rev string) (plumbing.Hash, error) {
	if rev == "" || strings.ContainsAny(rev, ": \t\n") || strings.Contains(rev, "@{") || strings.Contains(rev, "..") {
		return plumbing.ZeroHash, fmt.Errorf("%w: not a revision this command understands", ErrUnknownRevision)
	}
	i := strings.IndexAny(rev, "~^")
	if i < 0 {
		i = len(rev)
	}
	base, suffix := rev[:i], rev[i:]
	if base == "" {
		return plumbing.ZeroHash, fmt.Errorf("%w: missing name before %q", ErrUnknownRevision, suffix)
	}
	h, err := r.resolveBase(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for suffix != "" {
		op := suffix[0]
		suffix = suffix[1:]
		if op == '^' && strings.HasPrefix(suffix, "{") {
			end := strings.IndexByte(suffix, '}')
			if end < 0 {
				return plumbing.ZeroHash, fmt.Errorf("%w: unclosed ^{", ErrUnknownRevision)
			}
			switch kind := suffix[1:end]; kind {
			case "commit", "":
				if h, err = r.peel(h); err != nil {
					return plumbing.ZeroHash, err
				}
			default:
				return plumbing.ZeroHash, fmt.Errorf("%w: ^{%s} is not supported (only ^{commit} and ^{})", ErrUnknownRevision, kind)
			}
			suffix = suffix[end+1:]
			continue
		}
		j := 0
		for j < len(suffix) && '0' <= suffix[j] && suffix[j] <= '9' {
			j++
		}
		n := 1
		if j > 0 {
			if n, err = strconv.Atoi(suffix[:j]); err != nil || n > 1<<20 {
				return plumbing.ZeroHash, fmt.Errorf("%w: bad number %q", ErrUnknownRevision, suffix[:j])
			}
		}
		suffix = suffix[j:]
		if h, err = r.peel(h); err != nil {
			return plumbing.ZeroHash, err
		}
		if op == '~' {
			for k := 0; k < n; k++ {
				if h, err = r.parent(h, 1); err != nil {
					return plumbing.ZeroHash, err
				}
			}
		} else if n > 0 {
			if h, err = r.parent(h, n); err != nil {
				return plumbing.ZeroHash, err
			}
		}
	}
	return r.peel(h)
}

// parent returns the nth (1-based) parent of commit h.
func (r *Repo) parent(h plumbing.Hash, n int) (plumbing.Hash, error) {
	c, err := r.commit(h)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if n > len(c.ParentHashes) || r.shallow[h] {
		return plumbing.ZeroHash, fmt.Errorf("%w: commit %s has no parent %d", ErrUnknownRevision, h, n)
	}
	return c.ParentHashes[n-1], nil
}

// peel follows tags from object h to a commit.
func (r *Repo) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range maxPeel {
		o, err := r.object(plumbing.AnyObject, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return plumbing.ZeroHash, fmt.Errorf("%w: object %s not found", ErrUnknownRevision, h)
		}
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read object %s: %w", h, err)
		}
		switch o.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			r.mu.Lock()
			t, err := object.DecodeTag(r.st, o)
			r.mu.Unlock()
			if err != nil {
				return plumbing.ZeroHash, fmt.Errorf("decode tag %s: %w", h, err)
			}
			h = t.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%w: %s is a %s, not a commit", ErrUnknownRevision, h, o.Type())
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: more than %d nested tags", ErrUnknownRevision, maxPeel)
}

// resolveBase resolves the part of a revision before any suffix to an
// object hash (not yet peeled).
func (r *Repo) resolveBase(name string) (plumbing.Hash, error) {
	if name == "@" {
		name = "HEAD"
	}
	if len(name) == 2*len(plumbing.ZeroHash) && isHex(name) {
		return plumbing.NewHash(strings.ToLower(name)), nil
	}
	h, found, err := r.lookupRef(name)
	if err != nil || found {
		return h, err
	}
	if len(name) >= minAbbrev && isHex(name) {
		return r.resolveAbbrev(strings.ToLower(name))
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: no reference or object named %q", ErrUnknownRevision, name)
}

// lookupRef tries name against the reference rules in git's order.
func (r *Repo) lookupRef(name string) (plumbing.Hash, bool, error) {
	for i, rule := range plumbing.RefRevParseRules {
		if i == 0 && !strings.HasPrefix(name, "refs/") && !isPseudoRef(name) {
			continue // git reads only HEAD-like names at the top of the git directory
		}
		full := plumbing.ReferenceName(fmt.Sprintf(rule, name))
		r.mu.Lock()
		ref, err := storer.ResolveReference(r.st, full)
		r.mu.Unlock()
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			continue
		}
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("read reference %s: %w", full, err)
		}
		return ref.Hash(), true, nil
	}
	return plumbing.ZeroHash, false, nil
}

// resolveAbbrev finds the one object whose hash starts with prefix (lower
// case hex). When several do, the one commit (or tag of a commit) among them
// is taken, as git does for a revision that must name a commit.
func (r *Repo) resolveAbbrev(prefix string) (plumbing.Hash, error) {
	even, err := hex.DecodeString(prefix[:len(prefix)&^1])
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("%w: %q is not hex", ErrUnknownRevision, prefix)
	}
	r.mu.Lock()
	cands, err := r.st.HashesWithPrefix(even)
	r.mu.Unlock()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("look up objects starting with %s: %w", prefix, err)
	}
	var matches []plumbing.Hash
	seen := make(map[plumbing.Hash]bool)
	for _, h := range cands {
		if strings.HasPrefix(h.String(), prefix) && !seen[h] {
			seen[h] = true
			matches = append(matches, h)
		}
	}
	switch len(matches) {
	case 0:
		return plumbing.ZeroHash, fmt.Errorf("%w: no reference or object named %q", ErrUnknownRevision, prefix)
	case 1:
		return matches[0], nil
	}
	var commits []plumbing.Hash
	for _, h := range matches {
		if _, err := r.peel(h); err == nil {
			commits = append(commits, h)
		}
	}
	if len(commits) == 1 {
		return commits[0], nil
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: abbreviated hash %q is ambiguous (%d objects); use more digits", ErrUnknownRevision, prefix, len(matches))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isPseudoRef reports whether name has the form git looks up directly in
// the git directory: capital letters and underscores, like HEAD.
func isPseudoRef(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('A' <= c && c <= 'Z' || c == '_') {
			return false
		}
	}
	return name != ""
}
