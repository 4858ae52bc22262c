// Package mem is an in-memory remote.Backend for tests: a map from name to
// bytes behind a mutex. It meets the whole remote.Backend contract (it
// passes remotetest.Run), so code tested against it behaves the same on a
// real store. Objects are copied in by Put; readers returned by Get read
// from an immutable slice (Put replaces a slice, never changes one), so no
// caller can alter what another sees.
package mem
