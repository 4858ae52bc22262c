// Package httpread reads a lode remote published by any plain static HTTP
// or HTTPS file server (nginx, Apache, "python3 -m http.server", a CDN,
// Go's http.FileServer over a local remote's directory). Nothing on the
// server understands lode: object "packs/ab.pack" is the URL
// <base>/packs/ab.pack.
//
// It is read-only and needs from the server only GET with byte ranges
// (RFC 9110) and HEAD:
//
//   - Get sends "Range: bytes=off-" or "bytes=off-end" (no header for a
//     whole object) and accepts 206 Partial Content whose Content-Range
//     starts at off, or 200 OK for a range starting at 0 (the server
//     ignored the header; the body is then cut to the length asked for). A
//     200 for a range starting later is an error wrapping
//     errors.ErrUnsupported (not retried): reading and discarding a whole
//     pack to reach one chunk is not what the caller asked for, unless
//     Options.DiscardToOffset says to (for servers without range support,
//     such as Python 3.11's http.server). 416 Range Not Satisfiable is
//     remote.ErrRange, unless the range starts exactly at the end of the
//     object, which yields no bytes as the contract requires.
//   - Stat sends HEAD and reads Content-Length.
//   - 404 and 410 are remote.ErrNotExist; 401 and 403 remote.ErrPermission;
//     any other status is a plain (retryable) error naming the status and
//     the URL. A redirect from an object's URL to the same URL with a
//     trailing slash (a directory, on most servers) is ErrNotExist.
//   - Put and Delete fail with remote.ErrReadOnly. List fails with an
//     error wrapping both remote.ErrReadOnly and errors.ErrUnsupported:
//     static servers cannot list, and callers that need a listing (push,
//     gc) need a writable remote anyway.
//
// The client New makes bounds connecting (10 s) and the wait for each
// response's header (20 s), so that a server that accepts connections and
// never answers fails a try quickly; remote.NewRetrying bounds the rest
// (time without progress, the minimum rate of a body, retries).
//
// Credentials in the URL's userinfo ("https://user:pass@host/store") are
// sent as HTTP basic auth on every request and never appear in Location
// or in error messages.
package httpread
