"""Unit tests: run with `python3 -m unittest` (or `poetry run python -m unittest`)
from the project directory."""

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

from trainjob import cli, data

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HEADER = "id,day,value,label\n"


def gen_rows(n, seed):
    """Deterministic rows in the format of lode's test data."""
    x = seed * 2654435761 % 2**32 or 1
    out = [HEADER]
    for i in range(n):
        x = (1103515245 * x + 12345) % 2**31
        month, day, label = 1 + x % 12, 1 + (x >> 4) % 28, (x >> 9) % 10
        value = (x >> 3) % 10000 / 100.0 + 50.0 * label
        out.append(f"{i},2026-{month:02d}-{day:02d},{value:.5f},class{label}\n")
    return "".join(out)


class Case(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name

    def write(self, rel, text, mode="w"):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as f:
            f.write(text)
        return path

    def train(self, data_dir, out="out"):
        """Run main in-process; return (exit code, stdout, stderr)."""
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = cli.main([os.path.join(self.tmp, data_dir), os.path.join(self.tmp, out)])
            except SystemExit as e:
                code = e.code
        return code, stdout.getvalue(), stderr.getvalue()

    def outputs(self, out="out"):
        res = []
        for name in ("model.json", "metrics.json"):
            with open(os.path.join(self.tmp, out, name), "rb") as f:
                res.append(f.read())
        return res

    def ok(self, data_dir, out="out"):
        code, stdout, stderr = self.train(data_dir, out)
        self.assertEqual(code, 0, stderr)
        model, metrics = self.outputs(out)
        return json.loads(model), json.loads(metrics)


class ModelTest(Case):
    def test_tiny_exact(self):
        self.write("d/train.csv", "x,label\n1,a\n2,a\n3,a\n10,b\n11,b\n12,b\n13,b\n")
        model, metrics = self.ok("d")
        self.assertEqual(model["features"], [{"column": "x", "kind": "number"}])
        a, b = model["classes"]
        self.assertEqual((a["label"], a["count"], b["label"], b["count"]), ("a", 3, "b", 4))
        self.assertAlmostEqual(a["prior"], 3 / 7)
        self.assertAlmostEqual(a["mean"][0], 2.0)
        self.assertAlmostEqual(b["mean"][0], 11.5)
        eps = model["var_smoothing"]
        pooled = sum((v - 52 / 7) ** 2 for v in (1, 2, 3, 10, 11, 12, 13)) / 7
        self.assertAlmostEqual(eps, 1e-9 * pooled)
        self.assertAlmostEqual(a["var"][0], 2 / 3 + eps)
        self.assertAlmostEqual(b["var"][0], 1.25 + eps)
        self.assertEqual(metrics["rows"], 7)
        self.assertEqual(metrics["train_accuracy"], 1.0)
        self.assertEqual(metrics["per_class"], [{"label": "a", "rows": 3, "correct": 3}, {"label": "b", "rows": 4, "correct": 4}])
        self.assertLess(metrics["train_log_loss"], 1e-3)
        # The closed-form likelihood equals a direct sum over the rows.
        nll = 0.0
        for x, c in [(1, a), (2, a), (3, a), (10, b), (11, b), (12, b), (13, b)]:
            m, v = c["mean"][0], c["var"][0]
            nll -= math.log(c["prior"]) - 0.5 * math.log(2 * math.pi * v) - (x - m) ** 2 / (2 * v)
        self.assertAlmostEqual(metrics["neg_log_likelihood_per_row"], nll / 7, places=9)

    def test_columns(self):
        # The date is a feature (days since 1970-01-01), text is ignored,
        # the last column is the label whatever its name.
        self.write("d/t.csv", "day,name,v,cls\n1970-01-02,x,1.5,p\n1970-01-04,y,2.5,q\n")
        model, _ = self.ok("d")
        self.assertEqual(model["label_column"], "cls")
        self.assertEqual(model["features"], [{"column": "day", "kind": "date"}, {"column": "v", "kind": "number"}])
        self.assertEqual([c["mean"] for c in model["classes"]], [[1.0, 1.5], [3.0, 2.5]])

    def test_lode_format(self):
        self.write("data/train.csv", gen_rows(2000, 1))
        model, metrics = self.ok("data")
        self.assertEqual([f["column"] for f in model["features"]], ["id", "day", "value"])
        self.assertEqual(len(model["classes"]), 10)
        self.assertEqual(metrics["rows"], 2000)
        self.assertEqual(sum(c["count"] for c in model["classes"]), 2000)
        size = os.path.getsize(os.path.join(self.tmp, "data/train.csv"))
        self.assertEqual(metrics["input_bytes"], size)
        self.assertEqual(metrics["bytes_read"], 2 * size)
        self.assertEqual(metrics["files"][0]["path"], "train.csv")
        # value depends on the label, so the model is much better than chance.
        self.assertGreater(metrics["train_accuracy"], 0.3)

    def test_files_in_order(self):
        rows = gen_rows(300, 2).splitlines(keepends=True)
        self.write("d/b/2.csv", HEADER + "".join(rows[201:]))
        self.write("d/a.csv", "".join(rows[:101]))
        self.write("d/b/1.csv", HEADER + "".join(rows[101:201]))
        self.write("d/.hidden.csv", "junk\n")
        self.write("d/.git/x.csv", "junk\n")
        self.write("d/notes.txt", "not a csv\n")
        self.write("one/train.csv", "".join(rows))
        _, metrics = self.ok("d")
        self.assertEqual([f["path"] for f in metrics["files"]], ["a.csv", "b/1.csv", "b/2.csv"])
        self.assertEqual([f["rows"] for f in metrics["files"]], [100, 100, 100])
        # Same rows in one file: the same model parameters.
        model_split, _ = self.ok("d", "o1")
        model_one, _ = self.ok("one", "o2")
        self.assertEqual(model_split["classes"], model_one["classes"])

    def test_small_chunks(self):
        # Reading in tiny chunks (rows split across reads) changes nothing.
        self.write("d/train.csv", gen_rows(500, 3))
        big = self.ok("d", "o1")
        old = data.CHUNK
        data.CHUNK = 7
        try:
            small = self.ok("d", "o2")
        finally:
            data.CHUNK = old
        self.assertEqual(big, small)
        self.assertEqual(self.outputs("o1"), self.outputs("o2"))


class DeterminismTest(Case):
    def run_module(self, data_dir, out, seed):
        env = dict(os.environ, PYTHONPATH=PROJECT, PYTHONHASHSEED=str(seed))
        p = subprocess.run(
            [sys.executable, "-m", "trainjob", os.path.join(self.tmp, data_dir), os.path.join(self.tmp, out)],
            env=env, capture_output=True, text=True,
        )
        self.assertEqual(p.returncode, 0, p.stderr)
        return self.outputs(out)

    def test_same_input_same_bytes(self):
        self.write("d1/train.csv", gen_rows(3000, 4))
        self.write("d2/train.csv", gen_rows(3000, 4))
        first = self.run_module("d1", "o1", 1)
        # Another process, hash seed, output and data directory.
        second = self.run_module("d2", "o2", 2)
        self.assertEqual(first, second)
        model, metrics = first
        self.assertTrue(model.endswith(b"}\n") and metrics.endswith(b"}\n"))
        self.assertNotIn(self.tmp.encode(), model + metrics)

    def test_different_input_different_bytes(self):
        text = gen_rows(3000, 5)
        self.write("d1/train.csv", text)
        self.write("d2/train.csv", text.replace("class3\n", "class4\n", 1))
        self.write("d3/train.csv", gen_rows(3000, 6))
        a, b, c = (self.run_module(d, "o" + d, 0) for d in ("d1", "d2", "d3"))
        for x, y in ((a, b), (a, c), (b, c)):
            self.assertNotEqual(x[0], y[0])
            self.assertNotEqual(x[1], y[1])


class ErrorTest(Case):
    def fails(self, files, *want):
        for rel, text in files.items():
            self.write(rel, text, "wb" if isinstance(text, bytes) else "w")
        code, stdout, stderr = self.train("d")
        self.assertEqual(code, 1, stdout + stderr)
        self.assertTrue(stderr.startswith("train: error: "), stderr)
        self.assertEqual(stderr.count("\n"), 1, stderr)
        for w in want:
            self.assertIn(w, stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "out", "model.json")))

    def test_wrong_field_count(self):
        self.fails({"d/train.csv": HEADER + "0,2026-01-01,1.0,class1\n1,2026-01-02,2.0\n"}, "train.csv:3:", "expected 4 fields, got 3")

    def test_bad_number(self):
        self.fails({"d/train.csv": HEADER + "0,2026-01-01,1.0,class1\n1,2026-01-02,abc,class2\n"}, "train.csv:3:", "column 'value'", "'abc'")

    def test_not_finite(self):
        self.fails({"d/train.csv": HEADER + "0,2026-01-01,1.0,class1\n1,2026-01-02,nan,class2\n"}, "train.csv:3:", "finite")

    def test_bad_date(self):
        self.fails({"d/train.csv": HEADER + "0,2026-01-01,1.0,class1\n1,2026-02-30,2.0,class2\n"}, "train.csv:3:", "column 'day'")

    def test_empty_label(self):
        self.fails({"d/train.csv": HEADER + "0,2026-01-01,1.0,\n"}, "train.csv:2:", "empty label")

    def test_unterminated_quote(self):
        self.fails({"d/train.csv": HEADER + '0,2026-01-01,1.0,"class1\n'}, "train.csv", "malformed CSV")

    def test_not_utf8(self):
        self.fails({"d/train.csv": HEADER.encode() + b"0,2026-01-01,1.0,class\xff\n"}, "train.csv", "not UTF-8")

    def test_empty_file(self):
        self.fails({"d/train.csv": ""}, "empty file")

    def test_header_only(self):
        self.fails({"d/train.csv": HEADER}, "no data rows")

    def test_no_numeric_column(self):
        self.fails({"d/train.csv": "name,label\nx,a\n"}, "no numeric or date column")

    def test_header_mismatch(self):
        self.fails({"d/a.csv": HEADER + "0,2026-01-01,1.0,class1\n", "d/b.csv": "id,label\n1,class1\n"}, "b.csv:1:", "differs")

    def test_no_csv_files(self):
        self.fails({"d/readme.txt": "hello\n"}, "no *.csv files")

    def test_missing_dir(self):
        code, _, stderr = self.train("nonexistent")
        self.assertEqual(code, 1)
        self.assertIn("no such directory", stderr)

    def test_usage(self):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), self.assertRaises(SystemExit) as cm:
            cli.main(["only-one-argument"])
        self.assertEqual(cm.exception.code, 2)
        self.assertIn("usage: train", stderr.getvalue())

    def test_exit_status_of_process(self):
        self.write("d/train.csv", HEADER + "0,2026-01-01,1.0\n")
        env = dict(os.environ, PYTHONPATH=PROJECT)
        p = subprocess.run(
            [sys.executable, "-m", "trainjob", os.path.join(self.tmp, "d"), os.path.join(self.tmp, "out")],
            env=env, capture_output=True, text=True,
        )
        self.assertEqual(p.returncode, 1)
        self.assertIn("train.csv:2: expected 4 fields, got 3", p.stderr)
        self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    unittest.main()
