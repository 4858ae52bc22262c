package lfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/lodevcs/lode/cas/pointer"
)

const (
	// Version is the version line of the pointers Git LFS writes.
	Version = "https://git-lfs.github.com/spec/v1"
	// versionAlias is the pre-release spec URL, still read by Git LFS.
	versionAlias = "https://hawser.github.com/spec/v1"

	// MaxLen bounds a pointer, as Git LFS does (its blobSizeCutoff):
	// content longer than this is never a pointer, so callers need read
	// at most MaxLen+1 bytes to decide. Valid pointers without extensions
	// are 126-145 bytes.
	MaxLen = 1024
)

// Errors that Parse wraps; callers branch on them with errors.Is.
var (
	// ErrNotPointer means the content does not start like a Git LFS
	// pointer: it is a plain file.
	ErrNotPointer = errors.New("not a Git LFS pointer")
	// ErrUnsupported means a pointer of a form lode cannot rebuild the
	// file from: extensions, or keys a later spec added.
	ErrUnsupported = errors.New("unsupported Git LFS pointer")
	// ErrMalformed means the content starts like a Git LFS pointer but
	// breaks the spec.
	ErrMalformed = errors.New("malformed Git LFS pointer")
)

// Pointer is a parsed Git LFS pointer.
type Pointer struct {
	OID  [sha256.Size]byte // SHA-256 of the file
	Size int64
}

// Hex is the oid in lowercase hexadecimal, as Git LFS names objects.
func (p Pointer) Hex() string { return hex.EncodeToString(p.OID[:]) }

// String is the oid as pointers write it, "sha256:<hex>".
func (p Pointer) String() string { return "sha256:" + p.Hex() }

// Encode returns the canonical pointer text, as git lfs writes it.
func (p Pointer) Encode() []byte {
	b := make([]byte, 0, 160)
	b = append(b, "version "+Version+"\noid sha256:"...)
	b = append(b, p.Hex()...)
	b = append(b, "\nsize "...)
	b = strconv.AppendInt(b, p.Size, 10)
	return append(b, '\n')
}

var versionPrefix = []byte("version ")

// MightBe reports whether content starting with prefix could be a Git LFS
// pointer: it starts with "version https://" (or a prefix of that).
func MightBe(prefix []byte) bool {
	const start = "version https://"
	n := min(len(prefix), len(start))
	return bytes.Equal(prefix[:n], []byte(start[:n]))
}

// emptyOID is the SHA-256 of nothing.
var emptyOID = sha256.Sum256(nil)

// Parse parses b strictly; see the package documentation. Its errors wrap
// ErrNotPointer, ErrUnsupported or ErrMalformed.
func Parse(b []byte) (Pointer, error) {
	var p Pointer
	line, rest, ok := bytes.Cut(b, []byte{'\n'})
	if !ok || !bytes.HasPrefix(line, versionPrefix) {
		return p, ErrNotPointer
	}
	if !MightBe(line) {
		return p, ErrNotPointer
	}
	if len(b) > MaxLen {
		return p, fmt.Errorf("%w: %d bytes, longer than any pointer (%d)", ErrMalformed, len(b), MaxLen)
	}
	if bytes.IndexByte(b, '\r') >= 0 {
		return p, fmt.Errorf("%w: carriage return (Git LFS pointers end lines with \\n only)", ErrMalformed)
	}
	if v := string(line[len(versionPrefix):]); v != Version && v != versionAlias {
		return p, fmt.Errorf("%w: version %q (lode reads %s)", ErrUnsupported, clip([]byte(v)), Version)
	}
	line, rest, ok = bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return p, fmt.Errorf("%w: no oid line", ErrMalformed)
	}
	if bytes.HasPrefix(line, []byte("ext-")) {
		return p, fmt.Errorf("%w: it uses Git LFS extensions (%q), which lode cannot apply; run 'git lfs smudge' on it", ErrUnsupported, line)
	}
	hexOID, ok := bytes.CutPrefix(line, []byte("oid sha256:"))
	if !ok {
		return p, fmt.Errorf("%w: second line must be \"oid sha256:\" and 64 hex digits, not %q", ErrMalformed, clip(line))
	}
	if len(hexOID) != 2*sha256.Size || !lowerHex(hexOID) {
		return p, fmt.Errorf("%w: oid %q is not 64 lowercase hex digits", ErrMalformed, clip(hexOID))
	}
	hex.Decode(p.OID[:], hexOID)
	line, rest, ok = bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return p, fmt.Errorf("%w: no size line", ErrMalformed)
	}
	digits, ok := bytes.CutPrefix(line, []byte("size "))
	if !ok {
		return p, fmt.Errorf("%w: third line must be \"size\" and a byte count, not %q", ErrMalformed, clip(line))
	}
	size, err := parseSize(digits)
	if err != nil {
		return p, fmt.Errorf("%w: size: %v", ErrMalformed, err)
	}
	p.Size = size
	if size == 0 && p.OID != emptyOID {
		return p, fmt.Errorf("%w: size 0 with the oid of non-empty content", ErrMalformed)
	}
	if len(rest) != 0 {
		return p, fmt.Errorf("%w: keys after size (%q); lode reads version, oid and size only", ErrUnsupported, clip(rest))
	}
	return p, nil
}

func lowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func parseSize(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, errors.New("empty")
	}
	if len(b) > 1 && b[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", clip(b))
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", clip(b))
		}
		n = n*10 + int64(c-'0')
		if n > pointer.MaxFileSize {
			return 0, fmt.Errorf("larger than %d", int64(pointer.MaxFileSize))
		}
	}
	return n, nil
}

// clip shortens hostile input quoted in messages.
func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
