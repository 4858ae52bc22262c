package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/hooks/lfs"
)

// lfsFiles recognises valid Git LFS pointers only, serves a good object,
// refuses a damaged or truncated one (cas.ErrCorrupt) and says what to
// run for a missing one.
func TestLFSFiles(t *testing.T) {
	dir := t.TempDir()
	l := &lfsFiles{r: &repo{workTree: "/the/repo"}}
	l.once.Do(func() { l.objs = lfs.NewObjects(dir, lfs.ObjectsOptions{}) })
	defer l.close()
	ctx := context.Background()

	data := bytes.Repeat([]byte("model weights "), 5000)
	p := lfs.Pointer{OID: sha256.Sum256(data), Size: int64(len(data))}
	fp, ok := l.Parse(p.Encode())
	if !ok || fp.Tool != "git-lfs" || fp.OID != p.String() || fp.Size != p.Size {
		t.Fatalf("Parse: %+v, %v", fp, ok)
	}
	if back, err := lfsPointer(fp); err != nil || back != p {
		t.Fatalf("lfsPointer: %v, %v", back, err)
	}
	for _, blob := range []string{"hello\n", "version https://git-lfs.github.com/spec/v1\noid sha256:zz\nsize 1\n", string(p.Encode()) + "ext-0-x y\n", "version lode/1\n"} {
		if fp, ok := l.Parse([]byte(blob)); ok {
			t.Errorf("Parse(%q) = %+v, want not a pointer", blob, fp)
		}
	}

	_, err := l.Open(ctx, fp)
	if !errors.Is(err, lfs.ErrMissing) || !strings.Contains(err.Error(), "git lfs fetch") && !strings.Contains(err.Error(), "install git-lfs") || !strings.Contains(err.Error(), "/the/repo") {
		t.Fatalf("missing: %v", err)
	}
	path := lfs.ObjectPath(dir, p)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, data, 0o644)
	f, err := l.Open(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data)+10)
	n, err := f.NewReader().ReadAt(ctx, got, 0)
	if err != nil || n != len(data) || !bytes.Equal(got[:n], data) {
		t.Fatalf("read %d bytes, %v", n, err)
	}

	// Damaged and truncated objects of other pointers.
	for name, content := range map[string][]byte{"damaged": bytes.ToUpper(data), "truncated": data[:len(data)-1]} {
		q := lfs.Pointer{OID: sha256.Sum256(append([]byte(name), data...)), Size: int64(len(data))}
		qp := lfs.ObjectPath(dir, q)
		os.MkdirAll(filepath.Dir(qp), 0o755)
		os.WriteFile(qp, content, 0o644)
		qfp, _ := l.Parse(q.Encode())
		if _, err := l.Open(ctx, qfp); !errors.Is(err, cas.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
