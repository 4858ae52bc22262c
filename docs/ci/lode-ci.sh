#!/bin/sh
# lode-ci.sh: the data step of a CI job on a lode repository. It fetches
# the data the job needs, runs the training command, and writes
# `git lode diff --md` against the base revision into a file, ready for
# `gh pr comment -F FILE` or a GitLab merge request note.
#
# Copy it into your repository (docs/ci/lode-ci.sh) and call it from the
# recipes beside it (github-actions.yml, gitlab-ci.yml). It needs git and
# git-lode on PATH, and a checkout whose lode files may be pointers only
# (GIT_LODE_SKIP_SMUDGE=1 at checkout, so that nothing is downloaded before
# this script picks what is needed).
#
# Usage:
#   lode-ci.sh --base REV [--data PATH]... [--out FILE] [--remote NAME]
#              [--mount DIR] -- COMMAND [ARG...]
#
#   --base REV     the revision to compare with (the pull request's target,
#                  e.g. origin/main); required
#   --data PATH    a path (file, directory or glob, as `git lode pull -I`
#                  takes it) whose data the command needs; repeat for more.
#                  None: all lode files of HEAD
#   --out FILE     where to write the Markdown (default lode-diff.md)
#   --remote NAME  the git remote whose lode remote to read (default: the
#                  branch's remote, or origin)
#   --mount DIR    instead of pulling the data into the work tree, mount
#                  HEAD read-only at DIR (data is fetched as it is read;
#                  needs FUSE) and export LODE_DATA=DIR to the command
#   COMMAND        the training command, run at the top of the work tree
#                  (its outputs, e.g. metrics.json, land in the work tree,
#                  where the diff sees them)
#
# Exit status: the command's when it fails; 1 when the pull or the diff
# fails; 2 on bad usage. LODE_CI_DRY_RUN=1 checks the arguments, prints
# what would run, and exits 0 (the tests use it to check the recipes).
set -eu

usage() {
	echo "usage: lode-ci.sh --base REV [--data PATH]... [--out FILE] [--remote NAME] [--mount DIR] -- COMMAND [ARG...]" >&2
	echo "(the comment at the top of $0 says what each does)" >&2
	exit 2
}

# quote prints its argument quoted for the shell.
quote() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }

die() { echo "lode-ci.sh: $*" >&2; exit "${2:-1}"; }

base= out=lode-diff.md remote= mount= data=
ndata=0
while [ $# -gt 0 ]; do
	case $1 in
	--base) [ $# -ge 2 ] || usage; base=$2; shift 2 ;;
	--base=*) base=${1#--base=}; shift ;;
	--data) [ $# -ge 2 ] || usage; data="$data -I $(quote "$2")"; ndata=$((ndata + 1)); shift 2 ;;
	--data=*) data="$data -I $(quote "${1#--data=}")"; ndata=$((ndata + 1)); shift ;;
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--out=*) out=${1#--out=}; shift ;;
	--remote) [ $# -ge 2 ] || usage; remote=$2; shift 2 ;;
	--remote=*) remote=${1#--remote=}; shift ;;
	--mount) [ $# -ge 2 ] || usage; mount=$2; shift 2 ;;
	--mount=*) mount=${1#--mount=}; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	*) echo "lode-ci.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -n "$base" ] || { echo "lode-ci.sh: --base REV is required" >&2; usage; }
[ $# -gt 0 ] || { echo "lode-ci.sh: no command after --" >&2; usage; }

remote_flag=
[ -z "$remote" ] || remote_flag="--remote $remote"

if [ "${LODE_CI_DRY_RUN:-}" = 1 ]; then
	echo "base=$base"
	echo "data=$ndata:$data"
	echo "out=$out"
	echo "remote=$remote"
	echo "mount=$mount"
	echo "command=$*"
	exit 0
fi

command -v git-lode >/dev/null 2>&1 || die "git-lode is not on PATH (install it first: go install github.com/lodevcs/lode/cmd/git-lode@latest)"
top=$(git rev-parse --show-toplevel) || die "not inside a git work tree"
cd "$top"
git rev-parse --verify -q "$base^{commit}" >/dev/null ||
	die "base revision '$base' is not in this clone (fetch it: git fetch origin BRANCH, or check out with fetch-depth: 0)"

# The filter must be configured for pull (it refuses otherwise) and for the
# diff to see the work tree as git will.
git lode install >/dev/null

if [ -n "$mount" ]; then
	mkdir -p "$mount"
	# shellcheck disable=SC2086
	git lode mount $remote_flag HEAD "$mount" || die "mount of HEAD at $mount failed"
	trap 'git lode umount "$mount" || git lode umount --lazy "$mount"' EXIT
	LODE_DATA=$mount
	export LODE_DATA
else
	# shellcheck disable=SC2086
	eval "git lode pull $remote_flag $data" || die "git lode pull failed: the files named above have no data on the remote"
fi

echo "lode-ci.sh: running $*" >&2
"$@" || { status=$?; echo "lode-ci.sh: the command failed (exit status $status)" >&2; exit "$status"; }

# shellcheck disable=SC2086
git lode diff --md $remote_flag "$base" >"$out" || die "git lode diff failed"
echo "lode-ci.sh: wrote $out" >&2
cat "$out"
