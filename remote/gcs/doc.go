// Package gcs is lode's remote.Backend for Google Cloud Storage, through
// cloud.google.com/go/storage (JSON API over HTTP).
//
// A remote URL gs://bucket/prefix names a bucket and an object-name
// prefix; object name N is stored as "prefix/N" (just "N" when the prefix
// is empty). ParseURL splits such a URL; it refuses one with userinfo, as
// credentials never come from the URL.
//
// # Building a client
//
// The package reads no environment variables and no files of its own
// accord: New takes a *storage.Client that the caller (cmd) built and
// still owns (Backend.Close leaves it open). Two helpers build one:
//
//   - NewClientFromEnv(ctx, getenv): with STORAGE_EMULATOR_HOST (from
//     getenv) set, an unauthenticated client for that emulator; otherwise
//     a client with Google application default credentials, which the
//     Google auth library finds in GOOGLE_APPLICATION_CREDENTIALS, in
//     gcloud's file from `gcloud auth application-default login`, or on
//     the metadata server of a Google Cloud machine. When it finds none,
//     the error wraps remote.ErrPermission and says what to set.
//   - NewEmulatorClient(ctx, host): an unauthenticated client for a
//     storage emulator such as fake-gcs-server, given explicitly.
//
// Both turn off the library's client metrics (which would otherwise be
// exported to Google Cloud Monitoring), read through the JSON API, and give
// the library an HTTP client of their own that bounds connecting (10 s)
// and the wait for each response's header (20 s), so that a server that
// accepts connections and never answers fails a try quickly (the
// library's own client has no response-header timeout).
//
// # Semantics
//
//   - New turns the library's retries off (storage.RetryNever) on the
//     bucket handle: lode wraps every back end in its own retry decorator.
//     The library's reader still resumes a body that breaks by itself
//     (one request from the position reached, for every break), out of
//     the decorator's sight; the decorator's minimum rate still applies.
//   - Put reads src once to compute its CRC32C, then streams it through a
//     storage.Writer with ChunkSize 0 (one multipart upload request, no
//     buffering) that declares that CRC32C. GCS creates the object only
//     when the request completes and the checksum matches, so Put is
//     atomic: the declared checksum matters because the library's
//     multipart encoder ends the request body cleanly even when src fails
//     midway, and the server would otherwise store the truncated body.
//     When reading src fails, src is shorter than size, or ctx ends, Put
//     cancels the writer's context and never closes the writer. (The CRC
//     pass costs one extra read of src, from the page cache for a pack
//     just written, and checks the upload end to end as a bonus.)
//   - Get uses NewRangeReader. A range that starts exactly at the end of
//     the object reads as empty; one that starts past the end wraps
//     remote.ErrRange.
//   - Stat is ObjectHandle.Attrs; List walks the Objects iterator with the
//     prefix (names and sizes only), calling fn on the calling goroutine;
//     Delete is ObjectHandle.Delete (missing objects: remote.ErrNotExist).
//
// # Errors
//
// storage.ErrObjectNotExist and 404 wrap remote.ErrNotExist, except that
// a missing bucket (storage.ErrBucketNotExist, or a 404 for which a bucket
// lookup also finds nothing) gives an error naming the bucket, which also
// wraps remote.ErrNotExist so that it is permanent; 401 and 403
// (googleapi.Error) and failed token requests wrap remote.ErrPermission
// with a hint about application default credentials and
// GOOGLE_APPLICATION_CREDENTIALS; 416 wraps remote.ErrRange. Network
// errors, timeouts and 5xx answers are returned as they are, for the
// retry decorator.
package gcs
