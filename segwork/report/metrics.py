"""Key numbers of a notebook run, saved as ``metrics.json`` for the index and the tests.

A notebook ends with::

    from segwork.report import save_metrics
    save_metrics({"n_customers": n, "ari_truth": {...}, "comparison": table}, output_dir)

Values may be numbers, strings, lists, dicts, numpy scalars/arrays, pandas
Series (saved as a dict), DataFrames (saved as a list of records, index
included) and dataclass instances (segwork's typed results, saved as a dict of
their fields). Non-finite floats become ``null``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_write_text

__all__ = ["METRICS_FILE", "save_metrics", "load_metrics", "to_jsonable"]

METRICS_FILE = "metrics.json"


def to_jsonable(value: Any) -> Any:
    """Convert numpy / pandas values and dataclass results into plain JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, pd.DataFrame):
        plain = isinstance(value.index, pd.RangeIndex) and value.index.name is None
        frame = value if plain else value.reset_index()
        return [to_jsonable(r) for r in frame.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(pd.Timestamp(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def save_metrics(metrics: dict, output_dir: str | Path = ".") -> Path:
    """Write ``metrics`` to ``output_dir/metrics.json`` atomically; returns the path."""
    path = Path(output_dir) / METRICS_FILE
    atomic_write_text(path, json.dumps(to_jsonable(metrics), indent=2, sort_keys=True) + "\n")
    return path


def load_metrics(output_dir: str | Path) -> dict:
    """Read ``output_dir/metrics.json``."""
    return json.loads((Path(output_dir) / METRICS_FILE).read_text())
