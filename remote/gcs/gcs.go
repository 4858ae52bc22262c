package gcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"sync/atomic"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/lodevcs/lode/remote"
)

// Backend stores objects in one GCS bucket under a name prefix. It is
// safe for concurrent use.
type Backend struct {
	// Written once by New.
	bucket     *storage.BucketHandle
	bucketName string
	namePrefix string // "" or "prefix/"
	location   string // "gs://bucket/prefix"

	// bucketOK is set once a bucket lookup has shown the bucket exists,
	// so that later 404s need no further check.
	bucketOK atomic.Bool
}

var _ remote.Backend = (*Backend)(nil)

// New returns a Backend for bucket and prefix (as from ParseURL) that
// uses client, which the caller keeps owning. It makes no request.
func New(client *storage.Client, bucket, prefix string) (*Backend, error) {
	if client == nil {
		return nil, errors.New("gcs: nil client")
	}
	if bucket == "" {
		return nil, errors.New("gcs: empty bucket name")
	}
	prefix = strings.Trim(prefix, "/")
	b := &Backend{
		bucket:     client.Bucket(bucket).Retryer(storage.WithPolicy(storage.RetryNever)),
		bucketName: bucket,
		location:   "gs://" + bucket,
	}
	if prefix != "" {
		b.namePrefix = prefix + "/"
		b.location += "/" + prefix
	}
	return b, nil
}

// Location returns "gs://bucket/prefix".
func (b *Backend) Location() string { return b.location }

// Close does nothing: the client belongs to the caller.
func (b *Backend) Close() error { return nil }

func (b *Backend) object(name string) *storage.ObjectHandle {
	return b.bucket.Object(b.namePrefix + name)
}

// describe names an object for messages: "gs://bucket/prefix/name".
func (b *Backend) describe(name string) string { return b.location + "/" + name }

// Put uploads size bytes of src as name in one request.
func (b *Backend) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts remote.PutOptions) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("gcs put %s: negative size %d", b.describe(name), size)
	}
	// The declared CRC32C makes the server refuse a body that is not
	// exactly src: the library's multipart encoder ends the body cleanly
	// even when src fails midway, so without it a truncated object could
	// be stored.
	crc, err := checksum(ctx, src, size)
	if err != nil {
		return fmt.Errorf("gcs put %s: read source: %w", b.describe(name), err)
	}
	// Cancelling wctx without calling Close abandons the upload.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := b.object(name).NewWriter(wctx)
	w.ChunkSize = 0
	w.CRC32C, w.SendCRC32C = crc, true
	w.ContentType = opts.ContentType
	if w.ContentType == "" {
		w.ContentType = "application/octet-stream"
	}
	rd := &srcReader{r: io.NewSectionReader(src, 0, size)}
	if _, err := io.CopyN(w, rd, size); err != nil {
		// Abandon the upload: cancelling makes the writer abort its
		// request. Close must not be called: it would end the request
		// body cleanly, racing the abort, and could store what was sent.
		cancel()
		if rd.err != nil || errors.Is(err, io.EOF) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("gcs put %s: read source: %w", b.describe(name), err)
		}
		return b.translate(ctx, "put", name, err)
	}
	if err := w.Close(); err != nil {
		return b.translate(ctx, "put", name, err)
	}
	return nil
}

// checksum returns the CRC32C (Castagnoli) of size bytes of src. It fails
// if src does, if src is shorter than size, or if ctx is done.
func checksum(ctx context.Context, src io.ReaderAt, size int64) (uint32, error) {
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	buf := make([]byte, 1<<20)
	r := io.NewSectionReader(src, 0, size)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := io.ReadFull(r, buf)
		h.Write(buf[:n])
		total += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if total != size {
		return 0, fmt.Errorf("source has %d bytes, want %d: %w", total, size, io.ErrUnexpectedEOF)
	}
	return h.Sum32(), nil
}

// srcReader remembers whether an error came from the source rather than
// from the upload.
type srcReader struct {
	r   io.Reader
	err error
}

func (s *srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// Get returns length bytes of name from off (length < 0: to the end).
func (b *Backend) Get(ctx context.Context, name string, off, length int64, _ remote.GetOptions) (io.ReadCloser, error) {
	if err := check(ctx, name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("gcs get %s: negative offset %d: %w", b.describe(name), off, remote.ErrRange)
	}
	if length == 0 {
		return b.emptyAt(ctx, name, off)
	}
	if length < 0 {
		length = -1
	}
	r, err := b.object(name).NewRangeReader(ctx, off, length)
	if err != nil {
		err = b.translate(ctx, "get", name, err)
		if errors.Is(err, remote.ErrRange) {
			return b.emptyAt(ctx, name, off)
		}
		return nil, err
	}
	return r, nil
}

// emptyAt returns an empty reader if off is within [0, size] of name, and
// an error wrapping remote.ErrRange if it lies past the end.
func (b *Backend) emptyAt(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	info, err := b.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	if off > info.Size {
		return nil, fmt.Errorf("gcs get %s: offset %d past the end (%d bytes): %w", b.describe(name), off, info.Size, remote.ErrRange)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// Stat returns name's size.
func (b *Backend) Stat(ctx context.Context, name string) (remote.Info, error) {
	if err := check(ctx, name); err != nil {
		return remote.Info{}, err
	}
	attrs, err := b.object(name).Attrs(ctx)
	if err != nil {
		return remote.Info{}, b.translate(ctx, "stat", name, err)
	}
	return remote.Info{Name: name, Size: attrs.Size}, nil
}

// List calls fn for every object whose name starts with prefix.
func (b *Backend) List(ctx context.Context, prefix string, _ remote.ListOptions, fn func(remote.Info) error) error {
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	q := &storage.Query{Prefix: b.namePrefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size"}); err != nil {
		return err
	}
	it := b.bucket.Objects(ctx, q)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return b.translate(ctx, "list", prefix+"*", err)
		}
		name, ok := strings.CutPrefix(attrs.Name, b.namePrefix)
		if !ok || name == "" {
			continue
		}
		if err := fn(remote.Info{Name: name, Size: attrs.Size}); err != nil {
			return err
		}
	}
}

// Delete removes name.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	if err := b.object(name).Delete(ctx); err != nil {
		return b.translate(ctx, "delete", name, err)
	}
	return nil
}

// check validates name and fails early if ctx is already done.
func check(ctx context.Context, name string) error {
	if err := remote.ValidateName(name); err != nil {
		return err
	}
	return ctx.Err()
}
