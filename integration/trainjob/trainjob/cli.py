"""The `train DATA_DIR OUT_DIR` command.

Exit status: 0 on success, 1 when the input is missing or malformed (or an
output cannot be written), 2 for a usage error. Errors go to stderr as one
line starting with "train: error:".
"""

import argparse
import json
import os
import sys

from trainjob import __version__
from trainjob.data import LODE, DataError, find_csv_files, resolve_lode
from trainjob.model import combined_sha256, evaluate, fit

FORMAT = "trainjob.gaussian_nb.v1"
SIGNIFICANT_DIGITS = 12


def train(data_dir):
    """Fit and evaluate on the CSV files under data_dir; return (model, metrics)."""
    files = find_csv_files(data_dir)
    schema, stats1, params = fit(files)
    stats2, accuracy, log_loss, per_class = evaluate(files, schema, params)
    for a, b in zip(stats1, stats2):
        if (a.nbytes, a.sha256) != (b.nbytes, b.sha256):
            raise DataError(f"{a.rel}: input changed while reading (size or SHA-256 differs between the two passes)")
    digest = combined_sha256(stats1)
    input_bytes = sum(fs.nbytes for fs in stats1)
    model = {
        "format": FORMAT,
        "label_column": schema.label,
        "features": schema.describe(),
        "classes": params["classes"],
        "var_smoothing": params["var_smoothing"],
        "rows": params["rows"],
        "input_sha256": digest,
    }
    metrics = {
        "format": FORMAT,
        "rows": params["rows"],
        "files": [{"path": fs.rel, "bytes": fs.nbytes, "rows": fs.rows, "sha256": fs.sha256} for fs in stats1],
        "input_bytes": input_bytes,
        "bytes_read": input_bytes + sum(fs.nbytes for fs in stats2),
        "input_sha256": digest,
        "features": len(schema.features),
        "classes": len(params["classes"]),
        "per_class": per_class,
        "train_accuracy": accuracy,
        "train_log_loss": log_loss,
        "neg_log_likelihood_per_row": params["neg_log_likelihood_per_row"],
    }
    return model, metrics


def canonical(obj):
    """Round floats to a fixed number of significant digits, recursively."""
    if isinstance(obj, float):
        x = float(f"{obj:.{SIGNIFICANT_DIGITS}g}")
        return 0.0 if x == 0 else x  # no "-0.0"
    if isinstance(obj, dict):
        return {k: canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    return obj


def dumps(obj):
    """The canonical JSON text of obj: sorted keys, rounded floats, ASCII."""
    return json.dumps(canonical(obj), sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False) + "\n"


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="train",
        description="Fit a Gaussian naive Bayes classifier to the CSV files under DATA_DIR "
        "and write OUT_DIR/model.json and OUT_DIR/metrics.json.",
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="a directory of *.csv files (searched recursively), or one CSV file, "
                        "or lode://REV/PATH of either (read through lodefs; also writes OUT_DIR/source.json with the commit)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="where to write model.json and metrics.json (created if missing)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    data_dir, commit = args.data_dir, None
    try:
        if data_dir.startswith(LODE):
            data_dir, commit = resolve_lode(data_dir)
        model, metrics = train(data_dir)
    except DataError as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 1
    try:
        os.makedirs(args.out_dir, exist_ok=True)
        write_file(os.path.join(args.out_dir, "model.json"), dumps(model))
        write_file(os.path.join(args.out_dir, "metrics.json"), dumps(metrics))
        if commit is not None:  # the data's commit, to record with the metrics
            write_file(os.path.join(args.out_dir, "source.json"), dumps({"data": args.data_dir, "commit": commit}))
    except OSError as e:
        print(f"train: error: writing {args.out_dir}: {e}", file=sys.stderr)
        return 1
    print(
        f"train: {metrics['rows']} rows, {metrics['input_bytes']} bytes in {len(metrics['files'])} file(s), "
        f"{metrics['classes']} classes, accuracy {metrics['train_accuracy']:.4f}, "
        f"log loss {metrics['train_log_loss']:.4f}; wrote {args.out_dir}/model.json, metrics.json"
    )
    return 0
