package migrate

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/hooks/dvc"
)

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// dvcCache is a DVC cache in a temporary directory (DVC 3's layout).
type dvcCache struct {
	t   *testing.T
	dir string
}

func (c dvcCache) put(b []byte, name string) string {
	if name == "" {
		name = md5hex(b)
	}
	p := filepath.Join(c.dir, "files", "md5", name[:2], name[2:])
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return name
}

// dir puts a listing of files (relpath -> content) and its objects.
func (c dvcCache) list(files ...string) string {
	var entries []string
	for i := 0; i < len(files); i += 2 {
		entries = append(entries, fmt.Sprintf(`{"md5": "%s", "relpath": "%s"}`, c.put([]byte(files[i+1]), ""), files[i]))
	}
	l := []byte("[" + strings.Join(entries, ", ") + "]")
	return c.put(l, md5hex(l)+".dir")
}

func dvcFile(sum, p string) []byte {
	return []byte(fmt.Sprintf("outs:\n- md5: %s\n  size: 3\n  hash: md5\n  path: %s\n", sum, p))
}

// cleanEcho is a Clean that returns "P " and the content.
func cleanEcho(calls *[]string) func(ctx context.Context, path string, r io.Reader) ([]byte, error) {
	return func(ctx context.Context, path string, r io.Reader) ([]byte, error) {
		b, err := io.ReadAll(r)
		*calls = append(*calls, path)
		return append([]byte("P "), b...), err
	}
}

func inline(mode, p, content string) string {
	return fmt.Sprintf("M %s inline %s\ndata %d\n%s\n", mode, p, len(content), content)
}

func commitHead(n int, from string) string {
	h := fmt.Sprintf("commit refs/heads/main\nmark :%d\noriginal-oid %s\ncommitter A <a@x> 1 +0000\ndata 2\nm\n", n, id(byte('0'+n)))
	if from != "" {
		h += "from " + from + "\n"
	}
	return h
}

