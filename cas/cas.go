package cas

import (
	"context"
	"errors"
	"fmt"
)

// Kind says what an object is. It is stored in pack headers and indexes;
// the values are part of format v1.
type Kind uint8

const (
	KindChunk    Kind = 1 // raw bytes of one chunk of a file
	KindManifest Kind = 2 // the ordered chunk list of one file
)

func (k Kind) String() string {
	switch k {
	case KindChunk:
		return "chunk"
	case KindManifest:
		return "manifest"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Sentinel errors that callers branch on with errors.Is.
var (
	// ErrNotFound means the object is in none of the places that were asked.
	ErrNotFound = errors.New("object not found")
	// ErrCorrupt means stored bytes did not hash to their ID or failed a
	// checksum; the bytes were not returned.
	ErrCorrupt = errors.New("object corrupt")
)

// Getter returns the verified raw bytes of an object. The returned slice
// belongs to the caller. Implementations return an error wrapping
// ErrNotFound when they do not have the object and ErrCorrupt when what
// they have fails verification; they never return unverified bytes.
type Getter interface {
	Get(ctx context.Context, id ID) ([]byte, error)
}

// IntoGetter is an optional fast path of a Getter: GetInto decodes into
// dst's storage when it is large enough, so that a reader of many objects
// can reuse its buffers. The result may alias dst. The same rules on
// errors and verification as for Get apply.
type IntoGetter interface {
	GetInto(ctx context.Context, id ID, dst []byte) ([]byte, error)
}

// Haser reports whether an object is present, without reading it.
type Haser interface {
	Has(ctx context.Context, id ID) (bool, error)
}
