"""A Gaussian naive Bayes classifier, fitted and evaluated in two streaming passes.

Pass 1 accumulates per-class counts and shifted sums of x and x*x for every
feature (shifted by the first row's values, which keeps the variance exact
enough without a second pass). Pass 2 reads the input again, checks that it
hashes the same, and scores every row with the fitted model for the training
accuracy and log loss. Everything is plain float arithmetic in a fixed order
(files sorted by path, rows in file order, classes sorted by label), so the
result does not depend on hash seeds or dict order.
"""

import hashlib
import math

from trainjob.data import DataError, read_rows

# Added to every variance, relative to the largest feature variance (as in
# scikit-learn's GaussianNB), so that constant features do not divide by 0.
VAR_SMOOTHING = 1e-9
LOG_2PI = math.log(2.0 * math.pi)


def combined_sha256(file_stats):
    """One SHA-256 over the sorted (path, size, sha256) of every input file."""
    h = hashlib.sha256()
    for fs in file_stats:
        h.update(f"{fs.rel}\0{fs.nbytes}\0{fs.sha256}\n".encode())
    return h.hexdigest()


def fit(files):
    """Pass 1: return (schema, file stats, model parameters)."""
    stats = {}
    shift = None
    acc = {}  # label -> [count, sums of x-shift, sums of (x-shift)**2]
    nfeat = 0
    for label, xs in read_rows(files, None, stats):
        if shift is None:
            shift = xs
            nfeat = len(xs)
            rng = range(nfeat)
        a = acc.get(label)
        if a is None:
            a = acc[label] = [0, [0.0] * nfeat, [0.0] * nfeat]
        a[0] += 1
        s, q = a[1], a[2]
        for j in rng:
            d = xs[j] - shift[j]
            s[j] += d
            q[j] += d * d
    if not acc:
        raise DataError("no data rows in the input")
    return stats["schema"], stats["files"], _params(shift, acc, nfeat)


def _params(shift, acc, nfeat):
    total = sum(a[0] for a in acc.values())
    labels = sorted(acc)
    # The variance of each feature over all rows sets the smoothing.
    pooled_var = []
    for j in range(nfeat):
        s = sum(acc[c][1][j] for c in labels)
        q = sum(acc[c][2][j] for c in labels)
        pooled_var.append(max(q / total - (s / total) ** 2, 0.0))
    eps = VAR_SMOOTHING * (max(pooled_var) or 1.0)
    classes = []
    nll = 0.0
    for c in labels:
        n, s, q = acc[c]
        mean = [shift[j] + s[j] / n for j in range(nfeat)]
        raw = [max(q[j] / n - (s[j] / n) ** 2, 0.0) for j in range(nfeat)]
        var = [v + eps for v in raw]
        prior = n / total
        # -log p(x, c) summed over this class's rows, in closed form: the sum
        # of squared deviations from the mean is n * raw variance.
        nll -= n * math.log(prior)
        for j in range(nfeat):
            nll += 0.5 * n * (LOG_2PI + math.log(var[j])) + 0.5 * n * raw[j] / var[j]
        classes.append({"label": c, "count": n, "prior": prior, "mean": mean, "var": var})
    return {
        "rows": total,
        "var_smoothing": eps,
        "classes": classes,
        "neg_log_likelihood_per_row": nll / total,
    }


def evaluate(files, schema, params):
    """Pass 2: return (file stats, accuracy, log loss, per-class counts)."""
    # Score of class c: log prior - sum over features j of
    # (0.5 log(2 pi var) + (x_j - mean_cj)**2 / (2 var_cj)), computed one
    # feature at a time across all classes.
    base = []
    for cl in params["classes"]:
        base.append(math.log(cl["prior"]) - 0.5 * sum(LOG_2PI + math.log(v) for v in cl["var"]))
    nfeat = len(schema.features)
    columns = [
        ([cl["mean"][j] for cl in params["classes"]], [0.5 / cl["var"][j] for cl in params["classes"]])
        for j in range(nfeat)
    ]
    index = {cl["label"]: k for k, cl in enumerate(params["classes"])}
    k = len(base)
    rows = [0] * k
    hits = [0] * k
    correct = 0
    n = 0
    loss = 0.0
    exp = math.exp
    log = math.log
    stats = {}
    for label, xs in read_rows(files, schema, stats):
        scores = base
        for x, (means, invs) in zip(xs, columns):
            scores = [sc - (x - m) * (x - m) * iv for sc, m, iv in zip(scores, means, invs)]
        best_score = max(scores)
        best = scores.index(best_score)  # ties go to the first label in sorted order
        true = index.get(label)
        if true is None:
            raise DataError(f"input changed while reading: label {label!r} was not seen in the first pass")
        rows[true] += 1
        if best == true:
            hits[true] += 1
            correct += 1
        loss += best_score + log(sum([exp(sc - best_score) for sc in scores])) - scores[true]
        n += 1
    if n != params["rows"]:
        raise DataError(f"input changed while reading: {params['rows']} rows in the first pass, {n} in the second")
    per_class = [{"label": cl["label"], "rows": r, "correct": h} for cl, r, h in zip(params["classes"], rows, hits)]
    return stats["files"], correct / n, loss / n, per_class
