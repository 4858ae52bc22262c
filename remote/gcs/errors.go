package gcs

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/lodevcs/lode/remote"
)

// translate maps a storage library error from operation op on name to
// remote's sentinels; errors it does not recognise come back wrapped as
// they are.
func (b *Backend) translate(ctx context.Context, op, name string, err error) error {
	what := b.describe(name)
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("gcs %s %s: %w", op, what, err)
		}
		return fmt.Errorf("gcs %s %s: %w (%v)", op, what, cerr, err)
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return b.noBucket(op, name)
	}
	status, msg := 0, ""
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		status, msg = gerr.Code, gerr.Message
	}
	var aerr *auth.Error
	if errors.As(err, &aerr) && aerr.Response != nil {
		// A token request that the token server refused.
		if c := aerr.Response.StatusCode; c >= 400 && c < 500 {
			return fmt.Errorf("gcs %s %s: %w: %v; %s", op, what, remote.ErrPermission, aerr, CredentialsHint)
		}
	}
	switch {
	case errors.Is(err, storage.ErrObjectNotExist) || status == http.StatusNotFound:
		// A 404 may also mean the bucket is missing (uploads and some
		// reads do not say which).
		if !b.bucketOK.Load() {
			_, berr := b.bucket.Attrs(ctx)
			switch {
			case berr == nil:
				b.bucketOK.Store(true)
			case errors.Is(berr, storage.ErrBucketNotExist):
				return b.noBucket(op, name)
			}
		}
		return fmt.Errorf("gcs %s %s: %w", op, what, remote.ErrNotExist)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		if msg == "" {
			msg = http.StatusText(status)
		}
		return fmt.Errorf("gcs %s %s: %w: %s; %s", op, what, remote.ErrPermission, msg, CredentialsHint)
	case status == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("gcs %s %s: %w", op, what, remote.ErrRange)
	}
	return fmt.Errorf("gcs %s %s: %w", op, what, err)
}

func (b *Backend) noBucket(op, name string) error {
	return fmt.Errorf("gcs %s %s: bucket %q does not exist (create it, or fix the remote URL): %w",
		op, b.describe(name), b.bucketName, remote.ErrNotExist)
}
