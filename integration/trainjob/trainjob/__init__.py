"""trainjob: a small, deterministic, standard-library-only training job.

It reads CSV files under a data directory with ordinary streaming file I/O,
fits a Gaussian naive Bayes classifier and writes model.json and
metrics.json. See README.md for what it expects and what it writes.
"""

__version__ = "0.1.0"
