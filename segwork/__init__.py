"""segwork: customer segmentation and customer lifetime value (CLV) workbench.

The data flow, one way::

    segwork.io.read_transactions   -> canonical, cleaned transactions (+ cleaning report)
    segwork.rfm_summary            -> one row per customer (calibration / holdout)
    segwork.features.customer_table-> RFM + profile + survey, ready to segment
    segwork.clv                    -> BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma, sBG ... -> CLV, P(alive)
    segwork.prepare_table          -> the prepared customer table (features + p_alive + clv)
    segwork.segment                -> segmentations (a priori, RFM, value, needs, clustering, relationship)
    segwork.compare                -> compare segmentations; segwork.act -> targeting, strategies
    notebooks/ (papermill)         -> reports/
"""
from __future__ import annotations

from .errors import ConvergenceError, DataError, IdentificationWarning, NotFittedError, ReportError
from .features import customer_table, rfm_summary
from .io import CleaningRules, read_transactions

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "DataError",
    "ConvergenceError",
    "IdentificationWarning",
    "NotFittedError",
    "ReportError",
    "CleaningRules",
    "read_transactions",
    "rfm_summary",
    "customer_table",
    "prepare_table",
    "compare",
    "agreement",
    "Segmentation",
    "default_segmentations",
    "datasets",
    "clv",
    "segment",
    "plots",
]

# Heavier parts load on first use, so `import segwork` stays quick.
_LAZY = {
    "prepare_table": ("segwork.prepare", "prepare_table"),
    "compare": ("segwork.comparison", "compare"),
    "agreement": ("segwork.comparison", "agreement"),
    "Segmentation": ("segwork.segment.base", "Segmentation"),
    "default_segmentations": ("segwork.segment.defaults", "default_segmentations"),
}
_SUBMODULES = {"datasets", "clv", "prepare", "segment", "plots", "report", "act", "comparison", "features", "io",
               "explore"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"segwork.{name}")
    raise AttributeError(f"module 'segwork' has no attribute {name!r}")
