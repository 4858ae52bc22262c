"""lodefs: the revisions of a lode repository as an fsspec filesystem.

    import fsspec
    fs = fsspec.filesystem("lode")              # the repository around the working directory
    fs.ls("lode://v1/data")
    with fs.open("lode://v1/data/train.csv") as f: ...
    import pandas as pd; pd.read_csv("lode://main~3/data/train.csv")
    lodefs.resolve("v1")                        # the commit id, to record with a run's metrics

A path is REV/PATH: REV is a branch, tag, commit id or "main~3" (URL-escape
a "/" in it: "feature%2Fx"), PATH a file or directory of its tree. lodefs
has no format code of its own: it starts `git lode serve` for the
repository on a unix socket in a private directory, reads through it
(only the chunks a read touches are fetched, each checked by git-lode
against its id), and stops it when the process exits. A file, once
opened, reads the one commit its revision named at that moment.

Importing lodefs registers the "lode" protocol with fsspec; installed (for
example with Poetry from python/), fsspec finds it by its entry point.
Safe with forked workers (PyTorch DataLoader, multiprocessing 'fork'): a
child makes its own connections, reuses its parent's server and never
stops it; pickled (spawned workers), a filesystem starts a server of its
own.
"""

import atexit
import json
import os
import threading
import urllib.parse

import fsspec
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from ._server import LodeError, connection_factory, server_for, stop_all

__all__ = ["LodeFileSystem", "LodeFile", "LodeError", "resolve", "stop_all"]

# The number of times a request is sent again on a connection that the
# server closed meanwhile (keep-alive connections time out).
_RETRIES = 1


