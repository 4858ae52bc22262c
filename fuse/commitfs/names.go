package commitfs

import (
	"strings"
	"syscall"
	"unicode/utf8"
)

// gitRefuses reports whether git would refuse to check out the tree entry
// name, of git mode mode, found in the directory at dir ("" for the root):
// the names that could overwrite or stand in for a repository's own files.
// git checks them in verify_path with core.protectNTFS (on by default
// everywhere) and core.protectHFS (on by default on macOS); a mount shows
// a tree to programs on every platform, so it applies both, always:
//
//   - ".git" in any spelling that some file system resolves to ".git":
//     ASCII case does not matter; NTFS drops trailing spaces and dots,
//     reads "name:stream" as the file name, knows the short name "git~1",
//     and takes a backslash for a separator (so each part after a
//     backslash counts too); HFS+ ignores some invisible code points
//     (ZERO WIDTH JOINER and others, see hfsIgnored) anywhere in a name;
//   - for a symlink, ".gitmodules" in the same spellings, including its
//     NTFS short names, and any path below a directory of that name,
//     which git would then read through the link. This package refuses
//     ".gitattributes", ".gitignore" and ".mailmap" symlinks the same way:
//     git checks those out, but never reads them through a link (fsck
//     reports them), while programs reading the mount would.
//
// Only the entry's own name is new: its directories passed this test when
// they were listed, and the rules for symlinks are the only ones that look
// at the directories above a name.
func gitRefuses(dir, name string, mode uint32) bool {
	if mode&syscall.S_IFMT != ModeSymlink {
		return refusedPath(name, false)
	}
	return refusedPath(childPath(dir, name), true)
}

// linkNames are the dot files that must not be symlinks, with the first
// six characters of the NTFS short names Windows derives from their hash
// when the usual short name (the first six characters, "~", a digit) is
// taken.
var linkNames = []struct{ name, short string }{
	{"gitmodules", "gi7eba"},
	{"gitattributes", "gi7d29"},
	{"gitignore", "gi250a"},
	{"mailmap", "maba30"},
}

// refusedPath applies the rules of gitRefuses to p, a "/"-separated path.
// Like git, it tests the rest of the path wherever a component starts and
// after every backslash (NTFS's separator), and the HFS rules only where a
// component starts.
func refusedPath(p string, symlink bool) bool {
	for i := 0; i <= len(p); i++ {
		if i > 0 && p[i-1] != '/' && p[i-1] != '\\' {
			continue
		}
		rest := p[i:]
		if ntfsDotGit(rest) {
			return true
		}
		componentStart := i == 0 || p[i-1] == '/'
		if componentStart && hfsDot(rest, "git") {
			return true
		}
		if !symlink {
			continue
		}
		for _, n := range linkNames {
			if ntfsDotName(rest, n.name, n.short) || componentStart && hfsDot(rest, n.name) {
				return true
			}
		}
	}
	return false
}

// ntfsDotGit reports whether s starts with a name NTFS takes for ".git":
// ".git" or its short name "git~1" in any ASCII case, then only spaces
// and dots, up to the end of s, a separator ("/" or "\") or a colon (an
// alternate data stream of ".git").
func ntfsDotGit(s string) bool {
	var rest string
	switch {
	case len(s) >= 4 && s[0] == '.' && asciiEqualFold(s[1:4], "git"):
		rest = s[4:]
	case len(s) >= 5 && asciiEqualFold(s[:3], "git") && s[3:5] == "~1":
		rest = s[5:]
	default:
		return false
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '/', '\\', ':':
			return true
		case ' ', '.':
		default:
			return false
		}
	}
	return true
}

// ntfsDotName reports whether s starts with a name NTFS takes for "."+name
// (name in lower case, short its six-character hashed short-name prefix):
// "."+name in any ASCII case, the first six characters of name then "~"
// and a digit 1 to 4, or any eight-character short name made of a prefix
// of short, "~", and digits starting with 1 to 9; then only spaces and
// dots up to the end of s or a colon. git matches these short names
// loosely on purpose; so does this.
func ntfsDotName(s, name, short string) bool {
	if len(s) > len(name) && s[0] == '.' && asciiEqualFold(s[1:1+len(name)], name) {
		return onlySpacesAndDots(s[1+len(name):])
	}
	if len(s) >= 8 && asciiEqualFold(s[:6], name[:6]) && s[6] == '~' && s[7] >= '1' && s[7] <= '4' {
		return onlySpacesAndDots(s[8:])
	}
	if len(s) < 8 {
		return false
	}
	tilde := strings.IndexByte(s[:7], '~')
	if tilde < 0 || s[tilde+1] < '1' || s[tilde+1] > '9' {
		return false
	}
	for i := range tilde {
		if s[i] >= utf8.RuneSelf || toLowerASCII(s[i]) != short[i] {
			return false
		}
	}
	for i := tilde + 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return onlySpacesAndDots(s[8:])
}

// onlySpacesAndDots reports whether s holds only spaces and dots up to its
// end or a colon.
func onlySpacesAndDots(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			return true
		case ' ', '.':
		default:
			return false
		}
	}
	return true
}

// hfsDot reports whether s starts with a name HFS+ takes for "."+needle
// (needle in lower case ASCII): the same letters in any ASCII case, with
// any of the code points HFS+ ignores anywhere, up to the end of s or a
// "/". Like git, bytes that are not UTF-8 end the name.
func hfsDot(s, needle string) bool {
	r, s := nextHFSRune(s)
	if r != '.' {
		return false
	}
	for i := 0; i < len(needle); i++ {
		r, s = nextHFSRune(s)
		if r >= utf8.RuneSelf || toLowerASCII(byte(r)) != needle[i] {
			return false
		}
	}
	r, _ = nextHFSRune(s)
	return r == 0 || r == '/'
}

// nextHFSRune returns the first code point of s that HFS+ does not ignore,
// and what follows it. It returns 0 at the end of s and at bytes that are
// not UTF-8 (git's decoder also refuses U+FFFE and U+FFFF).
func nextHFSRune(s string) (rune, string) {
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n == 1 || r == 0xfffe || r == 0xffff {
			return 0, ""
		}
		s = s[n:]
		if !hfsIgnored(r) {
			return r, s
		}
	}
	return 0, ""
}

// hfsIgnored reports whether HFS+ drops r from file names when it compares
// them: joiners, direction marks and other invisible formatting.
func hfsIgnored(r rune) bool {
	return r >= 0x200c && r <= 0x200f || // zero width (non-)joiner, direction marks
		r >= 0x202a && r <= 0x202e || // direction embeddings and overrides
		r >= 0x206a && r <= 0x206f || // deprecated shaping controls
		r == 0xfeff // zero width no-break space (byte order mark)
}

func toLowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// asciiEqualFold compares s and lower, a lower-case ASCII string of the
// same length, ignoring ASCII case only (strings.EqualFold would also
// fold the Kelvin sign to "k" and the long s to "s").
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if toLowerASCII(s[i]) != lower[i] {
			return false
		}
	}
	return true
}