// A file output changing versions, a directory output changing versions,
// a .dvc file removed, then another: the outputs become lode files at
// their paths, the .dvc files go, DVC's .gitignore lines go (an emptied
// .gitignore with them, and come back when the output goes), and the
// root .gitattributes sends the outputs to lode.
func TestRewriteDVC(t *testing.T) {
	c := dvcCache{t, t.TempDir()}
	l1 := c.list("a.txt", "aaa", "sub/b.bin", "bbb")
	l2 := c.list("a.txt", "aaa", "c.bin", "ccc")
	blobs := memBlobs{
		id('a'): []byte("*.txt text\n"),
		id('g'): []byte("/images\n/keep\n"),
		id('h'): []byte("/x.csv\r\n"),
		id('d'): dvcFile(c.put([]byte("x1\n"), ""), "x.csv"),
		id('e'): dvcFile(c.put([]byte("x2\n"), ""), "x.csv"),
		id('i'): dvcFile(l1, "images"),
		id('j'): dvcFile(l2, "images"),
		id('r'): []byte("readme\n"),
	}
	in := "feature done\nreset refs/heads/main\n" +
		commitHead(1, "") +
		"M 100644 " + id('a') + " .gitattributes\n" +
		"M 100644 " + id('g') + " .gitignore\n" +
		"M 100644 " + id('r') + " README\n" +
		"M 100644 " + id('h') + " data/.gitignore\n" +
		"M 100644 " + id('d') + " data/x.csv.dvc\n" +
		"M 100644 " + id('i') + " images.dvc\n" +
		"M 100644 " + id('r') + " .dvc/config\n\n" +
		commitHead(2, ":1") +
		"M 100644 " + id('e') + " data/x.csv.dvc\n" +
		"M 100644 " + id('j') + " images.dvc\n\n" +
		commitHead(3, ":2") +
		"D data/.gitignore\n" +
		"D data/x.csv.dvc\n" +
		"M 100644 " + id('e') + " data/x.csv\n\n" +
		commitHead(4, ":3") +
		"D images.dvc\n\n" +
		"done\n"
	var calls []string
	rw := &Rewriter{Blobs: blobs, DVC: &DVC{Cache: dvc.Cache{Dir: c.dir}, Clean: cleanEcho(&calls)}}
	var out bytes.Buffer
	res, err := rw.Rewrite(context.Background(), strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	attrs := "*.txt text\n/data/x.csv filter=lode -text\n/images/** filter=lode -text\n"
	want := "feature done\nreset refs/lode-migrate/new/heads/main\n" +
		"commit refs/lode-migrate/new/heads/main\nmark :1\noriginal-oid " + id('1') + "\ncommitter A <a@x> 1 +0000\ndata 2\nm\n" +
		"D data/x.csv\nD images\n" +
		"M 100644 " + id('r') + " README\n" +
		"M 100644 " + id('r') + " .dvc/config\n" +
		inline("100644", "data/x.csv", "P x1\n") +
		inline("100644", "images/a.txt", "P aaa") + inline("100644", "images/sub/b.bin", "P bbb") +
		inline("100644", ".gitignore", "/keep\n") +
		"D data/.gitignore\n" +
		inline("100644", ".gitattributes", attrs) + "\n" +
		"commit refs/lode-migrate/new/heads/main\nmark :2\noriginal-oid " + id('2') + "\ncommitter A <a@x> 1 +0000\ndata 2\nm\nfrom :1\n" +
		"D data/x.csv\nD data/x.csv\nD images\nD images\n" +
		inline("100644", "data/x.csv", "P x2\n") +
		inline("100644", "images/a.txt", "P aaa") + inline("100644", "images/c.bin", "P ccc") +
		inline("100644", ".gitignore", "/keep\n") +
		"D data/.gitignore\n" +
		inline("100644", ".gitattributes", attrs) + "\n" +
		"commit refs/lode-migrate/new/heads/main\nmark :3\noriginal-oid " + id('3') + "\ncommitter A <a@x> 1 +0000\ndata 2\nm\nfrom :2\n" +
		"D data/x.csv\n" +
		"D data/.gitignore\nD data/x.csv.dvc\n" +
		"M 100644 " + id('e') + " data/x.csv\n" +
		inline("100644", ".gitattributes", "*.txt text\n/images/** filter=lode -text\n") + "\n" +
		"commit refs/lode-migrate/new/heads/main\nmark :4\noriginal-oid " + id('4') + "\ncommitter A <a@x> 1 +0000\ndata 2\nm\nfrom :3\n" +
		"D images\n" +
		"D images.dvc\n" +
		"M 100644 " + id('g') + " .gitignore\n" +
		"M 100644 " + id('a') + " .gitattributes\n\n" +
		"done\n"
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	// Each object once: x1, aaa, bbb, x2, ccc.
	if strings.Join(calls, " ") != "data/x.csv images/a.txt images/sub/b.bin data/x.csv images/c.bin" {
		t.Fatalf("Clean calls: %q", calls)
	}
	if res.Stats.Commits != 4 || res.DVCFiles != 4 || res.DVCOutFiles != 6 || res.DVCObjects != 5 || res.DVCBytes != 15 {
		t.Fatalf("stats %+v", res.Stats)
	}
}

// With --full-tree (a range), every commit starts with deleteall and
// lists its whole tree: the outputs are written again in each.
func TestRewriteDVCFullTree(t *testing.T) {
	c := dvcCache{t, t.TempDir()}
	blobs := memBlobs{
		id('d'): dvcFile(c.put([]byte("x1\n"), ""), "../x.csv"),
		id('g'): []byte("/x.csv\n"),
	}
	in := commitHead(1, id('f')) + "deleteall\n" +
		"M 100644 " + id('g') + " .gitignore\n" +
		"M 100644 " + id('d') + " sub/x.dvc\n\n"
	var calls []string
	rw := &Rewriter{Blobs: blobs, DVC: &DVC{Cache: dvc.Cache{Dir: c.dir}, Clean: cleanEcho(&calls)}, FullTree: true}
	var out bytes.Buffer
	if _, err := rw.Rewrite(context.Background(), strings.NewReader(in+strings.Replace(in, "mark :1", "mark :2", 1)), &out); err != nil {
		t.Fatal(err)
	}
	one := "D x.csv\ndeleteall\n" + inline("100644", "x.csv", "P x1\n") + "D .gitignore\n" +
		inline("100644", ".gitattributes", "/x.csv filter=lode -text\n") + "\n"
	if got := out.String(); strings.Count(got, one) != 2 || len(calls) != 1 {
		t.Fatalf("got:\n%s\nwant twice:\n%s\n(Clean calls %q)", got, one, calls)
	}
	// Without --full-tree, a parent outside the stream is refused.
	rw = &Rewriter{Blobs: blobs, DVC: &DVC{Cache: dvc.Cache{Dir: c.dir}, Clean: cleanEcho(&calls)}}
	if _, err := rw.Rewrite(context.Background(), strings.NewReader(in), io.Discard); err == nil || !strings.Contains(err.Error(), "outside the stream") {
		t.Fatalf("excluded parent without --full-tree: %v", err)
	}
}

func TestRewriteDVCErrors(t *testing.T) {
	c := dvcCache{t, t.TempDir()}
	good := c.put([]byte("good\n"), "")
	damaged := c.put([]byte("damaged\n"), md5hex([]byte("the original\n")))
	missing := md5hex([]byte("never cached\n"))
	listing := c.list("a", "aaa")
	missingDir := md5hex([]byte("[]")) + ".dir"
	blobs := memBlobs{
		id('b'): []byte("outs: [\n"),
		id('g'): dvcFile(good, "g.bin"),
		id('m'): dvcFile(missing, "m.bin"),
		id('x'): dvcFile(damaged, "x.bin"),
		id('l'): dvcFile(listing, "dir"),
		id('n'): dvcFile(missingDir, "dir2"),
	}
	m := func(b byte, p string) string { return "M 100644 " + id(b) + " " + p + "\n" }
	for name, tc := range map[string]struct {
		in   string
		is   error
		want []string
	}{
		"bad yaml":        {in: commitHead(1, "") + m('b', "data/x.dvc") + "\n", is: dvc.ErrInvalid, want: []string{id('1'), "data/x.dvc"}},
		"missing object":  {in: commitHead(1, "") + m('g', "g.bin.dvc") + "\n" + commitHead(2, ":1") + m('m', "m.bin.dvc") + "\n", is: dvc.ErrMissing, want: []string{id('2'), "m.bin", "m.bin.dvc", missing}},
		"missing listing": {in: commitHead(1, "") + m('n', "dir2.dvc") + "\n", is: dvc.ErrMissing, want: []string{id('1'), "dir2", missingDir}},
		"damaged object":  {in: commitHead(1, "") + m('x', "x.dvc") + "\n", is: cas.ErrCorrupt, want: []string{id('1'), "x.bin", md5hex([]byte("the original\n"))}},
		"rename":          {in: commitHead(1, "") + "R a.dvc b.dvc\n\n", want: []string{"renames"}},
		"unknown parent":  {in: commitHead(1, ":7") + "\n", want: []string{"names no commit"}},
		"unknown blob":    {in: commitHead(1, "") + m('z', "z.dvc") + "\n", want: []string{id('1'), "z.dvc", "missing"}},
	} {
		var calls []string
		rw := &Rewriter{Blobs: blobs, DVC: &DVC{Cache: dvc.Cache{Dir: c.dir}, Clean: cleanEcho(&calls)}}
		_, err := rw.Rewrite(context.Background(), strings.NewReader(tc.in), io.Discard)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: %v, want %v", name, err, tc.is)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v: no %q", name, err, w)
			}
		}
	}
	// Look (a dry run) counts what the cache lacks and fails on nothing
	// else; it reads no object.
	in := commitHead(1, "") + m('g', "g.dvc") + m('m', "m.dvc") + m('l', "l.dvc") + m('n', "n.dvc") + "\n" +
		commitHead(2, ":1") + m('m', "m2.dvc") + "\n"
	rw := &Rewriter{Blobs: blobs, DVC: &DVC{Cache: dvc.Cache{Dir: c.dir}, Look: true,
		Clean: func(context.Context, string, io.Reader) ([]byte, error) { return nil, errors.New("called") }}}
	res, err := rw.Rewrite(context.Background(), strings.NewReader(in), io.Discard)
	if err != nil || res.DVCMissing != 2 || res.DVCObjects != 2 || res.DVCFiles != 5 {
		t.Fatalf("look: %+v, %v", res, err)
	}
	// DVC goes alone.
	rw = &Rewriter{DVC: &DVC{}, Above: 10}
	if _, err := rw.Rewrite(context.Background(), strings.NewReader(""), io.Discard); err == nil {
		t.Fatal("DVC with Above")
	}
}

