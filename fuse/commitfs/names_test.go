package commitfs

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// refusedNames are tree entries and whether gitRefuses hides them. dir is
// the directory they are in; link means a symlink (else a regular file,
// which a directory is treated like). notGit marks what this package
// hides and git itself checks out (the symlinks git never follows).
var refusedNames = []struct {
	dir, name    string
	link, refuse bool
	notGit       bool
}{
	// .git in every case and NTFS spelling.
	{name: ".git", refuse: true},
	{name: ".GIT", refuse: true},
	{name: ".Git", refuse: true},
	{name: ".git.", refuse: true},
	{name: ".git ", refuse: true},
	{name: ".git . .", refuse: true},
	{name: ".git...", refuse: true},
	{name: ".git::$INDEX_ALLOCATION", refuse: true},
	{name: ".git:anything", refuse: true},
	{name: "git~1", refuse: true},
	{name: "GIT~1", refuse: true},
	{name: "git~1 .", refuse: true},
	{name: "git~1:x", refuse: true},
	{name: `sub\.git`, refuse: true},
	{name: `a\b\GIT~1`, refuse: true},
	{name: `.git\x`, refuse: true},
	{dir: "a/b", name: ".GIT", refuse: true},
	{name: ".git", link: true, refuse: true},
	// .git in HFS+ spellings.
	{name: ".g\u200cit", refuse: true},
	{name: ".gi\u200dt", refuse: true},
	{name: "\u200e.git", refuse: true},
	{name: ".git\u200f", refuse: true},
	{name: ".\u202aG\u202bI\u202cT\u202d\u202e", refuse: true},
	{name: ".g\u206ai\u206ft\ufeff", refuse: true},
	{name: ".git\xff", refuse: true},         // not UTF-8: ends the name, as in git
	{name: ".git\xef\xbf\xbe", refuse: true}, // U+FFFE, which git's decoder refuses
	// Names that are not .git.
	{name: "git"},
	{name: ".gitx"},
	{name: ".git-x"},
	{name: ".git.x"},
	{name: ".git x"},
	{name: ".gi"},
	{name: "..git"},
	{name: "git~2"},
	{name: "git~10"},
	{name: "git~1x"},
	{name: "xgit~1"},
	{name: ".g\u00a0it"},       // NO-BREAK SPACE is not ignored
	{name: ".git\u00a0"},       // nor at the end
	{name: ".g\u200bit"},       // ZERO WIDTH SPACE is not in HFS+'s list
	{name: ".gi\u0074\u0301"},  // a combining accent is a character
	{name: ".git\xef\xbf\xbd"}, // U+FFFD is a character
	{name: ".\u212a"},          // no ASCII folding beyond ASCII
	{name: ".gitignore"},
	{name: ".gitmodules"},
	{name: ".gitattributes"},
	{name: ".mailmap"},
	{name: "gitmod~1"},
	{name: `x\y`},
	{name: `.gitmodules\x`, link: true},
	// Symlinks git refuses: .gitmodules in every spelling, and paths
	// below a directory named .gitmodules.
	{name: ".gitmodules", link: true, refuse: true},
	{name: ".GitModules", link: true, refuse: true},
	{name: ".gitmodules .", link: true, refuse: true},
	{name: ".gitmodules:x", link: true, refuse: true},
	{name: "gitmod~1", link: true, refuse: true},
	{name: "GITMOD~4", link: true, refuse: true},
	{name: "gi7eba~1", link: true, refuse: true},
	{name: "gi7eb~12", link: true, refuse: true},
	{name: "gi7~1234", link: true, refuse: true},
	{name: ".g\u200citmodules", link: true, refuse: true},
	{name: `x\.gitmodules`, link: true, refuse: true},
	{dir: "d", name: ".gitmodules", link: true, refuse: true},
	{dir: ".gitmodules", name: "link", link: true, refuse: true},
	{dir: "a/.GITMODULES/b", name: "link", link: true, refuse: true},
	{dir: ".git\u200cmodules", name: "link", link: true, refuse: true},
	{dir: ".gitmodules:s", name: "link", link: true, refuse: true},
	{dir: ".gitmodules", name: "file"},
	{dir: ".gitmodules.", name: "link", link: true},
	{name: "gitmod~5", link: true},
	{name: "gi7ebb~1", link: true},
	{name: "gitmodules", link: true},
	{name: ".gitmodulesx", link: true},
	// Symlinks git checks out but never follows: hidden all the same.
	{name: ".gitattributes", link: true, refuse: true, notGit: true},
	{name: ".GITIGNORE ", link: true, refuse: true, notGit: true},
	{name: ".mailmap", link: true, refuse: true, notGit: true},
	{name: "gitign~1", link: true, refuse: true, notGit: true},
	{name: "maba30~1", link: true, refuse: true, notGit: true},
	{name: ".mail\u200dmap", link: true, refuse: true, notGit: true},
	{name: "gitattr~1", link: true},
}

func TestGitRefuses(t *testing.T) {
	for _, c := range refusedNames {
		mode := uint32(ModeRegular)
		if c.link {
			mode = ModeSymlink
		}
		if got := gitRefuses(c.dir, c.name, mode); got != c.refuse {
			t.Errorf("gitRefuses(%q, %q, %o) = %v, want %v", c.dir, c.name, mode, got, c.refuse)
		}
	}
	if gitRefuses("", ".git", ModeDir) != true || gitRefuses("", ".git", ModeSubmodule) != true {
		t.Error(".git as a directory or a submodule is not refused")
	}
}

// TestGitRefusesAgreesWithGit asks git itself, with both protections on,
// whether it accepts each path into its index (verify_path, as checkout
// does): it refuses what gitRefuses refuses, except the symlinks marked
// notGit.
func TestGitRefusesAgreesWithGit(t *testing.T) {
	g := newGitRepo(t)
	blob := g.git([]byte("x\n"), "hash-object", "-w", "--stdin")
	for _, c := range refusedNames {
		mode := "100644"
		if c.link {
			mode = "120000"
		}
		path := childPath(c.dir, c.name)
		cmd := exec.Command("git", "-c", "core.protectNTFS=true", "-c", "core.protectHFS=true",
			"update-index", "--add", "--cacheinfo", fmt.Sprintf("%s,%s,%s", mode, blob, path))
		cmd.Dir, cmd.Env = g.dir, g.env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		refused := cmd.Run() != nil
		if want := c.refuse && !c.notGit; refused != want {
			t.Errorf("git update-index of %q (%s): refused %v, want %v: %s", path, mode, refused, want, strings.TrimSpace(stderr.String()))
		}
		g.git(nil, "read-tree", "--empty")
	}
}
