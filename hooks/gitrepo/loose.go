package gitrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

// errNotLoose means a blob has no loose object file in the repository's
// own object directory (it is packed, or in an alternate): go-git reads it.
var errNotLoose = errors.New("not a loose object")

// looseReader reads the head of loose blobs straight from
// objects/XX/YYYY, without go-git's path checks and object cache: after a
// `git add` of many files every pointer blob is a loose object, and a
// push or a listing reads one per file. It holds one inflater, reused; the
// caller serialises calls (Repo.mu). Its errors make the caller fall
// back to go-git, which reads what it cannot or reports the damage.
type looseReader struct {
	dir string // the objects directory
	zr  io.ReadCloser
	src bytes.Reader
	raw []byte // the file, compressed
	buf []byte
}

// looseHeadMax is how much of a loose object file the fast path reads:
// enough for the header and any pointer (a loose file of a big blob is
// read no further: its size is in the header, and a blob that is small
// enough to be wanted whole fits).
const looseHeadMax = 64 << 10

// looseContentMax bounds the content the fast path inflates (and the
// buffer it keeps for it); larger blobs wanted whole are go-git's.
const looseContentMax = 1 << 20

// readFile reads up to looseHeadMax bytes of the file at path into l.raw
// with as few system calls as it can (open, one read, close: os.Open would
// also register the file with the poller). A short read is taken as the
// end of the file; were it not, the object would not inflate, and go-git
// would read it.
func (l *looseReader) readFile(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	if l.raw == nil {
		l.raw = make([]byte, looseHeadMax)
	}
	n := 0
	for n < len(l.raw) {
		m, err := syscall.Read(fd, l.raw[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return l.raw[:n], nil
}

// head returns the size of loose blob h and, when it is at most max
// bytes, its content. It returns errNotLoose when the object is not a
// loose file of dir, and an error for a file that does not hold a blob
// of the size its header gives.
func (l *looseReader) head(h plumbing.Hash, max int64) (int64, []byte, error) {
	hex := h.String()
	raw, err := l.readFile(filepath.Join(l.dir, hex[:2], hex[2:]))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil, errNotLoose
		}
		return 0, nil, err
	}
	l.src.Reset(raw)
	if l.zr == nil {
		if l.zr, err = zlib.NewReader(&l.src); err != nil {
			l.zr = nil
			return 0, nil, fmt.Errorf("loose object %s: %w", hex, err)
		}
	} else if err := l.zr.(zlib.Resetter).Reset(&l.src, nil); err != nil {
		return 0, nil, fmt.Errorf("loose object %s: %w", hex, err)
	}
	// The header: "blob <size>\x00". 32 bytes hold any size git writes.
	var hdr [32]byte
	n, err := io.ReadFull(l.zr, hdr[:5])
	if err != nil || !bytes.Equal(hdr[:n], []byte("blob ")) {
		return 0, nil, fmt.Errorf("loose object %s: not a blob", hex)
	}
	i := 0
	for ; i < len(hdr); i++ {
		if _, err := io.ReadFull(l.zr, hdr[i:i+1]); err != nil {
			return 0, nil, fmt.Errorf("loose object %s: header: %w", hex, noEOF(err))
		}
		if hdr[i] == 0 {
			break
		}
	}
	if i == len(hdr) {
		return 0, nil, fmt.Errorf("loose object %s: header too long", hex)
	}
	size, err := strconv.ParseInt(string(hdr[:i]), 10, 64)
	if err != nil || size < 0 {
		return 0, nil, fmt.Errorf("loose object %s: bad size %q", hex, hdr[:i])
	}
	if size > max {
		return size, nil, nil
	}
	if size > looseContentMax {
		return 0, nil, fmt.Errorf("loose object %s: %d bytes, more than the fast path reads", hex, size)
	}
	if int64(cap(l.buf)) < size {
		l.buf = make([]byte, size)
	}
	b := l.buf[:size]
	if n, err := io.ReadFull(l.zr, b); err != nil {
		return 0, nil, fmt.Errorf("loose object %s: read %d of %d bytes: %w", hex, n, size, noEOF(err))
	}
	// Reading past the end checks zlib's checksum.
	var one [1]byte
	if n, err := l.zr.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || n != 0 {
			return 0, nil, fmt.Errorf("loose object %s: longer than its header's %d bytes", hex, size)
		}
		return 0, nil, fmt.Errorf("loose object %s: %w", hex, err)
	}
	return size, bytes.Clone(b), nil
}

// noEOF turns a clean end of input inside an object into an unexpected one.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
