"""`python -m trainjob.predict MODEL CSV`: load a model written by `train`
and classify the rows of a CSV file with it, as a model server would.

MODEL and CSV may each be a path (a checkout, or a lode mount of a
revision), a lode:// URL (read through lodefs), or an http:// URL (such as
`git lode serve`'s, for a pinned revision). Prints one JSON object: the
rows, the accuracy against the file's labels, the model's input_sha256,
and the SHA-256 of the predicted labels (one per line), so that two ways
of loading the same model can be compared.
"""

import csv
import hashlib
import io
import json
import math
import sys
import urllib.request

from trainjob.data import KINDS, LODE, lode_fs

LOG_2PI = math.log(2.0 * math.pi)


def read_bytes(where):
    if where.startswith(LODE):
        with lode_fs().open(where, "rb") as f:
            return f.read()
    if where.startswith("http://"):
        with urllib.request.urlopen(where, timeout=60) as r:
            return r.read()
    with open(where, "rb") as f:
        return f.read()


def load_model(where):
    return json.loads(read_bytes(where))


def predict(model, text):
    classes = model["classes"]
    base = [math.log(c["prior"]) - 0.5 * sum(LOG_2PI + math.log(v) for v in c["var"]) for c in classes]
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    cols = [(header.index(f["column"]), KINDS[f["kind"]]) for f in model["features"]]
    label_col = header.index(model["label_column"])
    out = []
    correct = 0
    for row in reader:
        if not row:
            continue
        xs = [conv(row[i]) for i, conv in cols]
        scores = [b - sum((x - m) ** 2 / (2 * v) for x, m, v in zip(xs, c["mean"], c["var"])) for b, c in zip(base, classes)]
        best = classes[scores.index(max(scores))]["label"]
        out.append(best)
        correct += best == row[label_col]
    return out, correct


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m trainjob.predict MODEL CSV", file=sys.stderr)
        return 2
    model = load_model(argv[0])
    labels, correct = predict(model, read_bytes(argv[1]).decode("utf-8-sig"))
    digest = hashlib.sha256("".join(l + "\n" for l in labels).encode()).hexdigest()
    print(json.dumps({"rows": len(labels), "accuracy": correct / max(len(labels), 1),
                      "model_input_sha256": model["input_sha256"], "predictions_sha256": digest}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
