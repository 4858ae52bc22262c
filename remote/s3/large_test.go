package s3_test

import (
	"testing"

	"github.com/lodevcs/lode/integration/servers"
	"github.com/lodevcs/lode/remote"
	"github.com/lodevcs/lode/remote/remotetest"
)

// TestLargeObject round-trips an object of the size of a sealed pack.
func TestLargeObject(t *testing.T) {
	remotetest.RunLarge(t, func(t *testing.T) remote.Backend {
		env := servers.StartS3(t)
		return newBackend(t, testConfig(env), env.S3Bucket, servers.Prefix(t))
	})
}
