# Shared by the benchmark scripts: source it, then call bench_isolate.
#
# bench_isolate HOME CEILING: an environment in which the user's git and
# lode configuration is never read or written (HOME, XDG dirs and git's
# global config under HOME; no system config; no LODE_*, GIT_LODE_*,
# GIT_LFS_*, GIT_TRACE* or repository-selecting GIT_* variables from the
# caller), git never looks above CEILING for a repository (the scratch
# directories lie inside lode's own), bin/git-lode of this checkout comes
# first on PATH, and progress bars are off. Go keeps the caller's module
# and build caches. A script that wants fixed commit dates exports
# GIT_AUTHOR_DATE and GIT_COMMITTER_DATE after the call.
bench_isolate() {
	local home=$1 ceiling=$2 v
	GOPATH=$(go env GOPATH) GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE) GOENV=$(go env GOENV)
	export GOPATH GOMODCACHE GOCACHE GOENV
	export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_CACHE_HOME=$home/.cache
	export GIT_CONFIG_GLOBAL=$home/.gitconfig GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
	export PATH=$ROOT/bin:$PATH
	for v in $(compgen -e); do
		case $v in
		LODE_* | GIT_LODE_* | GIT_LFS_* | GIT_TRACE* | GIT_DIR | GIT_WORK_TREE | GIT_INDEX_FILE | GIT_OBJECT_DIRECTORY | GIT_ALTERNATE_OBJECT_DIRECTORIES | GIT_AUTHOR_DATE | GIT_COMMITTER_DATE | GIT_CEILING_DIRECTORIES)
			unset "$v"
			;;
		esac
	done
	export GIT_CEILING_DIRECTORIES=$ceiling LODE_NO_PROGRESS=1
	mkdir -p "$home"
	git config --global user.name "lode bench"
	git config --global user.email "bench@lode.invalid"
	git config --global init.defaultBranch main
	git config --global advice.detachedHead false
	git config --global gc.auto 0
}
