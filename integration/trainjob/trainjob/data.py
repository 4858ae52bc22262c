"""Finding, streaming and parsing the CSV input.

Only ordinary file I/O is used (open/readinto, os.walk), so the input may
live on a FUSE mount. Files are read sequentially in 1 MiB chunks and never
held in memory whole.

DATA_DIR may also be a lode URL, lode://REV/PATH: the files are then found
and read through fsspec's "lode" filesystem (the lodefs package, with
fsspec; the repository is $LODEFS_REPO or the one around the working
directory), REV resolved once to its commit so that both passes read the
same bytes. Nothing else changes: the output is byte for byte what the
same files give from a directory.
"""

import csv
import datetime
import hashlib
import io
import os
import re

CHUNK = 1 << 20

_DATE = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
_EPOCH = datetime.date(1970, 1, 1).toordinal()


class DataError(Exception):
    """The input is missing or malformed; the message says where and why."""


LODE = "lode://"


def lode_fs():
    """The "lode" fsspec filesystem (imported only for lode:// input)."""
    try:
        import fsspec
        import lodefs  # noqa: F401  (registers the "lode" protocol)
    except ImportError as e:
        raise DataError(f"lode:// input needs fsspec and lodefs: {e}") from None
    return fsspec.filesystem("lode")


def resolve_lode(url):
    """lode://REV/PATH -> (lode://COMMIT/PATH, COMMIT)."""
    rev, _, rest = url[len(LODE):].partition("/")
    try:
        commit = lode_fs().resolve(rev)
    except OSError as e:
        raise DataError(f"{url}: {e}") from None
    return LODE + commit + ("/" + rest if rest else ""), commit


def _find_lode(url):
    fs = lode_fs()
    try:
        info = fs.info(url)
        if info["type"] == "file":
            return [(url.rstrip("/").rsplit("/", 1)[-1], url)]
        base = fs._strip_protocol(url)
        paths = fs.find(url)
    except FileNotFoundError:
        raise DataError(f"{url}: no such directory") from None
    except OSError as e:
        raise DataError(f"{url}: {e}") from None
    found = []
    for p in paths:
        rel = p[len(base):].lstrip("/")
        parts = rel.split("/")
        if any(c.startswith(".") for c in parts) or not parts[-1].lower().endswith(".csv"):
            continue
        found.append((rel, LODE + p))
    if not found:
        raise DataError(f"{url}: no *.csv files found")
    found.sort()
    return found


def open_input(path):
    """Open an input file for reading raw bytes (readinto)."""
    if path.startswith(LODE):
        return lode_fs().open(path, "rb", block_size=CHUNK)
    return open(path, "rb", buffering=0)


def find_csv_files(data_dir):
    """Return [(relpath, path)] for every *.csv under data_dir, sorted.

    relpath uses '/' and is relative to data_dir; files and directories
    whose names start with '.' are skipped. data_dir may also be one file,
    or a lode:// URL of either.
    """
    if data_dir.startswith(LODE):
        return _find_lode(data_dir)
    if os.path.isfile(data_dir):
        return [(os.path.basename(data_dir), data_dir)]
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: no such directory")
    found = []
    for root, dirs, files in os.walk(data_dir, onerror=_raise):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(".csv"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, data_dir).replace(os.sep, "/")
            found.append((rel, path))
    if not found:
        raise DataError(f"{data_dir}: no *.csv files found")
    found.sort()
    return found


def _raise(err):
    raise DataError(f"{err.filename}: {err.strerror}")


class HashingReader(io.RawIOBase):
    """A raw reader that hashes and counts every byte read through it."""

    def __init__(self, f):
        self._f = f
        self.sha256 = hashlib.sha256()
        self.nbytes = 0

    def readable(self):
        return True

    def readinto(self, b):
        n = self._f.readinto(b)
        if n:
            with memoryview(b) as view:
                self.sha256.update(view[:n])
            self.nbytes += n
        return n

    def close(self):
        self._f.close()
        super().close()


def _number(s):
    x = float(s)
    if x - x != 0.0:  # nan or inf
        raise ValueError("not finite")
    return x


def _date(s):
    return float(datetime.date.fromisoformat(s).toordinal() - _EPOCH)


KINDS = {"number": _number, "date": _date}


