package servers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// RequireToolsVar is the variable that turns a missing server binary from
// a skip into a failure.
const RequireToolsVar = "LODE_TEST_REQUIRE_TOOLS"

// Start returns running S3 and GCS servers for t: those the environment
// names, or new ones that stop in t.Cleanup.
func Start(t testing.TB) Env {
	t.Helper()
	return start(t, true, true)
}

// StartS3 is Start for the S3 server alone.
func StartS3(t testing.TB) Env {
	t.Helper()
	return start(t, true, false)
}

// StartGCS is Start for the GCS server alone.
func StartGCS(t testing.TB) Env {
	t.Helper()
	return start(t, false, true)
}

func start(t testing.TB, s3, gcs bool) Env {
	t.Helper()
	env := envFromLookup(os.Getenv)
	if s3 && env.S3Endpoint != "" {
		s3 = false
	}
	if gcs && env.GCSHost != "" {
		gcs = false
	}
	if !s3 && !gcs {
		return env
	}
	var tools []Tool
	if s3 {
		tools = append(tools, S3Tool())
	}
	if gcs {
		tools = append(tools, GCSTool())
	}
	bins := Require(t, tools...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Launch(ctx, Options{Dir: t.TempDir(), S3: s3, GCS: gcs, Binaries: bins})
	if err != nil {
		t.Fatalf("start test servers: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	own := s.Env()
	if s3 {
		env.S3Endpoint, env.S3Region, env.S3AccessKey, env.S3SecretKey, env.S3Bucket =
			own.S3Endpoint, own.S3Region, own.S3AccessKey, own.S3SecretKey, own.S3Bucket
	}
	if gcs {
		env.GCSHost, env.GCSBucket = own.GCSHost, own.GCSBucket
	}
	return env
}

// Require returns the paths of tools' binaries, keyed by name. When one is
// missing it skips t with the install command, or fails t if
// LODE_TEST_REQUIRE_TOOLS is set.
func Require(t testing.TB, tools ...Tool) map[string]string {
	t.Helper()
	bins := map[string]string{}
	for _, tool := range tools {
		p, err := LookTool(tool.Name)
		if err != nil {
			msg := err.Error() + "; install it with: go install " + tool.Install +
				" (or run integration/servers/run.sh install)"
			if os.Getenv(RequireToolsVar) != "" {
				t.Fatalf("%s is set but %s", RequireToolsVar, msg)
			}
			t.Skip(msg)
		}
		bins[tool.Name] = p
	}
	return bins
}

// Prefix returns an object prefix unique to this call, derived from t's
// name ("TestX-sub-3f9a01c2"), so that tests sharing a bucket never see
// each other's objects.
func Prefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeChars().ReplaceAllString(t.Name(), "-")
	name = strings.Trim(name, "-")
	if len(name) > 80 {
		name = name[:80]
	}
	return name + "-" + hex.EncodeToString(b[:])
}

func unsafeChars() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) }
