// Package servers starts real object-store servers on the loopback
// interface for lode's tests: Versity Gateway (versitygw, an S3 server
// over a POSIX folder) and fake-gcs-server (the Google Cloud Storage JSON
// API, in memory). Each listens on 127.0.0.1 on a free port, with fixed
// test credentials and one bucket created.
//
// Tests call Start, StartS3 or StartGCS; the servers run as child
// processes of the test binary and stop in t.Cleanup (and die with it on
// Linux). When a server binary is missing the test is skipped with the
// install command, or fails if LODE_TEST_REQUIRE_TOOLS is set.
//
// When the environment already names running servers (as written by
// `integration/servers/run.sh start` and loaded with
// `eval "$(integration/servers/run.sh env)"`),
// Start uses them instead of starting its own: S3 when AWS_ENDPOINT_URL
// and LODE_TEST_S3_BUCKET are set, GCS when STORAGE_EMULATOR_HOST and
// LODE_TEST_GCS_BUCKET are set.
//
// Binaries are looked up on PATH, then in GOBIN and GOPATH/bin, where
// `go install` puts them (see S3Tool, GCSTool and run.sh install).
//
// Tests that share one server keep apart by object prefix (Env.Prefix),
// not by bucket.
package servers
