package cas

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"
)

// IDSize is the length of an ID in bytes.
const IDSize = 32

// ID names an object by the BLAKE3-256 hash of its content. It is
// comparable and usable as a map key. The zero ID names nothing.
type ID [IDSize]byte

// Sum returns the ID of b.
func Sum(b []byte) ID {
	return ID(blake3.Sum256(b))
}

// manifestContext is the BLAKE3 key-derivation context for manifest IDs.
// It is part of format v1 and never changes.
const manifestContext = "lode 2026-11-27 manifest id v1"

// ManifestID returns the ID under which a format 1 manifest (that of a
// version 1 pointer) of the file with the given oid is stored. It is
// derived from the oid and so does not bind the chunk list; format 2
// manifests are stored under the hash of their bytes, which the pointer
// carries.
func ManifestID(oid ID) ID {
	var id ID
	blake3.DeriveKey(manifestContext, oid[:], id[:])
	return id
}

// ErrInvalidID is returned by ParseID for text that is not 64 lowercase hex
// digits.
var ErrInvalidID = errors.New("invalid object id")

// ParseID parses the 64-digit lowercase hex form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("%w: %q has %d characters, want %d", ErrInvalidID, clip(s), len(s), 2*IDSize)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return id, fmt.Errorf("%w: %q is not lowercase hex", ErrInvalidID, clip(s))
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %v", ErrInvalidID, err)
	}
	return id, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// String returns the 64-digit lowercase hex form of id.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 12 hex digits of id, for display.
func (id ID) Short() string { return hex.EncodeToString(id[:6]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Compare orders IDs bytewise; it returns -1, 0 or +1.
func (id ID) Compare(o ID) int {
	for i := range id {
		if id[i] != o[i] {
			if id[i] < o[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
