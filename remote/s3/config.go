package s3

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/lodevcs/lode/remote"
)

// DefaultRegion is the region used when none is configured. Most
// S3-compatible servers accept any region and expect this one.
const DefaultRegion = "us-east-1"

// Config is what New needs besides the bucket and prefix.
type Config struct {
	// AWS carries credentials, region, endpoint (BaseEndpoint) and HTTP
	// client. Its retry settings apply only to the credential services
	// (STS, SSO): New turns retries off for S3 requests.
	AWS aws.Config
	// PathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key. Set it for S3-compatible servers.
	PathStyle bool
}

// IdleConnTimeout is how long the HTTP client that NewHTTPClient builds
// keeps an idle connection.
const IdleConnTimeout = 90 * time.Second

// NewHTTPClient returns the HTTP client ConfigFromEnv and StaticConfig
// use: the SDK's client with the timeouts t (zero fields: the defaults,
// remote.DefaultDialTimeout, ...) and no overall request timeout. They
// bound the phases of a request that never depend on object size, so that
// an endpoint that accepts connections and never answers fails a try
// within t.ResponseHeader; the whole request's deadline is the caller's
// (lode's retry decorator).
func NewHTTPClient(t remote.HTTPTimeouts) *awshttp.BuildableClient {
	t = t.WithDefaults()
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = t.Dial
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = t.TLSHandshake
			tr.ResponseHeaderTimeout = t.ResponseHeader
			tr.IdleConnTimeout = IdleConnTimeout
			tr.MaxIdleConnsPerHost = 32
		})
}

// ConfigFromEnv builds a Config the way the aws CLI would, taking the
// variables lode interprets from getenv (normally os.Getenv):
//
//   - AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN):
//     static credentials, which win over any profile;
//   - AWS_PROFILE: the shared-config profile; without it and without keys
//     the SDK's default chain applies (default profile, SSO, web identity,
//     container and EC2 instance roles);
//   - AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region, else
//     DefaultRegion;
//   - AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL: a custom endpoint, which
//     also turns on path-style addressing;
//   - AWS_EC2_METADATA_DISABLED=true: never ask the EC2 metadata service.
//
// The SDK's loaders read the shared config and credentials files and may
// consult the process environment for settings lode does not interpret
// (AWS_CONFIG_FILE, AWS_CA_BUNDLE, ...).
func ConfigFromEnv(ctx context.Context, getenv func(string) string) (Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(NewHTTPClient(remote.HTTPTimeouts{})),
	}
	if r := firstNonEmpty(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	if p := getenv("AWS_PROFILE"); p != "" {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))))
	}
	if ep := firstNonEmpty(getenv("AWS_ENDPOINT_URL_S3"), getenv("AWS_ENDPOINT_URL")); ep != "" {
		if _, err := remote.ParseURL(ep); err != nil {
			return Config{}, fmt.Errorf("s3 endpoint: %w", err)
		}
		opts = append(opts, config.WithBaseEndpoint(ep))
	}
	if strings.EqualFold(getenv("AWS_EC2_METADATA_DISABLED"), "true") {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return Config{AWS: cfg, PathStyle: cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != ""}, nil
}

// StaticConfig returns a Config with fixed credentials for an
// S3-compatible endpoint, addressed path-style. region may be empty
// (DefaultRegion).
func StaticConfig(endpoint, region, accessKey, secretKey string) Config {
	if region == "" {
		region = DefaultRegion
	}
	return Config{
		AWS: aws.Config{
			Region:       region,
			BaseEndpoint: aws.String(endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
			HTTPClient:   NewHTTPClient(remote.HTTPTimeouts{}),
		},
		PathStyle: true,
	}
}

// ParseURL splits "s3://bucket/prefix" into bucket and prefix (without
// leading or trailing slashes; empty for the bucket's root). A URL with
// userinfo (s3://KEY:SECRET@bucket) is an error that does not repeat it:
// credentials belong in the AWS variables or profiles (ConfigFromEnv).
// Errors show the URL as remote.RedactURL does.
func ParseURL(raw string) (bucket, prefix string, err error) {
	shown := remote.RedactURL(raw)
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return "", "", fmt.Errorf("s3 URL %s: want s3://bucket/prefix", shown)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	switch {
	case strings.Contains(bucket, "@"), strings.Contains(bucket, ":") && remote.HasUserinfo(raw):
		return "", "", fmt.Errorf("s3 URL %s: credentials do not belong in the URL; write s3://bucket/prefix and %s", shown, CredentialsHint)
	case bucket == "":
		return "", "", fmt.Errorf("s3 URL %s: no bucket", shown)
	case strings.Contains(bucket, ":"):
		return "", "", fmt.Errorf("s3 URL %s: %q is not a bucket name (a custom endpoint goes in AWS_ENDPOINT_URL)", shown, bucket)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