def column_kind(value):
    """The kind of a feature column from its first value, or None."""
    if _DATE.match(value):
        try:
            _date(value)
            return "date"
        except ValueError:
            return None
    try:
        _number(value)
        return "number"
    except ValueError:
        return None


class Schema:
    """Which columns are features, and how to parse them.

    The last column is the class label. Every other column whose value in
    the first data row is a finite number or an ISO date (YYYY-MM-DD, used as
    days since 1970-01-01) is a feature; other columns are ignored.
    """

    def __init__(self, header, first_row, where):
        if len(header) < 2:
            raise DataError(f"{where}: need at least two columns (features, then a label), got {len(header)}")
        if len(set(header)) != len(header):
            raise DataError(f"{where}: duplicate column names in header {header!r}")
        self.header = list(header)
        self.label = header[-1]
        self.features = []  # (column index, name, kind)
        for i, value in enumerate(first_row[:-1]):
            kind = column_kind(value)
            if kind is not None:
                self.features.append((i, header[i], kind))
        if not self.features:
            raise DataError(f"{where}: no numeric or date column in the first data row {first_row!r}")

    def describe(self):
        return [{"column": name, "kind": kind} for _, name, kind in self.features]


class FileStats:
    def __init__(self, rel):
        self.rel = rel
        self.rows = 0
        self.nbytes = 0
        self.sha256 = ""


def read_rows(files, schema=None, stats=None):
    """Yield (label, [feature floats]) for each data row of each file.

    The schema comes from the first file unless given; it is stored in
    stats["schema"]. Per-file FileStats are appended to stats["files"]
    once each file is read to the end.
    """
    if stats is None:
        stats = {}
    stats.setdefault("files", [])
    for rel, path in files:
        fs = FileStats(rel)
        try:
            raw = HashingReader(open_input(path))
        except OSError as e:
            raise DataError(f"{path}: {e.strerror or e}") from None
        with raw, io.TextIOWrapper(io.BufferedReader(raw, CHUNK), encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text, strict=True)
            try:
                header = next(reader, None)
                if header is None:
                    raise DataError(f"{path}: empty file (expected a header line)")
                if schema is None:
                    first = next(reader, None)
                    if first is None:
                        raise DataError(f"{path}: no data rows after the header")
                    if len(first) != len(header):
                        raise DataError(f"{path}:{reader.line_num}: expected {len(header)} fields, got {len(first)}")
                    schema = Schema(header, first, f"{path}:{reader.line_num}")
                    stats["schema"] = schema
                    rows = _chain1(first, reader)
                elif header != schema.header:
                    raise DataError(f"{path}:1: header {header!r} differs from {schema.header!r} in {files[0][0]}")
                else:
                    rows = reader
                ncols = len(schema.header)
                feats = [(i, KINDS[kind]) for i, _, kind in schema.features]
                n = 0
                for row in rows:
                    if len(row) != ncols:
                        if not row:  # a blank line
                            continue
                        raise DataError(f"{path}:{reader.line_num}: expected {ncols} fields, got {len(row)}")
                    try:
                        xs = [conv(row[i]) for i, conv in feats]
                    except ValueError:
                        raise DataError(_bad_value(path, reader.line_num, row, schema)) from None
                    label = row[-1]
                    if not label:
                        raise DataError(f"{path}:{reader.line_num}: empty label in column {schema.label!r}")
                    n += 1
                    yield label, xs
            except csv.Error as e:
                raise DataError(f"{path}:{reader.line_num}: malformed CSV: {e}") from None
            except UnicodeDecodeError as e:
                raise DataError(f"{path}: not UTF-8 text ({e.reason})") from None
            except OSError as e:
                raise DataError(f"{path}: read error: {e.strerror or e}") from None
            fs.rows = n
            fs.nbytes = raw.nbytes
            fs.sha256 = raw.sha256.hexdigest()
            stats["files"].append(fs)


def _chain1(first, rest):
    yield first
    yield from rest


def _bad_value(path, line, row, schema):
    for i, name, kind in schema.features:
        try:
            KINDS[kind](row[i])
        except ValueError:
            what = "a finite number" if kind == "number" else "a date (YYYY-MM-DD)"
            return f"{path}:{line}: column {name!r}: cannot parse {row[i]!r} as {what}"
    return f"{path}:{line}: bad value"
