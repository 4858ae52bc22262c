package dvc

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/pointer"
)

// ErrMissing is wrapped when an object is not in the cache.
var ErrMissing = errors.New("not in the DVC cache")

// ErrInvalid is wrapped when a .dvc file or a listing is not one lode
// can read.
var ErrInvalid = errors.New("invalid DVC metadata")

// Limits on input from elsewhere.
const (
	MaxDVCFile = 1 << 20    // bytes of a .dvc file
	MaxListing = 256 << 20  // bytes of a .dir listing
	MaxEntries = 10_000_000 // files in a listing
)

// Out is one output of a .dvc file.
type Out struct {
	Path   string // slash-separated, from the top of the repository
	MD5    string // 32 lowercase hex digits
	Dir    bool   // the md5 names a .dir listing
	Size   int64  // as the .dvc file says; -1 if it does not
	Exec   bool
	Legacy bool // no "hash: md5": DVC 2's md5 (see the package doc)
}

// File is a file of a directory output.
type File struct {
	Path string // slash-separated, from the top of the repository
	MD5  string
}

type dvcYAML struct {
	Outs []struct {
		MD5    string `yaml:"md5"`
		Size   *int64 `yaml:"size"`
		Hash   string `yaml:"hash"`
		Path   string `yaml:"path"`
		IsExec bool   `yaml:"isexec"`
	} `yaml:"outs"`
}

