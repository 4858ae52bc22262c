// Package remotetest holds what tests of remote back ends and of their
// users share.
//
// Run checks a back end against the whole remote.Backend contract; every
// back end's tests call it in one line:
//
//	func TestConformance(t *testing.T) {
//		remotetest.Run(t, func(t *testing.T) remote.Backend { return mem.New() })
//	}
//
// RunReadOnly checks the read half for back ends that cannot write (HTTP),
// with objects stored by another route.
//
// Faulty wraps any back end and injects faults on demand: failing calls,
// corrupt, truncated, stalled or slow Get bodies, Puts interrupted halfway,
// latency. Tests of retries, corruption detection and interrupted uploads
// use it on top of mem.New().
//
// The hostile servers are real servers on 127.0.0.1 for tests that need
// the network to misbehave under a real client (httpread's net/http, the
// S3 SDK, the GCS library), through remote.NewRetrying or end to end:
// NewSilentServer accepts connections and never answers, NewDripServer
// sends a body one byte every interval, NewBreakingServer drops every
// response after a few bytes. Point a back end at HostileServer.URL:
//
//	srv := remotetest.NewDripServer(t, data, time.Second)
//	hb, _ := httpread.New(srv.URL, nil, httpread.Options{})
//	b := remote.NewRetrying(hb, remote.RetryOptions{RateWindow: time.Second})
//
// or, for S3, s3.StaticConfig(srv.URL, "", "key", "secret").
package remotetest
