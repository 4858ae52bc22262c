package dvc

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
)

func sum(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

const m = "3863d0e317dee0a55c4e59d2ec0eef33"

func TestParse(t *testing.T) {
	outs, err := Parse("data/x.dvc", []byte("outs:\n- md5: "+m+"\n  size: 12\n  hash: md5\n  path: x.csv\n  isexec: true\n- md5: "+m+".dir\n  size: 99\n  nfiles: 3\n  path: ../imgs\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Out{{Path: "data/x.csv", MD5: m, Size: 12, Exec: true}, {Path: "imgs", MD5: m, Dir: true, Size: 99, Legacy: true}}
	if len(outs) != 2 || outs[0] != want[0] || outs[1] != want[1] {
		t.Fatalf("got %+v", outs)
	}
	for name, in := range map[string]string{
		"no outs":        "deps:\n- path: x\n",
		"escapes":        "outs:\n- md5: " + m + "\n  path: ../../x\n",
		"absolute":       "outs:\n- md5: " + m + "\n  path: /etc/passwd\n",
		"into .git":      "outs:\n- md5: " + m + "\n  path: ../.git/config\n",
		"windows drive":  "outs:\n- md5: " + m + "\n  path: C:x\n",
		"bad md5":        "outs:\n- md5: 3863D0E317DEE0A55C4E59D2EC0EEF33\n  path: x\n",
		"other hash":     "outs:\n- md5: " + m + "\n  hash: sha256\n  path: x\n",
		"negative size":  "outs:\n- md5: " + m + "\n  size: -1\n  path: x\n",
		"not yaml":       "outs: [\n",
		"no path":        "outs:\n- md5: " + m + "\n",
		"cloud versions": "outs:\n- etag: abc\n  path: x\n",
	} {
		if _, err := Parse("data/x.dvc", []byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Parse("x.dvc", bytes.Repeat([]byte("#"), MaxDVCFile+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("large: %v", err)
	}
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	c := Cache{Dir: dir}
	put := func(b []byte, name string, old bool) {
		p := filepath.Join(dir, "files", "md5", name[:2], name[2:])
		if old {
			p = filepath.Join(dir, name[:2], name[2:])
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o444)
	}
	data := []byte("a,b\r\n1,2\r\n")
	unix := bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	put(data, sum(data), false)
	put(data, sum(unix), true)
	read := func(name string, legacy bool) ([]byte, error) {
		rc, ck, err := c.Reader(context.Background(), name, legacy)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, err
		}
		return b, ck.Check()
	}
	if b, err := read(sum(data), false); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("DVC 3: %q, %v", b, err)
	}
	if b, err := read(sum(unix), true); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("DVC 2 dos2unix: %q, %v", b, err)
	}
	if _, err := read(sum(unix), false); !errors.Is(err, cas.ErrCorrupt) {
		t.Fatalf("dos2unix md5 without legacy: %v", err)
	}
	if _, err := read(m, false); !errors.Is(err, ErrMissing) {
		t.Fatalf("missing: %v", err)
	}
	// Listings: checked against their md5, relpaths inside the directory.
	good := []byte(`[{"md5": "` + sum(data) + `", "relpath": "a/b.csv"}, {"md5": "` + m + `", "relpath": "c"}]`)
	put(good, sum(good)+".dir", true)
	files, err := c.Listing(Out{Path: "imgs", MD5: sum(good), Dir: true})
	if err != nil || len(files) != 2 || files[0] != (File{"imgs/a/b.csv", sum(data)}) || files[1].Path != "imgs/c" {
		t.Fatalf("listing: %+v, %v", files, err)
	}
	for name, l := range map[string]string{
		"escapes":  `[{"md5": "` + m + `", "relpath": "../x"}]`,
		"twice":    `[{"md5": "` + m + `", "relpath": "x"}, {"md5": "` + m + `", "relpath": "./x"}]`,
		"bad md5":  `[{"md5": "nope", "relpath": "x"}]`,
		"not json": `{"md5"`,
	} {
		b := []byte(l)
		put(b, sum(b)+".dir", false)
		if _, err := c.Listing(Out{Path: "imgs", MD5: sum(b), Dir: true}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A listing whose content is not its md5.
	put([]byte("[]"), m+".dir", false)
	if _, err := c.Listing(Out{Path: "imgs", MD5: m, Dir: true}); !errors.Is(err, cas.ErrCorrupt) || !strings.Contains(err.Error(), "imgs") {
		t.Errorf("damaged listing: %v", err)
	}
}
