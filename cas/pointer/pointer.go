// Package pointer reads and writes the small text that git stores in place
// of a tracked file's content.
//
// A pointer is exactly three lines, in this order, each ending in "\n":
//
//	version lode/1
//	oid blake3:<64 lowercase hex digits>
//	size <decimal byte count, no sign, no leading zeros>
//
// The oid is the BLAKE3-256 of the whole file. Parsing is strict: any other
// byte sequence is either not a pointer at all (it does not start with
// "version lode/"), a pointer of a version this code does not know, or a
// malformed pointer. Encode(Parse(b)) == b for every b that Parse accepts, so
// cleaning a pointer yields the same pointer. The format is described in
// docs/FORMAT.md.
package pointer

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/lodevcs/lode/cas"
)

const (
	// Prefix starts every lode pointer of any version.
	Prefix = "version lode/"
	// Version is the pointer version this package writes and parses.
	Version = "1"

	versionLine = Prefix + Version + "\n"
	oidPrefix   = "oid blake3:"
	sizePrefix  = "size "

	// MaxLen bounds the length of any valid pointer. Content longer than
	// this is never a pointer, so callers need to read at most MaxLen+1
	// bytes to decide.
	MaxLen = 200
	// MaxFileSize is the largest size a pointer may carry (1 PiB). Larger
	// values are treated as hostile rather than allocated for.
	MaxFileSize = 1 << 50
)

// Errors that Parse wraps. Callers branch on them with errors.Is.
var (
	// ErrNotPointer means the content does not start like a lode pointer;
	// smudge passes such content through unchanged.
	ErrNotPointer = errors.New("not a lode pointer")
	// ErrUnsupportedVersion means the content is a lode pointer of a
	// version this build does not understand.
	ErrUnsupportedVersion = errors.New("unsupported lode pointer version")
	// ErrMalformed means the content starts like a lode pointer but breaks
	// the format.
	ErrMalformed = errors.New("malformed lode pointer")
)

// Pointer is the parsed form of a pointer.
type Pointer struct {
	OID  cas.ID // BLAKE3-256 of the whole file
	Size int64  // length of the file in bytes
}

// emptyOID is the oid of the empty file.
var emptyOID = cas.Sum(nil)

// Encode returns the canonical text of p.
func (p Pointer) Encode() []byte {
	b := make([]byte, 0, 128)
	b = append(b, versionLine...)
	b = append(b, oidPrefix...)
	b = append(b, p.OID.String()...)
	b = append(b, '\n')
	b = append(b, sizePrefix...)
	b = strconv.AppendInt(b, p.Size, 10)
	return append(b, '\n')
}

// String returns the canonical text of p.
func (p Pointer) String() string { return string(p.Encode()) }

// MightBe reports whether content that starts with prefix could be a lode
// pointer of some version. It is cheap and used to decide whether to read
// further.
func MightBe(prefix []byte) bool {
	n := min(len(prefix), len(Prefix))
	return bytes.Equal(prefix[:n], []byte(Prefix[:n]))
}

// Parse parses b strictly. It returns an error wrapping ErrNotPointer,
// ErrUnsupportedVersion or ErrMalformed when b is not a valid version-1
// pointer.
func Parse(b []byte) (Pointer, error) {
	var p Pointer
	if !bytes.HasPrefix(b, []byte(Prefix)) {
		return p, ErrNotPointer
	}
	if len(b) > MaxLen {
		return p, fmt.Errorf("%w: %d bytes, longer than any pointer (%d)", ErrMalformed, len(b), MaxLen)
	}
	line, rest, ok := cutLine(b)
	if !ok {
		return p, fmt.Errorf("%w: version line has no newline", ErrMalformed)
	}
	if string(line) != versionLine[:len(versionLine)-1] {
		v := line[len(Prefix):]
		if len(v) == 0 || bytes.ContainsAny(v, " \t\r") {
			return p, fmt.Errorf("%w: bad version line %q", ErrMalformed, line)
		}
		return p, fmt.Errorf("%w: %q (this git-lode reads lode/%s; upgrade git-lode)", ErrUnsupportedVersion, line, Version)
	}

	line, rest, ok = cutLine(rest)
	if !ok || !bytes.HasPrefix(line, []byte(oidPrefix)) {
		return p, fmt.Errorf("%w: second line must be %q followed by 64 hex digits", ErrMalformed, oidPrefix)
	}
	oid, err := cas.ParseID(string(line[len(oidPrefix):]))
	if err != nil {
		return p, fmt.Errorf("%w: oid: %v", ErrMalformed, err)
	}
	p.OID = oid

	line, rest, ok = cutLine(rest)
	if !ok || !bytes.HasPrefix(line, []byte(sizePrefix)) {
		return p, fmt.Errorf("%w: third line must be %q followed by a decimal byte count", ErrMalformed, sizePrefix)
	}
	size, err := parseSize(line[len(sizePrefix):])
	if err != nil {
		return p, fmt.Errorf("%w: size: %v", ErrMalformed, err)
	}
	p.Size = size
	if len(rest) != 0 {
		return p, fmt.Errorf("%w: unexpected content after the size line", ErrMalformed)
	}
	if (size == 0) != (oid == emptyOID) {
		return p, fmt.Errorf("%w: size %d does not fit oid %s", ErrMalformed, size, oid.Short())
	}
	return p, nil
}

func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+1:], true
}

func parseSize(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, errors.New("empty")
	}
	if len(b) > 1 && b[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", b)
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", b)
		}
		n = n*10 + int64(c-'0')
		if n > MaxFileSize {
			return 0, fmt.Errorf("%q is larger than the maximum %d", b, int64(MaxFileSize))
		}
	}
	return n, nil
}
