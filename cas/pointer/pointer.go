// Package pointer reads and writes the small text that git stores in place
// of a tracked file's content.
//
// A pointer (version 2, what this package writes) is three or four lines,
// in this order, each ending in "\n":
//
//	version lode/2
//	oid blake3:<64 lowercase hex digits>
//	size <decimal byte count, no sign, no leading zeros>
//	manifest blake3:<64 lowercase hex digits>
//
// The oid is the BLAKE3-256 of the whole file, so b3sum prints it. The
// manifest line binds the file's chunk list: it is the id (the BLAKE3-256)
// of the file's manifest (package cas/manifest), so a reader that holds
// the pointer can check a chunk list that came from anywhere before it
// serves a single byte of a partial read. A file of one chunk has no
// manifest line: its only chunk is the whole file, whose id is the oid.
// Files of at most chunker.MinSize bytes are always one chunk, so their
// pointers never have a manifest line; files larger than chunker.MaxSize
// always have one.
//
// Version 1 pointers (the first three lines, "version lode/1") are still
// read: they do not bind the chunk list, so a reader must check the whole
// file against the oid before it trusts their chunk list.
//
// Parsing is strict: any other byte sequence is either not a pointer at
// all (it does not start with "version lode/"), a pointer of a version
// this code does not know, or a malformed pointer. Encode(Parse(b)) == b
// for every b that Parse accepts, so cleaning a pointer yields the same
// pointer. The format is described in docs/FORMAT.md.
package pointer

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/lodevcs/lode/cas"
	"github.com/lodevcs/lode/cas/chunker"
)

const (
	// Prefix starts every lode pointer of any version.
	Prefix = "version lode/"
	// Version is the pointer version this package writes.
	Version = 2

	oidPrefix      = "oid blake3:"
	sizePrefix     = "size "
	manifestPrefix = "manifest blake3:"

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
	// Manifest is the id of the file's manifest; zero for a file of one
	// chunk (whose chunk id is OID), for the empty file, and for every
	// version 1 pointer.
	Manifest cas.ID
	// V1 marks a version 1 pointer, whose chunk list is not bound: its
	// manifest is stored under cas.ManifestID(OID).
	V1 bool
}

// emptyOID is the oid of the empty file.
var emptyOID = cas.Sum(nil)

// New returns the version 2 pointer of a file: manifest is the id of its
// manifest, or zero if the file is one chunk (or empty).
func New(oid cas.ID, size int64, manifest cas.ID) Pointer {
	return Pointer{OID: oid, Size: size, Manifest: manifest}
}

// SingleChunk reports whether the file is one chunk whose id is its oid.
// It is false for the empty file and for version 1 pointers.
func (p Pointer) SingleChunk() bool { return !p.V1 && p.Size > 0 && p.Manifest.IsZero() }

// Encode returns the canonical text of p.
func (p Pointer) Encode() []byte {
	b := make([]byte, 0, 192)
	b = append(b, Prefix...)
	if p.V1 {
		b = append(b, '1')
	} else {
		b = strconv.AppendInt(b, Version, 10)
	}
	b = append(b, '\n')
	b = append(b, oidPrefix...)
	b = append(b, p.OID.String()...)
	b = append(b, '\n')
	b = append(b, sizePrefix...)
	b = strconv.AppendInt(b, p.Size, 10)
	b = append(b, '\n')
	if !p.Manifest.IsZero() {
		b = append(b, manifestPrefix...)
		b = append(b, p.Manifest.String()...)
		b = append(b, '\n')
	}
	return b
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
// ErrUnsupportedVersion or ErrMalformed when b is not a valid pointer of
// version 1 or 2.
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
	switch v := string(line[len(Prefix):]); v {
	case "1":
		p.V1 = true
	case "2":
	default:
		if len(v) == 0 || bytes.ContainsAny([]byte(v), " \t\r") {
			return p, fmt.Errorf("%w: bad version line %q", ErrMalformed, line)
		}
		return p, fmt.Errorf("%w: %q (this git-lode reads lode/1 and lode/2; upgrade git-lode)", ErrUnsupportedVersion, line)
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
	if (size == 0) != (oid == emptyOID) {
		return p, fmt.Errorf("%w: size %d does not fit oid %s", ErrMalformed, size, oid.Short())
	}

	if len(rest) != 0 && !p.V1 {
		line, rest, ok = cutLine(rest)
		if !ok || !bytes.HasPrefix(line, []byte(manifestPrefix)) {
			return p, fmt.Errorf("%w: fourth line must be %q followed by 64 hex digits", ErrMalformed, manifestPrefix)
		}
		if p.Manifest, err = cas.ParseID(string(line[len(manifestPrefix):])); err != nil {
			return p, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
		}
		if p.Manifest.IsZero() {
			return p, fmt.Errorf("%w: zero manifest id", ErrMalformed)
		}
	}
	if len(rest) != 0 {
		return p, fmt.Errorf("%w: unexpected content after the last line", ErrMalformed)
	}
	if !p.V1 {
		// One representation per file: the chunker makes files up to
		// MinSize one chunk, and cuts files above MaxSize.
		switch {
		case p.Manifest.IsZero() && size > chunker.MaxSize:
			return p, fmt.Errorf("%w: a file of %d bytes has several chunks, but the pointer names no manifest", ErrMalformed, size)
		case !p.Manifest.IsZero() && size <= chunker.MinSize:
			return p, fmt.Errorf("%w: a file of %d bytes is one chunk, but the pointer names a manifest", ErrMalformed, size)
		}
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
