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
package remotetest
