// Package s3 is lode's remote.Backend for Amazon S3 and S3-compatible
// object stores (MinIO, Ceph RGW, Cloudflare R2, Versity Gateway, ...).
//
// A remote URL s3://bucket/prefix names a bucket and a key prefix; object
// name N is stored under the key "prefix/N" (just "N" when the prefix is
// empty). ParseURL splits such a URL; it refuses one with userinfo, as
// credentials never come from the URL.
//
// # Building a client
//
// The package reads no environment variables and no files of its own
// accord. The caller (cmd) builds a Config and passes it to New:
//
//   - ConfigFromEnv(ctx, getenv) follows the AWS conventions: credentials
//     from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
//     else AWS_PROFILE or the default profile of the shared files, else
//     the SDK's remaining chain (SSO, web identity, container and EC2
//     roles); the region from AWS_REGION or AWS_DEFAULT_REGION (us-east-1
//     when none is set); a custom endpoint from AWS_ENDPOINT_URL_S3 or
//     AWS_ENDPOINT_URL. When an endpoint is given, buckets are addressed
//     path-style (endpoint/bucket/key), which every S3-compatible server
//     accepts; virtual-hosted addressing needs wildcard DNS that local and
//     self-hosted servers rarely have. The variables lode interprets come
//     from getenv; the SDK's own loaders (shared files, SSO caches) still
//     consult the process environment for the settings only they know.
//   - Tests and programs with explicit values fill Config directly
//     (credentials.NewStaticCredentialsProvider, BaseEndpoint, Region).
//
// ConfigFromEnv and StaticConfig build the HTTP client with NewHTTPClient,
// which bounds connecting (10 s) and the wait for each response's header
// (20 s), so that an endpoint that accepts connections and never answers
// fails a try quickly; lode's retry decorator bounds the rest (time
// without progress, the minimum rate of a body, retries).
//
// New turns off the SDK's retries (lode wraps every back end in its own
// retry decorator; two layers of retries multiply waiting) and asks for
// checksums only where S3 requires them: lode verifies every chunk against
// its BLAKE3 id on read, and the newer default (trailing CRC checksums with
// aws-chunked bodies) is not understood by several S3-compatible servers.
//
// # Why aws-sdk-go-v2 (and not minio-go)
//
// Both speak path-style addressing with a custom endpoint, ranged GET,
// HeadObject and ListObjectsV2 paging. aws-sdk-go-v2 was chosen because it
// is the reference implementation of the credential chain users already
// configure for the aws CLI (profiles, SSO, assume-role, web identity,
// credential_process), which minio-go covers only in part; because its
// errors are typed (smithy.APIError codes, HTTP status on
// awshttp.ResponseError, a distinct failure when no credentials can be
// found), which makes translation to remote's sentinels exact; and because
// retries and checksums can be switched off per client.
//
// # Semantics
//
//   - Put is a single PutObject with a known Content-Length, streamed from
//     an io.SectionReader over src. S3 makes a PUT visible whole or not at
//     all, so Put is atomic. A single PUT holds at most 5 GiB; lode's packs
//     seal at about 64 MiB, and larger Puts fail with an error saying so.
//   - Get sends a Range header unless the whole object is asked for. A
//     range that starts exactly at the end of the object reads as empty
//     (S3 answers 416; a Stat tells that case apart from a range past the
//     end, which wraps remote.ErrRange).
//   - Stat is HeadObject. A HEAD answer carries no error code, so a 404 is
//     ambiguous between a missing key, a missing bucket and (on Versity
//     Gateway) an unknown access key: until one has succeeded, such a 404
//     is followed by a one-key ListObjectsV2, whose answer has a code, so
//     that the real cause is reported.
//   - Delete checks that the object exists (HeadObject) before deleting,
//     because S3 deletes of missing keys succeed silently and the contract
//     asks for remote.ErrNotExist.
//   - List pages through ListObjectsV2 (1000 keys a page) and calls fn on
//     the calling goroutine.
//
// # Errors
//
// NoSuchKey and 404 wrap remote.ErrNotExist; InvalidAccessKeyId,
// SignatureDoesNotMatch, AccessDenied, expired or invalid tokens, 401/403,
// and a credential chain that finds nothing wrap remote.ErrPermission, with
// a message naming AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_PROFILE;
// InvalidRange and 416 wrap remote.ErrRange; NoSuchBucket gives an error
// naming the bucket and endpoint that wraps remote.ErrNotExist (so that it
// is permanent: retrying cannot create a bucket). Network errors, timeouts
// and 5xx answers are returned as they are, for the retry decorator.
package s3
