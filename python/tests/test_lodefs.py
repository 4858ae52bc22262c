"""Tests of lodefs against a real repository and the real git-lode (on
PATH, or $LODEFS_GIT_LODE): run with `python3 -m unittest` from python/.
lode's integration tests (integration/lodefs_test.go) run them with the
binary they build."""

import hashlib
import io
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import fsspec

import lodefs


def git(repo, *args, data=None):
    return subprocess.run(["git", *args], cwd=repo, input=data, check=True, capture_output=True).stdout


def make_csv(rows, seed):
    r = random.Random(seed)
    out = io.StringIO()
    out.write("id,day,value,label\n")
    for i in range(rows):
        out.write("%d,2026-%02d-%02d,%.5f,class%d\n" % (i, r.randint(1, 12), r.randint(1, 28), r.random() * 1000, r.randint(0, 9)))
    return out.getvalue().encode()


class Repo:
    """A repository with data/train.csv (a lode file) at v1 and changed at
    main, a plain README and a symlink."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lodefs-test-")
        self.v1 = make_csv(30000, 1)
        self.v2 = self.v1 + make_csv(100, 2).split(b"\n", 1)[1]
        d = self.dir
        git(d, "init", "-q", "-b", "main")
        git(d, "config", "user.email", "t@lode.invalid")
        git(d, "config", "user.name", "t")
        subprocess.run(lodefs._server.git_lode_command() + ["install", "--local"], cwd=d, check=True, capture_output=True)
        subprocess.run(lodefs._server.git_lode_command() + ["track", "*.csv"], cwd=d, check=True, capture_output=True)
        os.makedirs(os.path.join(d, "data", "sub dir"))
        self.write("data/train.csv", self.v1)
        self.write("data/sub dir/a b.csv", b"x,label\n1,a\n")
        self.write("README.md", b"# data\n")
        os.symlink("data/train.csv", os.path.join(d, "latest.csv"))
        git(d, "add", "-A")
        git(d, "commit", "-q", "-m", "v1")
        git(d, "tag", "v1")
        self.write("data/train.csv", self.v2)
        git(d, "commit", "-q", "-am", "v2")
        self.v1_commit = git(d, "rev-parse", "v1").decode().strip()
        self.main_commit = git(d, "rev-parse", "main").decode().strip()

    def write(self, rel, data):
        with open(os.path.join(self.dir, rel), "wb") as f:
            f.write(data)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def setUpModule():
    global REPO
    REPO = Repo()


def tearDownModule():
    lodefs.stop_all()
    REPO.cleanup()


def _child_read(args):
    fs, path, start, end = args
    with fs.open(path) as f:
        f.seek(start)
        data = f.read(end - start)
    return os.getpid(), hashlib.sha256(data).hexdigest()


class LodeFSTest(unittest.TestCase):
    def setUp(self):
        self.fs = fsspec.filesystem("lode", repo=REPO.dir)

    def test_ls_info(self):
        names = self.fs.ls("lode://v1", detail=False)
        self.assertEqual(names, ["v1/.gitattributes", "v1/README.md", "v1/data", "v1/latest.csv"])
        es = {e["name"]: e for e in self.fs.ls("v1/data")}
        self.assertEqual(es["v1/data/train.csv"]["size"], len(REPO.v1))
        self.assertTrue(es["v1/data/train.csv"]["lode"])
        self.assertEqual(es["v1/data/sub dir"]["type"], "directory")
        info = self.fs.info("lode://main/data/train.csv")
        self.assertEqual((info["type"], info["size"], info["commit"]), ("file", len(REPO.v2), REPO.main_commit))
        self.assertEqual(self.fs.info("v1/data")["type"], "directory")
        self.assertEqual(self.fs.find("v1/data"), ["v1/data/sub dir/a b.csv", "v1/data/train.csv"])

    def test_read(self):
        self.assertEqual(self.fs.cat("lode://v1/data/train.csv"), REPO.v1)
        self.assertEqual(self.fs.cat("lode://main~1/data/train.csv"), REPO.v1)
        self.assertEqual(self.fs.cat("lode://%s/data/train.csv" % REPO.main_commit), REPO.v2)
        self.assertEqual(self.fs.cat("v1/data/sub dir/a b.csv"), b"x,label\n1,a\n")
        self.assertEqual(self.fs.cat("v1/README.md"), b"# data\n")
        self.assertEqual(self.fs.cat("v1/latest.csv"), REPO.v1)  # a symlink, followed inside the commit
        self.assertEqual(self.fs.cat_file("v1/data/train.csv", start=1000, end=1100), REPO.v1[1000:1100])
        with self.fs.open("lode://v1/data/train.csv", block_size=64 << 10) as f:
            for off in (0, 12345, len(REPO.v1) - 10, 70000):
                f.seek(off)
                self.assertEqual(f.read(5000), REPO.v1[off:off + 5000])
            f.seek(len(REPO.v1))
            self.assertEqual(f.read(10), b"")

    def test_pandas(self):
        try:
            import pandas as pd
        except ImportError:
            self.skipTest("pandas not installed (Debian: python3-pandas)")
        df = pd.read_csv("lode://v1/data/train.csv", storage_options={"repo": REPO.dir})
        self.assertEqual(len(df), 30000)
        self.assertEqual(list(df.columns), ["id", "day", "value", "label"])
        ref = pd.read_csv(io.BytesIO(REPO.v1))
        self.assertTrue(df.equals(ref))

    def test_resolve(self):
        self.assertEqual(lodefs.resolve("v1", repo=REPO.dir), REPO.v1_commit)
        self.assertEqual(self.fs.resolve("main"), REPO.main_commit)
        with self.assertRaises(FileNotFoundError):
            self.fs.resolve("no-such-branch")

    def test_errors(self):
        with self.assertRaises(FileNotFoundError):
            self.fs.open("v1/data/nope.csv")
        with self.assertRaises(FileNotFoundError):
            self.fs.info("nope/data/train.csv")
        with self.assertRaises(FileNotFoundError):
            self.fs.ls("v1/nope")
        with self.assertRaises(IsADirectoryError):
            self.fs.open("v1/data")
        with self.assertRaises(NotImplementedError):
            self.fs.open("v1/data/train.csv", "wb")
        self.assertFalse(self.fs.exists("v1/.git/config"))
        self.assertFalse(self.fs.exists("v1/../x"))

    def test_not_a_repository(self):
        d = tempfile.mkdtemp(prefix="lodefs-norepo-")
        try:
            with self.assertRaisesRegex(lodefs.LodeError, "not inside a git repository"):
                lodefs.LodeFileSystem(repo=d).ls("v1")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_open_pins_commit(self):
        # A file opened at "main" keeps reading that commit after main moves.
        repo = Repo()
        try:
            fs = lodefs.LodeFileSystem(repo=repo.dir)
            with fs.open("main/data/train.csv", block_size=4096) as f:
                first = f.read(100)
                repo.write("data/train.csv", b"id,label\n1,changed\n")
                git(repo.dir, "commit", "-q", "-am", "v3")
                rest = f.read()
            self.assertEqual(first + rest, repo.v2)
        finally:
            repo.cleanup()

    def test_fork(self):
        fs = self.fs
        self.assertEqual(fs.cat("v1/README.md"), b"# data\n")
        parent_conn = fs._conn()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its own connection, the parent's server
            code = 1
            try:
                os.close(r)
                ok = fs._conn() is not parent_conn and fs.cat("v1/data/train.csv") == REPO.v1
                code = 0 if ok else 3
            finally:
                os.write(w, b"%d" % code)
                os._exit(code)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.read(r, 10), b"0")
        os.close(r)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        # The parent's connection still works: the child did not use it.
        self.assertIs(fs._conn(), parent_conn)
        self.assertEqual(fs.cat("v1/README.md"), b"# data\n")

    def test_multiprocessing_fork(self):
        ctx = multiprocessing.get_context("fork")
        size = len(REPO.v1)
        jobs = [(self.fs, "v1/data/train.csv", s, min(s + 40000, size)) for s in range(0, size, 40000)]
        with ctx.Pool(4) as pool:
            got = pool.map(_child_read, jobs)
        for (_, _, s, e), (_, h) in zip(jobs, got):
            self.assertEqual(h, hashlib.sha256(REPO.v1[s:e]).hexdigest())
        self.assertGreater(len({p for p, _ in got}), 1)

    def test_server_stops_with_process(self):
        # A process that used lodefs leaves no server behind when it exits.
        code = textwrap.dedent("""
            import sys, fsspec, lodefs
            fs = fsspec.filesystem("lode", repo=sys.argv[1])
            assert fs.cat("v1/README.md") == b"# data\\n"
            srv = list(lodefs._server._servers.values())[0]
            print(srv.proc.pid, srv.socket, flush=True)
        """)
        out = subprocess.run([sys.executable, "-c", code, REPO.dir], check=True, capture_output=True,
                             env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(lodefs.__file__))))
        pid, sock = out.stdout.decode().split()
        self.assertFalse(os.path.exists(sock))
        self.assertFalse(_alive(int(pid)), "git lode serve %s still running" % pid)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    unittest.main()
