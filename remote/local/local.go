package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lodevcs/lode/remote"
)

var _ remote.Backend = (*Backend)(nil)

// tmpDir is the directory, relative to the root, holding files being
// written.
const tmpDir = ".tmp"

// Options tune a Backend. The zero value is the default.
type Options struct {
	// NoSync skips the fsync of files and directories in Put. Objects are
	// still published atomically, but may be lost on a power failure:
	// for tests and scratch stores only.
	NoSync bool
}

// Backend stores objects as files under a directory. It is safe for
// concurrent use, also by several processes sharing the directory.
type Backend struct {
	dir  string // absolute, cleaned
	opts Options
}

// New returns a back end rooted at dir. The directory need not exist yet:
// the first Put creates it, and until then the store is empty. New fails
// only if dir exists and is not a directory, or cannot be examined.
func New(dir string, opts Options) (*Backend, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local remote %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("local remote %s: %w", abs, translate(err))
	case !fi.IsDir():
		return nil, fmt.Errorf("local remote %s: not a directory", abs)
	}
	b := &Backend{dir: abs, opts: opts}
	b.tidy(time.Now().Add(-tmpGrace))
	return b, nil
}

// tmpGrace is how old a file in .tmp must be before New removes it: one a
// killed writer left (a Put in progress keeps its file younger than that,
// or its own handle open; removing it under an open handle only fails
// that Put).
const tmpGrace = 24 * time.Hour

// tidy removes files in .tmp older than cutoff; failures only leave them.
func (b *Backend) tidy(cutoff time.Time) {
	dir := filepath.Join(b.dir, tmpDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Dir is the root directory.
func (b *Backend) Dir() string { return b.dir }

// Location is the root directory.
func (b *Backend) Location() string { return b.dir }

// Close does nothing: the back end holds no resources between calls.
func (b *Backend) Close() error { return nil }

// path validates name and returns its file.
func (b *Backend) path(name string) (string, error) {
	if err := remote.ValidateName(name); err != nil {
		return "", err
	}
	if name == tmpDir || strings.HasPrefix(name, tmpDir+"/") {
		return "", fmt.Errorf("%w %q: %s/ is reserved for files being written", remote.ErrInvalidName, name, tmpDir)
	}
	return filepath.Join(b.dir, filepath.FromSlash(name)), nil
}

// translate maps operating-system errors to the remote sentinels, keeping
// the original error in the chain for the message.
func translate(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w (%w)", remote.ErrNotExist, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w (%w)", remote.ErrPermission, err)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w (%w)", remote.ErrReadOnly, err)
	}
	return err
}

// Put stores size bytes of src under name: write to a temporary file,
// fsync, rename into place, fsync the directory.
func (b *Backend) Put(ctx context.Context, name string, src io.ReaderAt, size int64, _ remote.PutOptions) (err error) {
	fail := func(err error) error { return fmt.Errorf("put %s in %s: %w", name, b.dir, err) }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	path, err := b.path(name)
	if err != nil {
		return err
	}
	if size < 0 {
		return fail(fmt.Errorf("negative size %d", size))
	}
	f, err := b.createTemp()
	if err != nil {
		return fail(translate(err))
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// A large buffer: packs are tens of MiB, and io.Copy's 32 KiB would
	// be two system calls per 32 KiB. (os.File's ReadFrom would copy
	// with 32 KiB too: the writer is wrapped to hide it.)
	buf := make([]byte, min(size, 1<<20)+1)
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, &ctxReader{ctx: ctx, r: io.NewSectionReader(src, 0, size)}, buf)
	if err != nil {
		return fail(translate(err))
	}
	if n != size {
		return fail(fmt.Errorf("read source: %w after %d of %d bytes", io.ErrUnexpectedEOF, n, size))
	}
	if !b.opts.NoSync {
		if err := f.Sync(); err != nil {
			return fail(translate(err))
		}
	}
	if err := f.Close(); err != nil {
		return fail(translate(err))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	parent := filepath.Dir(path)
	toSync := []string{parent}
	if err := os.Rename(f.Name(), path); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return fail(translate(err))
		}
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fail(translate(err))
		}
		if err := os.Rename(f.Name(), path); err != nil {
			return fail(translate(err))
		}
		// The new directories' entries must reach the disk too.
		for d := parent; d != b.dir && strings.HasPrefix(d, b.dir); {
			d = filepath.Dir(d)
			toSync = append(toSync, d)
		}
	}
	if !b.opts.NoSync {
		for _, d := range toSync {
			if err := syncDir(d); err != nil {
				// The object is in place; only its durability is in doubt.
				return fail(translate(err))
			}
		}
	}
	return nil
}

