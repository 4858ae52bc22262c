package s3

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/lodevcs/lode/remote"
)

// MaxPutSize is the largest object a single PutObject may store.
const MaxPutSize = 5 << 30

// Backend stores objects in one S3 bucket under a key prefix. It is safe
// for concurrent use.
type Backend struct {
	// Written once by New.
	client    *awss3.Client
	http      aws.HTTPClient
	bucket    string
	keyPrefix string // "" or "prefix/"
	location  string // "s3://bucket/prefix"
	endpoint  string // for messages: the custom endpoint, or "AWS"

	// bucketOK is set once a HeadBucket has shown the bucket exists, so
	// that later ambiguous 404s from HeadObject need no further check.
	bucketOK atomic.Bool
}

var _ remote.Backend = (*Backend)(nil)

// New returns a Backend for bucket and prefix (as from ParseURL) that
// talks through a client built from cfg. It makes no request.
func New(cfg Config, bucket, prefix string) (*Backend, error) {
	if bucket == "" {
		return nil, errors.New("s3: empty bucket name")
	}
	prefix = strings.Trim(prefix, "/")
	b := &Backend{
		bucket:   bucket,
		http:     cfg.AWS.HTTPClient,
		location: "s3://" + bucket,
		endpoint: "AWS",
	}
	if prefix != "" {
		b.keyPrefix = prefix + "/"
		b.location += "/" + prefix
	}
	if cfg.AWS.BaseEndpoint != nil && *cfg.AWS.BaseEndpoint != "" {
		b.endpoint = remote.RedactURL(*cfg.AWS.BaseEndpoint)
	}
	awsCfg := cfg.AWS.Copy()
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	if awsCfg.Credentials != nil {
		awsCfg.Credentials = credentialsMarker{awsCfg.Credentials}
	}
	b.client = awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		o.UsePathStyle = cfg.PathStyle
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return b, nil
}

// Location returns "s3://bucket/prefix".
func (b *Backend) Location() string { return b.location }

// Close releases idle connections of the HTTP client.
func (b *Backend) Close() error {
	if c, ok := b.http.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

func (b *Backend) key(name string) string { return b.keyPrefix + name }

// Put stores size bytes of src under name with one PutObject.
func (b *Backend) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts remote.PutOptions) error {
	if err := check(ctx, name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("s3 put %s: negative size %d", name, size)
	}
	if size > MaxPutSize {
		return fmt.Errorf("s3 put %s: %d bytes exceed the 5 GiB limit of a single S3 PUT", name, size)
	}
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(b.key(name)),
		Body:          io.NewSectionReader(src, 0, size),
		ContentLength: aws.Int64(size),
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	var callOpts []func(*awss3.Options)
	if opts.SHA256 != nil {
		sum, err := opts.SHA256()
		if err != nil {
			return fmt.Errorf("s3 put %s: hash the content: %w", b.describe(name), err)
		}
		callOpts = append(callOpts, withPayloadHash(hex.EncodeToString(sum)))
	}
	if _, err := b.client.PutObject(ctx, in, callOpts...); err != nil {
		return b.translate(ctx, "put", name, err)
	}
	return nil
}

// withPayloadHash gives the request signer the payload's SHA-256, so that
// it does not read the whole body to compute it before sending.
func withPayloadHash(hash string) func(*awss3.Options) {
	return func(o *awss3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("lodePayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, hash), in)
				}), "ComputePayloadHash", middleware.Before)
		})
	}
}

// Get returns length bytes of name from off (length < 0: to the end).
func (b *Backend) Get(ctx context.Context, name string, off, length int64, _ remote.GetOptions) (io.ReadCloser, error) {
	if err := check(ctx, name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("s3 get %s: negative offset %d: %w", b.describe(name), off, remote.ErrRange)
	}
	if length == 0 {
		return b.emptyAt(ctx, name, off)
	}
	in := &awss3.GetObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(b.key(name)),
	}
	switch {
	case length > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+length-1, 10))
	case off > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-")
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		err = b.translate(ctx, "get", name, err)
		if errors.Is(err, remote.ErrRange) {
			// 416 also answers a range that starts exactly at the end
			// (and any range of an empty object): that one reads empty.
			return b.emptyAt(ctx, name, off)
		}
		return nil, err
	}
	return out.Body, nil
}

// emptyAt returns an empty reader if off is within [0, size] of name, and
// an error wrapping remote.ErrRange if it lies past the end.
func (b *Backend) emptyAt(ctx context.Context, name string, off int64) (io.ReadCloser, error) {
	info, err := b.Stat(ctx, name)
	if err != nil {
		return nil, err
	}
	if off > info.Size {
		return nil, fmt.Errorf("s3 get %s: offset %d past the end (%d bytes): %w", b.describe(name), off, info.Size, remote.ErrRange)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// Stat returns name's size.
func (b *Backend) Stat(ctx context.Context, name string) (remote.Info, error) {
	if err := check(ctx, name); err != nil {
		return remote.Info{}, err
	}
	out, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(b.key(name)),
	})
	if err != nil {
		return remote.Info{}, b.translate(ctx, "stat", name, err)
	}
	return remote.Info{Name: name, Size: aws.ToInt64(out.ContentLength)}, nil
}

// List calls fn for every object whose name starts with prefix, one
// ListObjectsV2 page at a time.
func (b *Backend) List(ctx context.Context, prefix string, _ remote.ListOptions, fn func(remote.Info) error) error {
	if err := remote.ValidatePrefix(prefix); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := awss3.NewListObjectsV2Paginator(b.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(b.bucket),
		Prefix: aws.String(b.key(prefix)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return b.translate(ctx, "list", prefix+"*", err)
		}
		for _, o := range page.Contents {
			name, ok := strings.CutPrefix(aws.ToString(o.Key), b.keyPrefix)
			if !ok || name == "" {
				continue
			}
			if err := fn(remote.Info{Name: name, Size: aws.ToInt64(o.Size)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes name, or reports remote.ErrNotExist if it is missing.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if _, err := b.Stat(ctx, name); err != nil {
		return err
	}
	_, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(b.key(name)),
	})
	if err != nil {
		return b.translate(ctx, "delete", name, err)
	}
	return nil
}

// describe names an object for messages: "s3://bucket/prefix/name".
func (b *Backend) describe(name string) string { return b.location + "/" + name }

// check validates name and fails early if ctx is already done.
func check(ctx context.Context, name string) error {
	if err := remote.ValidateName(name); err != nil {
		return err
	}
	return ctx.Err()
}
