"""Shared preprocessing of the clustering approaches (behavioural and needs-based).

* thread limits for the many small fits of model selection (:func:`single_thread_below`);
* the signed log transform of skewed money / count columns (:func:`signed_log1p`,
  :func:`signed_expm1`) and which columns get it (:func:`auto_log_columns`);
* the ColumnTransformer every clustering estimator and the needs classifier
  use (:func:`build_preprocessor`): numeric columns median-imputed, logged
  where skewed, standardised; categorical columns ``"missing"``-imputed and
  one-hot or ordinal encoded;
* column kinds (:func:`is_numeric`, :func:`category_values`) and the default
  behaviour columns (:func:`default_features`).
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

__all__ = [
    "BEHAVIOUR_FEATURES",
    "SURVEY_LIKE",
    "SINGLE_THREAD_BELOW",
    "single_thread_below",
    "signed_log1p",
    "signed_expm1",
    "auto_log_columns",
    "build_preprocessor",
    "category_values",
    "is_numeric",
    "default_features",
]

#: Default behaviour columns (those present are used), besides every
#: ``cat_*`` (category mix) and ``ch_*`` (channel mix) column: how often
#: (frequency, purchase rate per 30 days), how recently (days since the last
#: purchase), how much per purchase (mean amount) and in total (revenue).
BEHAVIOUR_FEATURES = ("frequency", "purchase_rate", "days_since_last", "mean_amount", "revenue")


#: Survey columns that are never clustering features.
SURVEY_LIKE = ("has_survey", "satisfaction", "recommend")


#: Below this many customers the segmentation functions run the numeric
#: libraries (BLAS, OpenMP) on one thread: their many small fits gain nothing
#: from threads, and on a busy 2-core machine spinning threads made them up to
#: 5x slower (measured: 20k customers, k-means with selection, 14 s -> 3 s).
SINGLE_THREAD_BELOW = 200_000


def single_thread_below(n_rows: int):
    """A context that limits BLAS / OpenMP to one thread when ``n_rows`` < :data:`SINGLE_THREAD_BELOW`."""
    return threadpool_limits(limits=1) if n_rows < SINGLE_THREAD_BELOW else nullcontext()


# --------------------------------------------------------------------------- transforms


def signed_log1p(x):
    """``sign(x) * log(1 + |x|)``: log1p for non-negative values, symmetric for negatives (refunds)."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x))


def signed_expm1(y):
    """Inverse of :func:`signed_log1p`."""
    y = np.asarray(y, dtype=float)
    return np.sign(y) * np.expm1(np.abs(y))


def auto_log_columns(frame: pd.DataFrame, numeric: list[str]) -> list[str]:
    """Skewed money / count columns: non-negative, skewness > 1 and not a share (max > 1)."""
    out = []
    for col in numeric:
        values = frame[col].dropna()
        if len(values) > 2 and values.min() >= 0 and values.max() > 1 and values.skew() > 1:
            out.append(col)
    return out


def build_preprocessor(numeric: list[str], log_columns: list[str], categorical: list[str],
                       encoding: str = "onehot") -> ColumnTransformer:
    """The preprocessing ColumnTransformer (unfitted).

    ``log_columns`` (a subset of ``numeric``): median-imputed, log1p, scaled;
    other ``numeric``: median-imputed, scaled; ``categorical``: missing ->
    ``"missing"``, then one-hot (``encoding="onehot"``, unseen values ignored)
    or integer codes (``encoding="ordinal"``, unseen values -> -1).
    Output columns come in that order: log columns, other numeric, categorical.
    """
    plain = [c for c in numeric if c not in log_columns]
    parts = []
    if log_columns:
        parts.append(("log", Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("log1p", FunctionTransformer(signed_log1p, inverse_func=signed_expm1,
                                          feature_names_out="one-to-one", check_inverse=False)),
            ("scale", StandardScaler()),
        ]), list(log_columns)))
    if plain:
        parts.append(("num", Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]), plain))
    if categorical:
        if encoding == "onehot":
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        else:
            encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        parts.append(("cat", Pipeline([
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("encode", encoder),
        ]), list(categorical)))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def category_values(series: pd.Series) -> pd.Series:
    """Categorical column as object strings with NaN for missing (what the encoders expect)."""
    values = series.astype(object)
    missing = series.isna().to_numpy()
    out = np.array([str(v) for v in values], dtype=object)
    out[missing] = np.nan
    return pd.Series(out, index=series.index, name=series.name)


def is_numeric(series: pd.Series) -> bool:
    """True for numeric columns that are not booleans (booleans are categories here)."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def default_features(table: pd.DataFrame, method: str = "kmeans") -> list[str]:
    """The columns a method clusters on by default.

    Every method: :data:`BEHAVIOUR_FEATURES` present in ``table`` plus the
    ``cat_*`` and ``ch_*`` mix columns. k-prototypes also takes the
    categorical profile columns (strings / categories / booleans with 2 to 20
    values, not survey columns). Constant and all-missing columns are left out.
    """
    cols = [c for c in BEHAVIOUR_FEATURES if c in table.columns]
    cols += [c for c in table.columns if str(c).startswith(("cat_", "ch_")) and is_numeric(table[c])]
    if method == "kprototypes":
        for c in table.columns:
            s = table[c]
            if c in cols or c in SURVEY_LIKE or is_numeric(s) or pd.api.types.is_datetime64_any_dtype(s):
                continue
            if 2 <= s.nunique(dropna=True) <= 20:
                cols.append(c)
    return [c for c in cols if table[c].notna().any() and table[c].nunique(dropna=False) > 1]

