#!/bin/sh
# Starts and stops the object-store servers lode's tests use, on
# 127.0.0.1 with free ports: versitygw (S3, POSIX back end in a folder) and
# fake-gcs-server (GCS JSON API, in memory), each with a bucket created.
#
#   run.sh install   go install the pinned server binaries if missing
#   run.sh start     install if needed, start both, write the env file
#   run.sh env       print the env file (export lines): eval "$(run.sh env)"
#   run.sh stop      stop both servers and remove their folder
#
# The servers keep their data, logs, pid files and env file in
# $LODE_SERVERS_DIR (default ${TMPDIR:-/tmp}/lode-test-servers). The env
# file sets AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_EC2_METADATA_DISABLED, LODE_TEST_S3_BUCKET,
# STORAGE_EMULATOR_HOST and LODE_TEST_GCS_BUCKET; Go tests that see them
# use these servers instead of starting their own.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${LODE_SERVERS_DIR:-${TMPDIR:-/tmp}/lode-test-servers}

VERSITYGW=github.com/versity/versitygw/cmd/versitygw@v1.8.0
FAKEGCS=github.com/fsouza/fake-gcs-server@v1.56.1

gobin() {
	b=$(go env GOBIN)
	[ -n "$b" ] || b=$(go env GOPATH | cut -d: -f1)/bin
	echo "$b"
}

have() {
	command -v "$1" >/dev/null 2>&1 || [ -x "$(gobin)/$1" ]
}

install_tools() {
	have versitygw || { echo "installing versitygw ($VERSITYGW)" >&2; go install "$VERSITYGW"; }
	have fake-gcs-server || { echo "installing fake-gcs-server ($FAKEGCS)" >&2; go install "$FAKEGCS"; }
}

case "${1:-}" in
install)
	install_tools
	;;
start)
	install_tools
	cd "$root"
	PATH=$PATH:$(gobin) go run ./integration/servers/testservers start "$dir" >/dev/null
	echo "servers running; env file: $dir/env" >&2
	;;
env)
	if [ ! -f "$dir/env" ]; then
		echo "no servers running in $dir: run '$0 start'" >&2
		exit 1
	fi
	cat "$dir/env"
	;;
stop)
	[ -d "$dir" ] || exit 0
	cd "$root"
	go run ./integration/servers/testservers stop "$dir"
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 install|start|env|stop" >&2
	exit 2
	;;
esac
