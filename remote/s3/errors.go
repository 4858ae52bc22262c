package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/lodevcs/lode/remote"
)

// CredentialsHint is appended to permission errors.
const CredentialsHint = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, to credentials that may use this bucket"

// credentialsMarker wraps the configured credentials provider so that a
// chain that finds no credentials is recognised as a permission error.
type credentialsMarker struct {
	aws.CredentialsProvider
}

// IsCredentialsProvider lets aws.IsCredentialsProvider see through the
// marker (the S3 client looks for anonymous credentials that way).
func (m credentialsMarker) IsCredentialsProvider(target aws.CredentialsProvider) bool {
	return aws.IsCredentialsProvider(m.CredentialsProvider, target)
}

// credentialsError is what credentialsMarker returns.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "no AWS credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// Retrieve marks the provider's errors as credential errors, except the
// caller's ctx ending and 5xx answers of a credential service. (The
// credential services' own clients retry network failures; a chain that
// ends at an unreachable EC2 metadata service, as on a machine with no
// credentials configured, is a credentials problem.)
func (m credentialsMarker) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.CredentialsProvider.Retrieve(ctx)
	var re *awshttp.ResponseError
	if err != nil && ctx.Err() == nil && !(errors.As(err, &re) && re.HTTPStatusCode() >= 500) {
		return c, &credentialsError{err}
	}
	return c, err
}

// translate maps an SDK error from operation op on name to remote's
// sentinels; errors it does not recognise come back wrapped as they are.
func (b *Backend) translate(ctx context.Context, op, name string, err error) error {
	what := b.describe(name)
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return fmt.Errorf("s3 %s %s: %w", op, what, err)
		}
		return fmt.Errorf("s3 %s %s: %w (%v)", op, what, cerr, err)
	}
	var ce *credentialsError
	if errors.As(err, &ce) {
		return fmt.Errorf("s3 %s %s: %w: %v; %s", op, what, remote.ErrPermission, ce.err, CredentialsHint)
	}
	switch kind, detail := classify(err); kind {
	case kindNoBucket:
		return b.noBucket(op, name)
	case kindPermission:
		return b.permission(op, name, detail)
	case kindNotExist:
		return fmt.Errorf("s3 %s %s: %w", op, what, remote.ErrNotExist)
	case kindAmbiguous404:
		// HEAD answers carry no error code: a missing key, a missing
		// bucket and (on some servers) an unknown access key all read
		// 404. A listing, whose answer has a code, tells them apart; once
		// it has succeeded the bucket is known to exist.
		if b.bucketOK.Load() {
			return fmt.Errorf("s3 %s %s: %w", op, what, remote.ErrNotExist)
		}
		_, perr := b.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
			Bucket:  aws.String(b.bucket),
			Prefix:  aws.String(b.key(name)),
			MaxKeys: aws.Int32(1),
		})
		if perr == nil {
			b.bucketOK.Store(true)
		}
		switch pkind, pdetail := classify(perr); pkind {
		case kindNoBucket:
			return b.noBucket(op, name)
		case kindPermission:
			return b.permission(op, name, pdetail)
		}
		return fmt.Errorf("s3 %s %s: %w", op, what, remote.ErrNotExist)
	case kindRange:
		return fmt.Errorf("s3 %s %s: %w", op, what, remote.ErrRange)
	}
	return fmt.Errorf("s3 %s %s: %w", op, what, err)
}

type errKind int

const (
	kindOther errKind = iota
	kindNoBucket
	kindPermission
	kindNotExist
	kindAmbiguous404
	kindRange
)

// classify sorts an S3 answer by its error code and HTTP status; detail
// describes a permission error.
func classify(err error) (errKind, string) {
	if err == nil {
		return kindOther, ""
	}
	code, msg, status := "", "", 0
	var api smithy.APIError
	if errors.As(err, &api) {
		code, msg = api.ErrorCode(), api.ErrorMessage()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var nsk *types.NoSuchKey
	switch {
	case code == "NoSuchBucket":
		return kindNoBucket, ""
	case isPermissionCode(code) || status == http.StatusUnauthorized || status == http.StatusForbidden:
		detail := code
		if msg != "" {
			detail += " (" + msg + ")"
		}
		if detail == "" {
			detail = http.StatusText(status)
		}
		return kindPermission, detail
	case errors.As(err, &nsk) || code == "NoSuchKey":
		return kindNotExist, ""
	case code == "NotFound" || status == http.StatusNotFound:
		return kindAmbiguous404, ""
	case code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable:
		return kindRange, ""
	}
	return kindOther, ""
}

func (b *Backend) permission(op, name, detail string) error {
	return fmt.Errorf("s3 %s %s: %w: %s; %s", op, b.describe(name), remote.ErrPermission, detail, CredentialsHint)
}

func (b *Backend) noBucket(op, name string) error {
	return fmt.Errorf("s3 %s %s: bucket %q does not exist at %s (create it, or fix the remote URL): %w",
		op, b.describe(name), b.bucket, b.endpoint, remote.ErrNotExist)
}

// isPermissionCode reports whether an S3 error code means the credentials
// are wrong, missing, expired or not allowed.
func isPermissionCode(code string) bool {
	switch code {
	case "AccessDenied", "AllAccessDisabled", "AccountProblem", "ExpiredToken",
		"Forbidden", "InvalidAccessKeyId", "InvalidSecurity", "InvalidToken",
		"MissingSecurityHeader", "SignatureDoesNotMatch", "TokenRefreshRequired",
		// Versity Gateway's answer (with status 404) to an unknown key.
		"XAdminUserNotFound":
		return true
	}
	return false
}