class LodeFileSystem(AbstractFileSystem):
    """The revisions of one repository, through `git lode serve`.

    repo: the repository (a work tree or bare repository; default:
    $LODEFS_REPO, else the one around the working directory when the
    filesystem is made).
    url: instead of starting a server, read through a running `git lode
    serve` at this address (http://HOST:PORT/).
    remote: the git remote whose lode remote to read (serve --remote).
    """

    protocol = "lode"
    root_marker = ""

    def __init__(self, repo=None, url=None, remote=None, timeout=300.0, **kwargs):
        super().__init__(repo=repo, url=url, remote=remote, timeout=timeout, **kwargs)
        self.repo = os.path.abspath(repo or os.environ.get("LODEFS_REPO") or os.getcwd())
        self.url = url
        self.remote = remote
        self.timeout = timeout
        self._local = threading.local()

    # Connections: one per thread, and never one made by another process
    # (after a fork, the child must not share its parent's connection).

    def _factory(self):
        if self.url:
            return connection_factory(url=self.url, timeout=self.timeout)
        args = ["--remote", self.remote] if self.remote else []
        srv = server_for(self.repo, args)
        return connection_factory(socket_path=srv.socket, timeout=self.timeout)

    def _conn(self, fresh=False):
        loc = self._local
        if fresh or getattr(loc, "pid", None) != os.getpid() or getattr(loc, "conn", None) is None:
            old = getattr(loc, "conn", None)
            if old is not None and getattr(loc, "pid", None) == os.getpid():
                old.close()
            loc.conn = self._factory()()
            loc.pid = os.getpid()
        return loc.conn

    def _request(self, method, target, headers=None):
        """Sends a request and returns (status, headers, data)."""
        for attempt in range(_RETRIES + 1):
            conn = self._conn(fresh=attempt > 0)
            try:
                conn.request(method, target, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.headers, data
            except (ConnectionError, OSError) as e:
                conn.close()
                self._local.conn = None
                if attempt == _RETRIES:
                    raise LodeError("lodefs: %s %s: %s" % (method, target, e)) from e
        raise AssertionError("unreachable")

    # Paths.

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("lode://"):
            path = path[len("lode://"):]
        elif path.startswith("lode::"):
            path = path[len("lode::"):]
        return path.strip("/")

    @staticmethod
    def _split(path):
        """REV/PATH -> (rev, path); rev unescaped."""
        rev, _, rest = path.partition("/")
        if not rev:
            raise ValueError("lodefs: a path is REV/PATH, such as v1/data/train.csv; got %r" % path)
        return urllib.parse.unquote(rev), rest

    @staticmethod
    def _target(rev, p, slash=False):
        t = "/" + urllib.parse.quote(rev, safe="") + "/"
        if p:
            t += "/".join(urllib.parse.quote(c, safe="") for c in p.split("/"))
            if slash:
                t += "/"
        return t

    def _error(self, status, data, path):
        msg = data.decode("utf-8", "replace").strip()
        if status == 404:
            return FileNotFoundError(2, msg or "not found", path)
        return LodeError("lodefs: %s: HTTP %d: %s" % (path, status, msg))

    # fsspec API.

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        rev, p = self._split(path)
        status, _, data = self._request("GET", self._target(rev, p, slash=True))
        if status == 404 and p:
            info = self.info(path)  # a file: fsspec lists it as itself
            return [info] if detail else [info["name"]]
        if status != 200:
            raise self._error(status, data, path)
        listing = json.loads(data)
        base = path
        out = []
        for e in listing["entries"]:
            out.append(self._entry(base + "/" + e["name"], e, listing["commit"]))
        if not detail:
            return [e["name"] for e in out]
        return out

    @staticmethod
    def _entry(name, e, commit):
        kind = {"dir": "directory", "file": "file", "symlink": "link"}.get(e["type"], e["type"])
        return {"name": name, "size": e["size"], "type": kind, "oid": e["oid"], "lode": e.get("lode", False),
                "commit": commit}

    def info(self, path, **kwargs):
        path = self._strip_protocol(path)
        rev, p = self._split(path)
        target = self._target(rev, p)
        for _ in range(8):  # symlinks: the server redirects to their targets
            status, headers, data = self._request("HEAD", target)
            if status not in (301, 302, 307, 308) or not headers.get("Location"):
                break
            target = headers["Location"]
        if status != 200:
            if status == 404:
                raise FileNotFoundError(2, "no such file or directory in that revision", path)
            raise self._error(status, data, path)
        # The path in the tree that was found (a symlink's target).
        found = "/".join(urllib.parse.unquote(c) for c in target.split("/")[2:] if c)
        kind = headers.get("X-Lode-Type")
        etag = (headers.get("ETag") or "").strip('"')
        out = {"name": path, "size": 0, "type": "directory", "oid": etag, "commit": headers.get("X-Lode-Commit"),
               "lode_path": found}
        if kind != "dir":
            out.update(size=int(headers["Content-Length"]), type="file")
        return out

    def resolve(self, rev):
        """The commit id that rev names now."""
        status, headers, data = self._request("HEAD", self._target(rev, ""))
        if status != 200:
            raise self._error(status, data, rev)
        return headers["X-Lode-Commit"]

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        if mode != "rb":
            raise NotImplementedError("lodefs: revisions are read-only (mode %r)" % mode)
        return LodeFile(self, path, mode=mode, block_size=block_size, cache_options=cache_options, **kwargs)

    def cat_file(self, path, start=None, end=None, **kwargs):
        info = self.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(path)
        size = info["size"]
        start = 0 if start is None else (start if start >= 0 else max(size + start, 0))
        end = size if end is None else (end if end >= 0 else max(size + end, 0))
        end = min(end, size)
        if start >= end:
            return b""
        return self._fetch(info["commit"], info["lode_path"], info["oid"], start, end)

    def _fetch(self, commit, p, oid, start, end):
        """Bytes start to end of the file at p of commit, which must have
        the id oid."""
        headers = {"Range": "bytes=%d-%d" % (start, end - 1), "If-Match": '"%s"' % oid}
        status, _, data = self._request("GET", self._target(commit, p), headers=headers)
        if status not in (200, 206):
            raise self._error(status, data, p)
        if status == 200:
            data = data[start:end]
        if len(data) != end - start:
            raise LodeError("lodefs: %s: got %d bytes at %d, asked for %d" % (p, len(data), start, end - start))
        return data

    def ukey(self, path):
        return self.info(path)["oid"]

    def __reduce__(self):
        return (_make, (self.storage_args, self.storage_options))


def _make(args, kwargs):
    return LodeFileSystem(*args, **kwargs)


class LodeFile(AbstractBufferedFile):
    """A file of one commit, read with range requests."""

    def __init__(self, fs, path, mode="rb", **kwargs):
        path = fs._strip_protocol(path)
        info = fs.info(path)
        if info["type"] != "file":
            raise IsADirectoryError(21, "is a directory", path)
        self.commit, self.oid, self._p = info["commit"], info["oid"], info["lode_path"]
        kwargs.pop("size", None)
        super().__init__(fs, path, mode=mode, size=info["size"], **kwargs)

    def _fetch_range(self, start, end):
        end = min(end, self.size)
        if start >= end:
            return b""
        return self.fs._fetch(self.commit, self._p, self.oid, start, end)


def resolve(rev, repo=None):
    """The commit id that rev names in repo (default: the repository
    around the working directory): what to record with a run's metrics."""
    return LodeFileSystem(repo=repo).resolve(rev)


fsspec.register_implementation("lode", LodeFileSystem, clobber=True)
atexit.register(stop_all)
