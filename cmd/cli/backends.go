package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/gcs"
	"github.com/lodevcs/lode/remote/httpread"
	"github.com/lodevcs/lode/remote/local"
	"github.com/lodevcs/lode/remote/s3"
)

// openLocal opens a remote in a local folder.
func openLocal(dir string) (remote.Backend, error) {
	if dir == "" {
		return nil, errors.New("empty path")
	}
	return local.New(dir, local.Options{})
}

// openHTTP opens a read-only remote served by a plain HTTP(S) file server.
func openHTTP(raw string) (remote.Backend, error) {
	return httpread.New(raw, nil, httpread.Options{})
}

// openS3 opens an S3-compatible remote, s3://bucket/prefix, with the
// usual AWS configuration: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or
// AWS_PROFILE, AWS_REGION, and AWS_ENDPOINT_URL (which also turns on
// path-style addressing, as S3-compatible servers need).
func (a *app) openS3(ctx context.Context, raw string) (remote.Backend, error) {
	bucket, prefix, err := s3.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	cfg, err := s3.ConfigFromEnv(ctx, a.getenv)
	if err != nil {
		return nil, err
	}
	return s3.New(cfg, bucket, prefix)
}

// openGCS opens a Google Cloud Storage remote, gs://bucket/prefix, with
// application default credentials, or the emulator named by
// STORAGE_EMULATOR_HOST.
func (a *app) openGCS(ctx context.Context, raw string) (remote.Backend, error) {
	bucket, prefix, err := gcs.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	client, err := gcs.NewClientFromEnv(ctx, a.getenv, remote.HTTPTimeouts{})
	if err != nil {
		return nil, err
	}
	b, err := gcs.New(client, bucket, prefix)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &closingBackend{Backend: b, close: client.Close}, nil
}

// closingBackend also closes what the back end was built on.
type closingBackend struct {
	remote.Backend
	close func() error
}

func (c *closingBackend) Close() error {
	err := c.Backend.Close()
	if cerr := c.close(); err == nil {
		err = cerr
	}
	return err
}

// errWorkTreeRemote is wrapped by the errors of writes to readOnlyBackend.
var errWorkTreeRemote = errors.New("lode does not write into another repository's store")

// readOnlyBackend is a back end lode only reads: the store of another
// repository with a work tree (embeddedRemote). Put and Delete fail with
// remote.ErrReadOnly and say why.
type readOnlyBackend struct {
	remote.Backend
	what string // "the store of git remote origin, a repository with a work tree"
}

func (b readOnlyBackend) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts remote.PutOptions) error {
	return fmt.Errorf("put %s in %s: %w (%w): it is %s", name, b.Location(), remote.ErrReadOnly, errWorkTreeRemote, b.what)
}

func (b readOnlyBackend) Delete(ctx context.Context, name string) error {
	return fmt.Errorf("delete %s in %s: %w (%w): it is %s", name, b.Location(), remote.ErrReadOnly, errWorkTreeRemote, b.what)
}