// Parse reads the .dvc file at dvcPath (slash-separated, from the top of
// the repository) with content b.
func Parse(dvcPath string, b []byte) ([]Out, error) {
	if len(b) > MaxDVCFile {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrInvalid, dvcPath, MaxDVCFile)
	}
	var y dvcYAML
	if err := yaml.Unmarshal(b, &y); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, dvcPath, err)
	}
	if len(y.Outs) == 0 {
		return nil, fmt.Errorf("%w: %s has no outs", ErrInvalid, dvcPath)
	}
	base := path.Dir(dvcPath)
	var outs []Out
	for _, o := range y.Outs {
		p, err := joinRel(base, o.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: out %q: %v", ErrInvalid, dvcPath, o.Path, err)
		}
		sum, isDir := strings.CutSuffix(o.MD5, ".dir")
		if !isMD5(sum) {
			return nil, fmt.Errorf("%w: %s: out %s: md5 %q is not 32 lowercase hex digits (only md5-hashed outs are read)", ErrInvalid, dvcPath, p, o.MD5)
		}
		if o.Hash != "" && o.Hash != "md5" {
			return nil, fmt.Errorf("%w: %s: out %s: hash %q (lode reads md5)", ErrInvalid, dvcPath, p, o.Hash)
		}
		out := Out{Path: p, MD5: sum, Dir: isDir, Size: -1, Exec: o.IsExec, Legacy: o.Hash == ""}
		if o.Size != nil {
			if *o.Size < 0 || *o.Size > pointer.MaxFileSize && !isDir {
				return nil, fmt.Errorf("%w: %s: out %s: size %d", ErrInvalid, dvcPath, p, *o.Size)
			}
			out.Size = *o.Size
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// joinRel joins a relative, slash- or backslash-separated path from a
// .dvc file to its directory, refusing what leaves the repository.
func joinRel(base, p string) (string, error) {
	p = strings.ReplaceAll(p, `\`, "/")
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\x00") || (len(p) > 1 && p[1] == ':') {
		return "", errors.New("not a relative path")
	}
	j := path.Clean(path.Join(base, p))
	if j == "." || j == ".." || strings.HasPrefix(j, "../") || j == ".git" || strings.HasPrefix(j, ".git/") || strings.HasPrefix(j, ".dvc/") {
		return "", errors.New("outside the work tree, or in .git or .dvc")
	}
	return j, nil
}

func isMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Cache is a DVC cache directory (.dvc/cache unless cache.dir says).
type Cache struct{ Dir string }

// Open opens the object md5 (with ".dir" for a listing), in DVC 3's
// layout first, then DVC 2's. A missing object is an error wrapping
// ErrMissing.
func (c Cache) Open(sum string) (*os.File, error) {
	for _, p := range []string{
		filepath.Join(c.Dir, "files", "md5", sum[:2], sum[2:]),
		filepath.Join(c.Dir, sum[:2], sum[2:]),
	} {
		f, err := os.Open(p)
		if err == nil {
			fi, err := f.Stat()
			if err != nil || !fi.Mode().IsRegular() {
				f.Close()
				return nil, fmt.Errorf("%w: %s is not a regular file", cas.ErrCorrupt, p)
			}
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open DVC object %s: %w", sum, err)
		}
	}
	return nil, fmt.Errorf("%w: %s (run 'dvc pull' or 'dvc fetch' first, with DVC installed)", ErrMissing, sum)
}

// Listing reads, checks and parses the .dir listing of out, a directory
// output, and returns its files.
func (c Cache) Listing(out Out) ([]File, error) {
	f, err := c.Open(out.MD5 + ".dir")
	if err != nil {
		return nil, fmt.Errorf("listing of %s: %w", out.Path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxListing+1))
	if err != nil {
		return nil, fmt.Errorf("read the listing of %s: %w", out.Path, err)
	}
	if len(b) > MaxListing {
		return nil, fmt.Errorf("%w: the listing of %s is more than %d bytes", ErrInvalid, out.Path, MaxListing)
	}
	if sum := md5.Sum(b); hex.EncodeToString(sum[:]) != out.MD5 {
		return nil, fmt.Errorf("%w: the listing of %s (%s.dir) hashes to %x", cas.ErrCorrupt, out.Path, out.MD5, sum)
	}
	var entries []struct {
		MD5     string `json:"md5"`
		RelPath string `json:"relpath"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("%w: the listing of %s: %v", ErrInvalid, out.Path, err)
	}
	if len(entries) > MaxEntries {
		return nil, fmt.Errorf("%w: the listing of %s has %d files, more than %d", ErrInvalid, out.Path, len(entries), MaxEntries)
	}
	files := make([]File, 0, len(entries))
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		p, err := joinRel(out.Path, e.RelPath)
		if err != nil || !strings.HasPrefix(p, out.Path+"/") {
			return nil, fmt.Errorf("%w: the listing of %s: relpath %q is not inside it", ErrInvalid, out.Path, e.RelPath)
		}
		if !isMD5(e.MD5) {
			return nil, fmt.Errorf("%w: the listing of %s: %s: md5 %q", ErrInvalid, out.Path, e.RelPath, e.MD5)
		}
		if seen[p] {
			return nil, fmt.Errorf("%w: the listing of %s names %s twice", ErrInvalid, out.Path, e.RelPath)
		}
		seen[p] = true
		files = append(files, File{Path: p, MD5: e.MD5})
	}
	return files, nil
}

// Checker reads an object through, hashing its bytes, and (for DVC 2's
// md5) its bytes with CRLF turned into LF, so that Check can tell whether
// it was the object.
type Checker struct {
	r      io.Reader
	sum    string
	legacy bool
	h, hu  hash.Hash
	cr     bool // the last byte seen was '\r' (legacy)
}

// NewChecker reads r, which should give the object md5 sum; legacy
// accepts DVC 2's md5 too.
func NewChecker(r io.Reader, sum string, legacy bool) *Checker {
	c := &Checker{r: r, sum: sum, legacy: legacy, h: md5.New()}
	if legacy {
		c.hu = md5.New()
	}
	return c
}

func (c *Checker) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.h.Write(b[:n])
	if c.legacy {
		c.dos2unix(b[:n])
	}
	return n, err
}

func (c *Checker) dos2unix(b []byte) {
	var out []byte
	for _, x := range b {
		if c.cr {
			c.cr = false
			if x != '\n' {
				out = append(out, '\r')
			}
		}
		if x == '\r' {
			c.cr = true
			continue
		}
		out = append(out, x)
	}
	c.hu.Write(out)
}

// Check reports whether what was read was the object: an error wrapping
// cas.ErrCorrupt if not.
func (c *Checker) Check() error {
	if hex.EncodeToString(c.h.Sum(nil)) == c.sum {
		return nil
	}
	if c.legacy {
		if c.cr {
			c.hu.Write([]byte{'\r'})
			c.cr = false
		}
		if hex.EncodeToString(c.hu.Sum(nil)) == c.sum {
			return nil
		}
	}
	return fmt.Errorf("%w: DVC object %s: its content hashes to %x", cas.ErrCorrupt, c.sum, c.h.Sum(nil))
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// Reader returns a reader of the object sum that stops with ctx, and its
// Checker, to call once it has been read to its end.
func (c Cache) Reader(ctx context.Context, sum string, legacy bool) (io.ReadCloser, *Checker, error) {
	f, err := c.Open(sum)
	if err != nil {
		return nil, nil, err
	}
	ck := NewChecker(f, sum, legacy)
	return readCloser{ctxReader{ctx, ck}, f}, ck, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
