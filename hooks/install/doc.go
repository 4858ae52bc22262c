// Package install sets up and removes what makes git use lode: the filter
// configuration and the repository hooks. It is what `git lode install` and
// `git lode uninstall` do, and what `git lode status` reports.
//
// # Configuration
//
// Install writes, in one configuration scope (the repository's config, the
// user's global config, or the system config), by running `git config`:
//
//	filter.lode.process  = git-lode filter-process
//	filter.lode.clean    = git-lode clean -- %f
//	filter.lode.smudge   = git-lode smudge -- %f
//	filter.lode.required = true
//
// and the same for the driver of the size rule, filter.lode-above, whose
// commands take --size-rule (files below the repository's threshold pass
// through clean unchanged). Two drivers,
// because git tells a filter which driver a file's attributes named and
// nothing else: that is how the filter knows a file came through the
// catch-all attribute (`* filter=lode-above`) rather than a pattern that
// `git lode track` wrote (`*.csv filter=lode -text`), which always goes to
// lode whatever its size.
//
// A value is ours when it is exactly what Install writes, or the same
// command line naming another git-lode executable (an older install with a
// different Options.Command); Install replaces the latter. Any other value
// is someone else's: Install stops with ErrConflict before changing
// anything, unless Options.Force. Uninstall removes only values that are
// ours, and each section ([filter "lode"], [filter "lode-above"]) when
// nothing else is left in it.
//
// # Hooks
//
// Hooks live in the directory git runs them from: `git rev-parse --git-path
// hooks`, which honours core.hooksPath and, in a linked worktree, points at
// the main repository's hooks. Each hook Install writes is a short POSIX sh
// script whose second line is a marker,
//
//	# git-lode hook v1: installed by 'git lode install'; 'git lode uninstall' removes it
//
// and which runs `git-lode hook NAME "$@"` (exit 2 with advice when
// git-lode is not on PATH). Any file carrying a marker of any version is
// ours and is rewritten in place when its body differs. A hook that is not
// ours is never overwritten: Install renames it to NAME.lode-chained, and
// `git-lode hook NAME` calls RunChained after its own work so that the
// user's hook still runs, with the same arguments and standard input. If
// NAME.lode-chained already exists too, Install stops with ErrHookConflict.
// Uninstall removes our hook and renames NAME.lode-chained back, so the
// user's hook returns byte for byte, with its mode.
//
// Install and Uninstall are idempotent: a second run changes nothing and
// reports no Change. Neither ever touches lode's data in .git/lode.
//
// This package takes everything it needs as Options; it reads no flags,
// environment variables or lode configuration files. The git child
// processes inherit the environment plus Options.Env, with LC_ALL=C so
// that their messages can be recognised.
package install