func TestDVCHelpers(t *testing.T) {
	for p, want := range map[string]bool{"x.dvc": true, "a/b/data.csv.dvc": true, ".dvc/config": false, ".dvc/x.dvc": false,
		"a/.dvc/x.dvc": false, ".dvc": false, "dvc.yaml": false, "x.dvcx": false} {
		if IsDVCFile(p) != want {
			t.Errorf("IsDVCFile(%q) != %v", p, want)
		}
	}
	for p, want := range map[string]string{"a b/c.csv": "a b/c.csv", `"q`: `"\"q"`, "a\nb": `"a\012b"`, `a\b`: `"a\\b"`, "déjà": "déjà"} {
		if got := quotePath(p); got != want {
			t.Errorf("quotePath(%q) = %s, want %s", p, got, want)
		}
		if back, err := unquotePath(quotePath(p)); err != nil || back != p {
			t.Errorf("unquotePath(quotePath(%q)) = %q, %v", p, back, err)
		}
	}
	if got := TrackLine("my data/x[1].csv", false); got != `/my\ data/x\[1].csv filter=lode -text` {
		t.Errorf("TrackLine: %s", got)
	}
	for _, tc := range []struct{ in, want string }{
		{"/a\n/b\n", "/b\n"}, {"/a/\r\n# c\n/a.x\n", "# c\n/a.x\n"}, {"/b\n/a", "/b\n"}, {"a\n", "a\n"},
	} {
		if got, _ := DropIgnoreLines([]byte(tc.in), map[string]bool{"/a": true, "/a/": true}); string(got) != tc.want {
			t.Errorf("DropIgnoreLines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