// createTemp creates a new file in the temporary directory, creating that
// (and the root) if needed. Unlike os.CreateTemp it honours the umask
// with mode 0644, so that a web server can publish the result.
func (b *Backend) createTemp() (*os.File, error) {
	dir := filepath.Join(b.dir, tmpDir)
	for try := 0; ; try++ {
		name := filepath.Join(dir, "put-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		switch {
		case err == nil:
			return f, nil
		case errors.Is(err, fs.ErrNotExist) && try == 0:
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		case errors.Is(err, fs.ErrExist) && try < 100:
		default:
			return nil, err
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get opens name and returns a reader of length bytes from off (to the
// end if length < 0). Reads fail once ctx is done.
func (b *Backend) Get(ctx context.Context, name string, off, length int64, _ remote.GetOptions) (io.ReadCloser, error) {
	fail := func(err error) error { return fmt.Errorf("get %s from %s: %w", name, b.dir, err) }
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	path, err := b.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(translate(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fail(translate(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fail(fmt.Errorf("%w (not a regular file)", remote.ErrNotExist))
	}
	if off < 0 || off > fi.Size() {
		f.Close()
		return nil, fail(fmt.Errorf("offset %d of an object of %d bytes: %w", off, fi.Size(), remote.ErrRange))
	}
	if length < 0 || length > fi.Size()-off {
		length = fi.Size() - off
	}
	return &fileReader{ctxReader: ctxReader{ctx: ctx, r: io.NewSectionReader(f, off, length)}, f: f}, nil
}

// fileReader is the body returned by Get.
type fileReader struct {
	ctxReader
	f *os.File
}

func (r *fileReader) Close() error { return r.f.Close() }

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// Stat returns the size of name.
func (b *Backend) Stat(ctx context.Context, name string) (remote.Info, error) {
	fail := func(err error) error { return fmt.Errorf("stat %s in %s: %w", name, b.dir, err) }
	if err := ctx.Err(); err != nil {
		return remote.Info{}, fail(err)
	}
	path, err := b.path(name)
	if err != nil {
		return remote.Info{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return remote.Info{}, fail(translate(err))
	}
	if !fi.Mode().IsRegular() {
		return remote.Info{}, fail(fmt.Errorf("%w (not a regular file)", remote.ErrNotExist))
	}
	return remote.Info{Name: name, Size: fi.Size()}, nil
}

// Delete removes name. Emptied directories are left in place (a concurrent
// Put may be about to use them).
func (b *Backend) Delete(ctx context.Context, name string) error {
	fail := func(err error) error { return fmt.Errorf("delete %s from %s: %w", name, b.dir, err) }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	path, err := b.path(name)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(translate(err))
	}
	if fi.IsDir() {
		return fail(fmt.Errorf("%w (a directory)", remote.ErrNotExist))
	}
	if err := os.Remove(path); err != nil {
		return fail(translate(err))
	}
	return nil
}

// List walks the directories that can hold names starting with prefix and
// calls fn for each regular file among them, skipping the temporary
// directory. Symbolic links and other special files are ignored.
func (b *Backend) List(ctx context.Context, prefix string, _ remote.ListOptions, fn func(remote.Info) error) error {
	fail := func(err error) error { return fmt.Errorf("list %q in %s: %w", prefix, b.dir, err) }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	// Walk only the deepest directory that the prefix names in full.
	start := b.dir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(b.dir, filepath.FromSlash(prefix[:i]))
	}
	var fnErr error
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return nil // nothing stored under this prefix
			}
			return translate(err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(b.dir, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			if name == tmpDir {
				return filepath.SkipDir
			}
			// Skip directories that cannot hold a match.
			if path != start && !strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(name, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return translate(err)
		}
		if err := fn(remote.Info{Name: name, Size: fi.Size()}); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fail(err)
	}
	return nil
}
