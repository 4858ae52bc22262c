// Package cli implements the git-lode commands. It is the only package that
// reads flags, environment variables, git configuration and TOML files; it
// turns them into options for the packages below (hooks, cas) and turns
// their errors into messages that say what to do.
//
// One file per command. Exit codes are stable (see exit.go).
package cli
