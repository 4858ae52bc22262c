package gcs

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/lodevcs/lode/remote"
)

// CredentialsHint is appended to permission errors.
const CredentialsHint = "check Google application default credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run 'gcloud auth application-default login'"

// NewClientFromEnv builds a storage client from the variables getenv
// (normally os.Getenv) returns: for the emulator at STORAGE_EMULATOR_HOST
// if that is set, else with application default credentials. Its HTTP
// client has the timeouts t (zero fields: the defaults,
// remote.DefaultDialTimeout, ...). The caller closes the client.
func NewClientFromEnv(ctx context.Context, getenv func(string) string, t remote.HTTPTimeouts) (*storage.Client, error) {
	if host := getenv("STORAGE_EMULATOR_HOST"); host != "" {
		return NewEmulatorClient(ctx, host, t)
	}
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{
		Scopes: []string{storage.ScopeFullControl},
	})
	if err != nil {
		return nil, fmt.Errorf("gcs: %w: %v; %s", remote.ErrPermission, err, CredentialsHint)
	}
	c, err := newClient(ctx, "", creds, t)
	if err != nil {
		return nil, fmt.Errorf("gcs client: %w", err)
	}
	return c, nil
}

// NewEmulatorClient builds an unauthenticated storage client for the
// emulator at host ("127.0.0.1:4443", or a URL "http://host:port"), whose
// HTTP client has the timeouts t. The caller closes the client.
func NewEmulatorClient(ctx context.Context, host string, t remote.HTTPTimeouts) (*storage.Client, error) {
	base := host
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c, err := newClient(ctx, strings.TrimSuffix(base, "/")+"/storage/v1/", nil, t)
	if err != nil {
		return nil, fmt.Errorf("gcs emulator client for %s: %w", remote.RedactURL(host), err)
	}
	return c, nil
}

// newClient builds a storage client for endpoint ("": Google's) over an
// HTTP client with the timeouts t that authenticates with creds (nil: not
// at all). The library would build its own HTTP client otherwise, whose
// transport has no response-header timeout.
func newClient(ctx context.Context, endpoint string, creds *auth.Credentials, t remote.HTTPTimeouts) (*storage.Client, error) {
	hc := &http.Client{Transport: t.Transport()}
	opts := []option.ClientOption{storage.WithJSONReads(), storage.WithDisabledClientMetrics()}
	if creds == nil {
		opts = append(opts, option.WithoutAuthentication())
	} else {
		var err error
		hc, err = httptransport.NewClient(&httptransport.Options{
			Credentials:      creds,
			BaseRoundTripper: hc.Transport,
			DisableTelemetry: true,
		})
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithAuthCredentials(creds))
	}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	return storage.NewClient(ctx, append(opts, option.WithHTTPClient(hc))...)
}

// ParseURL splits "gs://bucket/prefix" into bucket and prefix (without
// leading or trailing slashes; empty for the bucket's root). A URL with
// userinfo (gs://USER:SECRET@bucket) is an error that does not repeat it:
// credentials come from Google application default credentials. Errors
// show the URL as remote.RedactURL does.
func ParseURL(raw string) (bucket, prefix string, err error) {
	shown := remote.RedactURL(raw)
	rest, ok := strings.CutPrefix(raw, "gs://")
	if !ok {
		return "", "", fmt.Errorf("gcs URL %s: want gs://bucket/prefix", shown)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	switch {
	case strings.Contains(bucket, "@"), strings.Contains(bucket, ":") && remote.HasUserinfo(raw):
		return "", "", fmt.Errorf("gcs URL %s: credentials do not belong in the URL; write gs://bucket/prefix and %s", shown, CredentialsHint)
	case bucket == "":
		return "", "", fmt.Errorf("gcs URL %s: no bucket", shown)
	case strings.Contains(bucket, ":"):
		return "", "", fmt.Errorf("gcs URL %s: %q is not a bucket name (the emulator's address goes in STORAGE_EMULATOR_HOST)", shown, bucket)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}
