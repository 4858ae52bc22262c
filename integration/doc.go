// Package integration holds lode's end-to-end tests. They build the real
// git-lode binary, put it on PATH, and drive it through the real git
// binary, in throwaway repositories with an isolated HOME and git
// configuration. Scenarios are testscript files in testdata/*.txtar; the
// faults that need precise timing (a killed process, concurrent writers)
// are Go tests.
//
// Tests skip with a reason when a tool they need is missing; with
// LODE_TEST_REQUIRE_TOOLS=1 (as in `make test` and CI) a missing tool is a
// failure instead.
package integration
