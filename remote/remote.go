// Package remote is lode's byte store: a flat namespace of immutable
// objects named by slash-separated paths ("packs/<id>.pack"), kept in a
// local folder, an S3-compatible bucket, Google Cloud Storage, or (read
// only) behind a plain HTTP server. It knows nothing of chunks or packs;
// package cas/transfer decides what to store where.
//
// Contract every Backend meets (the conformance suite in remote/remotetest
// checks it):
//
//   - Put makes an object appear whole or not at all: a reader never sees a
//     partial object, even if the writer dies. Putting an existing name
//     replaces it; lode only does so with identical content (names are
//     content hashes), so concurrent writers of one name are harmless.
//   - Put stores exactly size bytes of src; if src yields fewer, or fails,
//     Put fails and stores nothing.
//   - Get of a range returns exactly the bytes asked for, or fewer only at
//     the end of the object. A range starting at the end (off == size, so
//     also off 0 of an empty object) or with length 0 yields no bytes; a
//     range starting past the end returns an error wrapping ErrRange.
//   - A missing object gives an error wrapping ErrNotExist, from Get, Stat
//     and Delete alike; so does a name that is only a prefix of other names
//     ("packs" when "packs/x" exists): the namespace is flat. Wrong or
//     missing credentials give ErrPermission; a back end that cannot write
//     gives ErrReadOnly; a name that ValidateName rejects gives
//     ErrInvalidName; something the back end cannot do at all (list a
//     plain HTTP server) gives errors.ErrUnsupported. Everything else
//     (network, 5xx, timeouts) is returned as is and may be retried.
//   - List calls fn once per object whose name starts with prefix (a plain
//     string prefix, not a directory: "pack" matches "packs/x"), in no
//     particular order, on the calling goroutine; an error from fn stops the
//     listing and is returned (wrapped or not, errors.Is finds it).
//   - All methods are safe for concurrent use and honour ctx: a call made
//     with a ctx that is already done fails with an error wrapping
//     ctx.Err(), and stores or deletes nothing.
//
// Back ends translate their vendor errors into these sentinels at the
// boundary. Retry, deadlines and fault injection are decorators
// (NewRetrying, remotetest.Faulty) around any Backend.
package remote

import (
	"context"
	"errors"
	"io"
)

// Sentinel errors that callers branch on with errors.Is.
var (
	ErrNotExist   = errors.New("remote object does not exist")
	ErrPermission = errors.New("remote access denied (missing or wrong credentials)")
	ErrReadOnly   = errors.New("remote is read-only")
	ErrRange      = errors.New("requested range is outside the remote object")
	// ErrInvalidName: see ValidateName.
	ErrInvalidName = errors.New("invalid remote object name")
	// ErrUnreachable is wrapped by the errors of the retrying decorator
	// (NewRetrying) for a request that gave up because the remote did not
	// answer in time or could not be reached, and for the requests its
	// circuit breaker then refuses. It is not permanent: the remote may
	// come back.
	ErrUnreachable = errors.New("remote unreachable")
)

// Info describes one stored object.
type Info struct {
	Name string // slash-separated, relative to the back end's root
	Size int64
}

// PutOptions adjust Put. The zero value is the default.
type PutOptions struct {
	// ContentType is a hint for back ends that record one.
	ContentType string
	// SHA256, if set, returns the SHA-256 of the content without reading
	// src. A back end that must hash the content before sending it (S3
	// signs the payload) uses it instead of reading src twice, so that src
	// is read once, as the bytes go out (progress reported from src's
	// reads then follows the upload).
	SHA256 func() ([]byte, error)
}

// GetOptions adjust Get. The zero value is the default.
type GetOptions struct{}

// ListOptions adjust List. The zero value is the default.
type ListOptions struct{}

// Backend stores immutable objects. See the package documentation for the
// contract.
type Backend interface {
	// Put stores size bytes read from src (from offset 0) under name.
	// src may be read more than once (a retry starts again).
	Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts PutOptions) error
	// Get returns length bytes of name starting at offset off; length < 0
	// means to the end. The caller closes the reader.
	Get(ctx context.Context, name string, off, length int64, opts GetOptions) (io.ReadCloser, error)
	// Stat returns the object's size.
	Stat(ctx context.Context, name string) (Info, error)
	// List calls fn for every object whose name starts with prefix.
	List(ctx context.Context, prefix string, opts ListOptions, fn func(Info) error) error
	// Delete removes name.
	Delete(ctx context.Context, name string) error
	// Location describes where the back end stores objects, for
	// messages ("s3://bucket/prefix").
	Location() string
	// Close releases the back end's resources.
	Close() error
}

// IsPermanent reports whether err is one of the sentinels that retrying
// cannot fix. (Whether the caller's context has ended is the caller's to
// check: a per-request deadline that expired is worth retrying.)
func IsPermanent(err error) bool {
	return errors.Is(err, ErrNotExist) || errors.Is(err, ErrPermission) ||
		errors.Is(err, ErrReadOnly) || errors.Is(err, ErrRange) ||
		errors.Is(err, ErrInvalidName) || errors.Is(err, errors.ErrUnsupported)
}
