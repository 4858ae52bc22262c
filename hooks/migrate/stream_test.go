package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lodevcs/lode/hooks/lfs"
)

// memBlobs is blobs by id, for transcripts.
type memBlobs map[string][]byte

func (m memBlobs) Size(ctx context.Context, id string) (int64, error) {
	b, ok := m[id]
	if !ok {
		return 0, fmt.Errorf("object %s missing", id)
	}
	return int64(len(b)), nil
}

func (m memBlobs) Read(ctx context.Context, id string, max int64) ([]byte, error) {
	b, ok := m[id]
	if !ok || int64(len(b)) > max {
		return nil, fmt.Errorf("object %s: missing or too large", id)
	}
	return b, nil
}

func (m memBlobs) Stream(ctx context.Context, id string, fn func(io.Reader, int64) error) error {
	b, ok := m[id]
	if !ok {
		return fmt.Errorf("object %s missing", id)
	}
	return fn(bytes.NewReader(b), int64(len(b)))
}

func id(c byte) string { return strings.Repeat(string(c), 40) }

func TestRewrite(t *testing.T) {
	content := []byte("the data\n")
	lp := lfs.Pointer{OID: sha256.Sum256(content), Size: int64(len(content))}
	blobs := memBlobs{
		id('a'): []byte("*.bin filter=lfs diff=lfs merge=lfs -text\n"),
		id('b'): lp.Encode(),
		id('c'): bytes.Repeat([]byte("x"), 5000), // a plain large file
		id('d'): []byte("version https://git-lfs.github.com/spec/v1\nnot really\n"),
	}
	in := "feature done\n" +
		"reset refs/heads/main\n" +
		"commit refs/heads/main\nmark :1\noriginal-oid " + id('1') + "\n" +
		"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\ndata 11\nfirst\n\nM 1\n" +
		"M 100644 " + id('a') + " .gitattributes\n" +
		"M 100644 " + id('b') + " data/x.bin\n" +
		"M 100755 " + id('b') + " \"d\\303\\251j\\303\\240.bin\"\n" +
		"M 100644 " + id('c') + " big.txt\n" +
		"M 100644 " + id('d') + " odd.txt\n" +
		"M 120000 " + id('b') + " link\n" +
		"M 160000 " + id('e') + " sub\n\n" +
		"tag v1\nfrom :1\noriginal-oid " + id('2') + "\ntagger T <t@x> 2 +0000\ndata 4\nmsg\n\n" +
		"reset refs/tags/light\nfrom :1\n\n" +
		"done\n"
	var converted []string
	rw := &Rewriter{
		Blobs: blobs,
		Convert: func(ctx context.Context, path string, p lfs.Pointer) ([]byte, error) {
			converted = append(converted, path)
			return []byte("LODE " + p.Hex()[:8] + "\n"), nil
		},
	}
	var out bytes.Buffer
	res, err := rw.Rewrite(context.Background(), strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	lode := "LODE " + lp.Hex()[:8] + "\n"
	want := "feature done\n" +
		"reset refs/lode-migrate/new/heads/main\n" +
		"commit refs/lode-migrate/new/heads/main\nmark :1\noriginal-oid " + id('1') + "\n" +
		"author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\ndata 11\nfirst\n\nM 1\n" +
		"M 100644 inline .gitattributes\ndata 24\n*.bin filter=lode -text\n\n" +
		"M 100644 inline data/x.bin\ndata 14\n" + lode + "\n" +
		"M 100755 inline \"d\\303\\251j\\303\\240.bin\"\ndata 14\n" + lode + "\n" +
		"M 100644 " + id('c') + " big.txt\n" +
		"M 100644 " + id('d') + " odd.txt\n" +
		"M 120000 " + id('b') + " link\n" +
		"M 160000 " + id('e') + " sub\n\n" +
		"reset refs/lode-migrate/new/tags/light\nfrom :1\n\n" +
		"done\n"
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if len(converted) != 1 || converted[0] != "data/x.bin" {
		t.Fatalf("converted %q (once per object)", converted)
	}
	if res.Stats.Commits != 1 || res.LFSFiles != 2 || res.LFSObjects != 1 || res.LFSBytes != lp.Size || res.Attributes != 1 {
		t.Fatalf("stats %+v", res.Stats)
	}
	if len(res.Commits) != 1 || res.Commits[0] != (CommitMark{":1", id('1')}) {
		t.Fatalf("commits %+v", res.Commits)
	}
	if len(res.Tags) != 1 || res.Tags[0].Name != "v1" || res.Tags[0].From != ":1" || res.Tags[0].Tagger != "T <t@x> 2 +0000" || string(res.Tags[0].Message) != "msg\n" {
		t.Fatalf("tags %+v", res.Tags)
	}

	// Include sees the unquoted path.
	var seen []string
	rw = &Rewriter{Blobs: blobs, Include: func(p string) bool { seen = append(seen, p); return strings.HasPrefix(p, "data/") },
		Convert: func(ctx context.Context, path string, p lfs.Pointer) ([]byte, error) { return []byte("L\n"), nil }}
	res, err = rw.Rewrite(context.Background(), strings.NewReader(in), &bytes.Buffer{})
	if err != nil || res.LFSFiles != 1 || res.Excluded != 1 || len(seen) != 2 || seen[1] != "déjà.bin" {
		t.Fatalf("include: %+v, %q, %v", res, seen, err)
	}
}

func TestRewriteErrors(t *testing.T) {
	lp := lfs.Pointer{OID: sha256.Sum256([]byte("x")), Size: 1}
	blobs := memBlobs{id('b'): lp.Encode()}
	commit := "commit refs/heads/main\nmark :1\noriginal-oid " + id('1') + "\ncommitter A <a@x> 1 +0000\ndata 2\nm\n"
	failing := errors.New("object damaged")
	for name, tc := range map[string]struct {
		in, want string
		convert  error
	}{
		"cut in data":     {in: commit[:len(commit)-2], want: "unexpected EOF"},
		"cut in a line":   {in: commit + "M 100644 " + id('b'), want: "middle of a line"},
		"not a ref":       {in: "commit HEAD\n", want: "not a ref"},
		"bad data":        {in: "commit refs/heads/x\ndata -1\n", want: "bad data line"},
		"unknown blob":    {in: commit + "M 100644 " + id('z') + " f\n", want: "missing"},
		"convert fails":   {in: commit + "M 100644 " + id('b') + " f.bin\n", convert: failing, want: "f.bin (Git LFS object sha256:"},
		"tag without end": {in: "tag v1\nfrom :1\n", want: "tag v1"},
	} {
		rw := &Rewriter{Blobs: blobs, Convert: func(ctx context.Context, path string, p lfs.Pointer) ([]byte, error) {
			if tc.convert != nil {
				return nil, tc.convert
			}
			return []byte("L\n"), nil
		}}
		_, err := rw.Rewrite(context.Background(), strings.NewReader(tc.in), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.convert != nil && !errors.Is(err, tc.convert)) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
