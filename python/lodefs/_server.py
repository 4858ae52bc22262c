"""Starting, reaching and stopping the `git lode serve` that a
LodeFileSystem reads through."""

import http.client
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

# Servers started by this process (or, after a fork, by a parent), by
# repository: a forked child reuses its parent's server and never stops
# it. Guarded by _lock.
_servers = {}
_lock = threading.Lock()

START_TIMEOUT = 60.0


class LodeError(OSError):
    """git-lode could not be started or answered with an error."""


def git_lode_command():
    """The command that runs git-lode: $LODEFS_GIT_LODE, git-lode on PATH,
    or `git lode`."""
    env = os.environ.get("LODEFS_GIT_LODE")
    if env:
        return [env]
    exe = shutil.which("git-lode")
    if exe:
        return [exe]
    return ["git", "lode"]


class Server:
    """A `git lode serve` on a unix socket in a private directory (mode
    0700, so other local users cannot connect), started for one
    repository and stopped when this process exits (or stop is called).
    It also stops by itself when its standard input closes, that is when
    this process and every child forked from it are gone."""

    def __init__(self, repo, args=()):
        self.repo = repo
        self.owner = os.getpid()
        self._dir = tempfile.mkdtemp(prefix="lodefs-")
        os.chmod(self._dir, 0o700)
        self.socket = os.path.join(self._dir, "serve.sock")
        cmd = git_lode_command() + ["serve", "--addr", "unix:" + self.socket, "--until-stdin-closes"] + list(args)
        # Its standard error goes to a file (a pipe nobody reads could fill
        # and stall it); read back if it fails to start.
        self._log = os.path.join(self._dir, "serve.log")
        try:
            with open(self._log, "wb") as log:
                self.proc = subprocess.Popen(cmd, cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=log)
        except OSError as e:
            self._cleanup()
            raise LodeError("lodefs: cannot run %s: %s (is git-lode installed and on PATH?)" % (" ".join(cmd), e)) from e
        line = self._read_ready()
        if not line.startswith("unix:"):
            err = self._fail()
            raise LodeError("lodefs: git lode serve in %s did not start: %s" % (repo, err or line or "no output"))

    def _read_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        return buf.decode("utf-8", "replace").strip()

    def _fail(self):
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        try:
            with open(self._log, "rb") as f:
                err = f.read(64 << 10).decode("utf-8", "replace").strip()
        except OSError:
            err = ""
        self._cleanup()
        return err

    def _cleanup(self):
        shutil.rmtree(self._dir, ignore_errors=True)

    def alive(self):
        return self.proc.poll() is None if os.getpid() == self.owner else os.path.exists(self.socket)

    def stop(self):
        """Stops the server, if this process started it."""
        if os.getpid() != self.owner:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._cleanup()


def server_for(repo, args=()):
    """The server for repo (an absolute path), started on first use."""
    key = (repo, tuple(args))
    with _lock:
        s = _servers.get(key)
        if s is not None and s.alive():
            return s
        s = Server(repo, args)
        _servers[key] = s
        return s


def stop_all():
    """Stops the servers this process started."""
    with _lock:
        servers = list(_servers.values())
        _servers.clear()
    for s in servers:
        s.stop()


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection over a unix socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self._path)
        except OSError:
            s.close()
            raise
        self.sock = s


def connection_factory(url=None, socket_path=None, timeout=300.0):
    """A function that makes a new connection to the server at url
    (http://HOST:PORT/) or socket_path."""
    if socket_path:
        return lambda: UnixHTTPConnection(socket_path, timeout)
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http" or not u.hostname:
        raise ValueError("lodefs: url must be http://HOST:PORT/, got %r" % url)
    host, port = u.hostname, u.port or 80
    return lambda: http.client.HTTPConnection(host, port, timeout=timeout)
