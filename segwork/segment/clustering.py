"""Behavioural clustering: customers grouped by how they buy.

Four clustering methods, each a scikit-learn estimator (``fit``,
``fit_predict``, ``predict``, ``labels_``, ``random_state``) whose
preprocessing lives *inside* a :class:`~sklearn.pipeline.Pipeline`:

* numeric columns: missing values -> median; skewed money and count columns
  -> ``sign(x) * log(1 + |x|)`` ("log1p"); then standardised (z-scores);
* categorical columns (strings, pandas categories, booleans): missing ->
  ``"missing"``; then one-hot encoded (k-means, Gaussian mixture, HDBSCAN) or
  kept as categories (k-prototypes).

=====================================  ==============================================
estimator                              method
=====================================  ==============================================
:class:`KMeansSegmenter`               k-means (``MiniBatchKMeans`` above
                                       :data:`MINIBATCH_THRESHOLD` customers)
:class:`GaussianMixtureSegmenter`      Gaussian mixture (soft clusters; BIC)
:class:`KPrototypesSegmenter`          k-prototypes (``kmodes``) for numeric +
                                       categorical columns, fitted on a sample
:class:`HDBSCANSegmenter`              density clusters; noise -> "unclustered";
                                       fitted on a sample, others assigned to the
                                       cluster of their nearest fitted customer
=====================================  ==============================================

:func:`behavioural_segmentation` wraps them into a named
:class:`~segwork.segment.base.Segmentation`: it selects the number of
segments (see :mod:`segwork.segment.selection`), names each segment from its
centre in original units (see :mod:`segwork.segment.naming`), measures the
stability over bootstrap resamples, and keeps an assigner for new customers.
"""
from __future__ import annotations

import warnings
from collections import Counter
from contextlib import nullcontext

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, validate_data
from threadpoolctl import threadpool_limits

from ..errors import DataError, NotFittedError
from .base import Segmentation
from .naming import name_segments

__all__ = [
    "MINIBATCH_THRESHOLD",
    "METHODS",
    "BEHAVIOUR_FEATURES",
    "UNCLUSTERED",
    "UNSEEN_FALLBACK",
    "KMeansSegmenter",
    "GaussianMixtureSegmenter",
    "KPrototypesSegmenter",
    "HDBSCANSegmenter",
    "make_segmenter",
    "default_features",
    "build_preprocessor",
    "ClusterAssigner",
    "behavioural_segmentation",
    "compare_methods",
    "signed_log1p",
    "signed_expm1",
    "SINGLE_THREAD_BELOW",
    "single_thread_below",
]

#: Above this many customers :class:`KMeansSegmenter` switches from Lloyd's
#: k-means to ``MiniBatchKMeans`` (mini-batches of ``batch_size`` customers).
#: Set high on purpose: on the project machine (2 cores, scikit-learn 1.9,
#: 8 features, k = 5, see ``benchmarks/bench_clustering.py``) MiniBatchKMeans
#: was *slower* than Lloyd's k-means with 4 restarts at every size measured
#: (1M rows: 7.2 s vs 4.2 s; 3M: 15 s vs 7 s; 10M: 164 s vs 22 s) and ended at
#: a higher inertia (+0.5 % to +9 %): its per-batch overhead outweighs the
#: cheap full passes of Lloyd on few features. Lower it (or pass
#: ``minibatch_threshold``) for data where single passes are expensive.
MINIBATCH_THRESHOLD = 20_000_000

#: The clustering methods :func:`behavioural_segmentation` knows.
METHODS = ("kmeans", "gmm", "kprototypes", "hdbscan")

#: Default behaviour columns (those present are used), besides every
#: ``cat_*`` (category mix) and ``ch_*`` (channel mix) column: how often
#: (frequency, purchase rate per 30 days), how recently (days since the last
#: purchase), how much per purchase (mean amount) and in total (revenue).
BEHAVIOUR_FEATURES = ("frequency", "purchase_rate", "days_since_last", "mean_amount", "revenue")

#: Segment name of HDBSCAN's noise points (customers in no dense group).
UNCLUSTERED = "unclustered"

#: Segment name given by ``assign`` to customers with a category value never
#: seen when the segmentation was built.
UNSEEN_FALLBACK = "unassigned (unseen category)"

_SURVEY_LIKE = ("has_survey", "satisfaction", "recommend")

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


def _auto_log_columns(frame: pd.DataFrame, numeric: list[str]) -> list[str]:
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


def _category_values(series: pd.Series) -> pd.Series:
    """Categorical column as object strings with NaN for missing (what the encoders expect)."""
    values = series.astype(object)
    missing = series.isna().to_numpy()
    out = np.array([str(v) for v in values], dtype=object)
    out[missing] = np.nan
    return pd.Series(out, index=series.index, name=series.name)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


# --------------------------------------------------------------------------- model steps


def _int_seed(random_state) -> int | None:
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return None if random_state is None else int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _KPrototypesStep(ClusterMixin, BaseEstimator):
    """kmodes' k-prototypes on [scaled numeric | categorical codes], fitted on a seeded sample.

    kmodes starts the numeric prototypes at random normal draws, which often
    ends in a poor local optimum with one run. Here the prototypes start from
    a k-means++ k-means (``n_init`` runs) in the space where squared Euclidean
    distance equals the k-prototypes cost (numeric columns, and one-hot
    categories times ``sqrt(gamma / 2)``): the cluster means of the numeric
    columns and modes of the categories. kmodes then refines them.
    """

    def __init__(self, n_clusters=5, n_categorical=0, gamma=None, n_init=4, max_iter=100,
                 max_fit_samples=5000, random_state=0):
        self.n_clusters = n_clusters
        self.n_categorical = n_categorical
        self.gamma = gamma
        self.n_init = n_init
        self.max_iter = max_iter
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _categorical(self, X):
        p = X.shape[1]
        return list(range(p - self.n_categorical, p))

    def fit(self, X, y=None):
        from kmodes.kprototypes import KPrototypes

        X = np.asarray(X, dtype=float)
        rng = check_random_state(self.random_state)
        rows = np.arange(X.shape[0])
        if self.max_fit_samples and X.shape[0] > self.max_fit_samples:
            rows = np.sort(rng.choice(X.shape[0], self.max_fit_samples, replace=False))
        Xs = X[rows]
        p = X.shape[1] - self.n_categorical
        num, cat = Xs[:, :p], Xs[:, p:]
        # kmodes' default weight: half the mean standard deviation of the numeric columns
        gamma = float(self.gamma) if self.gamma is not None else (0.5 * float(num.std(axis=0).mean()) if p else 1.0)
        onehot = OneHotEncoder(sparse_output=False).fit_transform(cat)
        seed = _int_seed(rng)
        start = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=seed)
        start.fit(np.hstack([num, np.sqrt(gamma / 2.0) * onehot]))
        groups = start.labels_
        num_init = np.vstack([num[groups == c].mean(axis=0) for c in range(self.n_clusters)])
        cat_init = np.zeros((self.n_clusters, self.n_categorical), dtype=int)
        for j in range(self.n_categorical):
            values = np.unique(cat[:, j])  # kmodes encodes a column as the index in its sorted unique values
            for c in range(self.n_clusters):
                members = cat[groups == c, j]
                uniq, counts = np.unique(members, return_counts=True)
                cat_init[c, j] = np.searchsorted(values, uniq[np.argmax(counts)])
        self.model_ = KPrototypes(n_clusters=self.n_clusters, gamma=gamma, init=[num_init, cat_init], n_init=1,
                                  max_iter=self.max_iter, random_state=seed, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(Xs, categorical=self._categorical(X))
        self.gamma_ = float(self.model_.gamma)
        self.labels_ = self.predict(X)
        return self

    def predict(self, X):
        """Nearest prototype: squared Euclidean on numeric columns + ``gamma`` x category mismatches.

        The same rule as ``KPrototypes.predict`` (from its public
        ``cluster_centroids_``), vectorised: kmodes loops over rows in Python.
        """
        X = np.asarray(X, dtype=float)
        p = X.shape[1] - self.n_categorical
        centres = np.asarray(self.model_.cluster_centroids_, dtype=float)
        num = ((X[:, None, :p] - centres[None, :, :p]) ** 2).sum(axis=2)
        cat = (X[:, None, p:] != centres[None, :, p:]).sum(axis=2)
        return np.argmin(num + self.gamma_ * cat, axis=1).astype(int)


class _HDBSCANStep(ClusterMixin, BaseEstimator):
    """sklearn's HDBSCAN on a seeded sample; others get the label of their nearest fitted customer."""

    def __init__(self, min_cluster_size=None, min_samples=None, max_fit_samples=5000, random_state=0):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        rng = check_random_state(self.random_state)
        rows = np.arange(X.shape[0])
        if self.max_fit_samples and X.shape[0] > self.max_fit_samples:
            rows = np.sort(rng.choice(X.shape[0], self.max_fit_samples, replace=False))
        size = self.min_cluster_size
        if size is None:
            size = max(5, int(round(0.01 * rows.size)))
        size = int(min(max(2, size), rows.size))
        self.min_cluster_size_ = size
        model = HDBSCAN(min_cluster_size=size, min_samples=self.min_samples, copy=True)
        model.fit(X[rows])
        self.fit_labels_ = model.labels_.astype(int)
        self.neighbours_ = NearestNeighbors(n_neighbors=1).fit(X[rows])
        self.labels_ = self.fit_labels_ if rows.size == X.shape[0] else self.predict(X)
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        out = np.empty(X.shape[0], dtype=int)
        for start in range(0, X.shape[0], 100_000):  # bounded memory at millions of rows
            idx = self.neighbours_.kneighbors(X[start:start + 100_000], return_distance=False)[:, 0]
            out[start:start + 100_000] = self.fit_labels_[idx]
        return out


# --------------------------------------------------------------------------- estimators


class _BaseSegmenter(ClusterMixin, BaseEstimator):
    """Shared fit / predict / validation of the behavioural clustering estimators.

    ``X`` is a DataFrame (numeric and categorical columns, named) or a numeric
    array. Missing values are imputed inside the pipeline (median /
    ``"missing"``); infinite values, all-missing or constant columns and
    fewer customers than clusters raise :class:`~segwork.errors.DataError`.
    """

    _encoding = "onehot"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags

    # ---------------------------------------------------------------- hooks
    def _model(self, n_categorical: int, n_rows: int):
        raise NotImplementedError

    def _min_samples(self) -> int:
        return max(2, int(getattr(self, "n_clusters", 2)))

    # ---------------------------------------------------------------- input
    def _frame(self, X, *, reset: bool) -> pd.DataFrame:
        who = type(self).__name__
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            frame = X.copy(deep=False)
            frame.columns = [str(c) for c in frame.columns]
            if not reset:
                frame.columns = list(self.columns_)
        else:
            if hasattr(X, "toarray") or hasattr(X, "tocsr"):
                raise TypeError(f"{who}: sparse input is not supported; pass a dense array or a DataFrame")
            arr = check_array(X, dtype="numeric", ensure_all_finite="allow-nan", estimator=self)
            validate_data(self, arr, reset=reset, skip_check_array=True)
            names = [f"x{i}" for i in range(arr.shape[1])] if reset else list(self.columns_)
            frame = pd.DataFrame(arr, columns=names)
        if frame.shape[0] == 0:
            raise DataError(f"{who}: no customers (0 samples); pass at least one row")
        if frame.shape[1] == 0:
            raise DataError(f"{who}: no feature columns (0 features); pass at least one column")
        if reset:
            if len(set(frame.columns)) != frame.shape[1]:
                dup = [c for c, n in Counter(frame.columns).items() if n > 1][0]
                raise DataError(f"{who}: feature column {dup!r} appears twice; pass each column once")
            numeric, categorical = [], []
            for col in frame.columns:
                s = frame[col]
                if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
                    raise DataError(f"{who}: feature {col!r} holds dates; derive a number from it first "
                                    "(e.g. days since that date) or drop it from the features")
                (numeric if _is_numeric(s) else categorical).append(col)
            self.columns_ = list(frame.columns)
            self.numeric_columns_ = numeric
            self.categorical_columns_ = categorical
        out = {}
        for col in self.columns_:
            s = frame[col]
            if col in self.numeric_columns_:
                if not _is_numeric(s):
                    try:
                        s = pd.to_numeric(s, errors="raise")
                    except (TypeError, ValueError):
                        bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()].iloc[0]
                        raise DataError(f"{who}: feature {col!r} was numeric at fit but holds {bad!r}; "
                                        "pass numbers in this column") from None
                values = s.to_numpy(dtype=float, na_value=np.nan)
                if np.isinf(values).any():
                    n = int(np.isinf(values).sum())
                    raise DataError(f"{who}: feature {col!r} has infinite values (inf) in {n} rows; "
                                    "replace them with numbers or NaN (missing values are imputed)")
                out[col] = values
            else:
                # object dtype on purpose: pandas would infer its (slow to iterate) string dtype
                out[col] = pd.Series(_category_values(s).to_numpy(), index=frame.index, dtype=object)
        return pd.DataFrame(out, index=frame.index, columns=self.columns_)

    def _validate_fit(self, frame: pd.DataFrame) -> None:
        who = type(self).__name__
        n = frame.shape[0]
        need = self._min_samples()
        if n < need:
            raise DataError(f"{who}: {n} sample(s) (customers) but {need} are needed "
                            f"(n_clusters={getattr(self, 'n_clusters', '-')}); "
                            "pass more customers or ask for fewer segments")
        for col in frame.columns:
            s = frame[col]
            if s.isna().all():
                raise DataError(f"{who}: feature {col!r} is missing for every customer; "
                                "drop it from the features")
            if s.nunique(dropna=True) <= 1 and s.notna().all():
                raise DataError(f"{who}: feature {col!r} is constant (every customer has "
                                f"{s.dropna().iloc[0]!r}), so it cannot separate segments; drop it from the features")
        if self.log_columns == "auto":
            logs = _auto_log_columns(frame, self.numeric_columns_)
        elif self.log_columns is None:
            logs = []
        else:
            logs = [str(c) for c in self.log_columns]
            unknown = [c for c in logs if c not in self.numeric_columns_]
            if unknown:
                raise DataError(f"{who}: log_columns {unknown[0]!r} is not a numeric feature "
                                f"(numeric features: {', '.join(self.numeric_columns_) or 'none'})")
        self.log_columns_ = logs

    def _check_fitted(self) -> None:
        if not hasattr(self, "pipeline_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X) before using it.")

    # ---------------------------------------------------------------- API
    def fit(self, X, y=None):
        """Learn the preprocessing and the clusters from ``X``; returns self.

        Sets ``labels_`` (int per row; -1 = HDBSCAN noise), ``pipeline_``,
        ``log_columns_``, ``numeric_columns_``, ``categorical_columns_`` and
        ``categories_`` (values seen per categorical column).
        """
        frame = self._frame(X, reset=True)
        self._validate_fit(frame)
        self.categories_ = {c: set(frame[c].dropna().unique().tolist()) for c in self.categorical_columns_}
        prep = build_preprocessor(self.numeric_columns_, self.log_columns_, self.categorical_columns_,
                                  encoding=self._encoding)
        self.pipeline_ = Pipeline([("preprocess", prep), ("cluster", self._model(len(self.categorical_columns_), frame.shape[0]))])
        self._fit_pipeline(frame)
        return self

    def centroids(self, X, labels=None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Centre of each cluster in original units, and its z-scores (for naming).

        ``X``: the rows the centres are computed from (usually the fitted
        rows); ``labels``: their clusters (default: ``predict(X)``).
        Returns ``(centres, z)``, both indexed by cluster (-1 = noise); see
        :func:`_centres` for the definitions.
        """
        self._check_fitted()
        frame = self._frame(X, reset=False)
        labels = self.predict(X) if labels is None else np.asarray(labels)
        return _centres(frame, labels, self.numeric_columns_, self.log_columns_, self.categorical_columns_)

    def _fit_pipeline(self, frame: pd.DataFrame) -> None:
        self.pipeline_.fit(frame)
        self.labels_ = np.asarray(self.pipeline_[-1].labels_, dtype=int)
        self._set_n_iter()

    def _set_n_iter(self) -> None:
        model = self.pipeline_[-1]
        model = getattr(model, "model_", model)
        if hasattr(model, "n_iter_"):
            self.n_iter_ = int(model.n_iter_)

    def predict(self, X):
        """Cluster index of each row of ``X`` (same columns as at fit)."""
        self._check_fitted()
        frame = self._frame(X, reset=False)
        return np.asarray(self.pipeline_.predict(frame), dtype=int)

    def preprocess(self, X) -> np.ndarray:
        """``X`` in the numeric space the clusters live in (what the selection metrics use)."""
        self._check_fitted()
        return self.pipeline_[:-1].transform(self._frame(X, reset=False))

    @property
    def model_(self):
        """The fitted clustering step of the pipeline."""
        self._check_fitted()
        return self.pipeline_[-1]

    def unseen_categories(self, X) -> tuple[np.ndarray, dict]:
        """Rows of ``X`` with a category never seen at fit.

        Returns ``(mask, counts)``: a boolean array (True = has an unseen
        value) and ``{(column, value): number of rows}``.
        """
        self._check_fitted()
        frame = self._frame(X, reset=False)
        mask = np.zeros(frame.shape[0], dtype=bool)
        counts: dict = {}
        for col in self.categorical_columns_:
            values = frame[col]
            new = values.notna().to_numpy() & ~values.isin(self.categories_[col]).to_numpy()
            if new.any():
                mask |= new
                for value, n in values[new].value_counts().sort_index().items():
                    counts[(col, value)] = int(n)
        return mask, counts


class KMeansSegmenter(_BaseSegmenter):
    """k-means on the preprocessed customer features.

    Parameters
    ----------
    n_clusters: number of segments.
    log_columns: ``"auto"`` (non-negative columns with skewness > 1 that are
        not shares: money and counts), a list of column names, or None.
    n_init: k-means restarts (best inertia kept).
    max_iter: iterations per run.
    minibatch_threshold: above this many rows, ``MiniBatchKMeans`` is used
        (see :data:`MINIBATCH_THRESHOLD`); ``algorithm_`` says which ran.
    batch_size: mini-batch size of ``MiniBatchKMeans``.
    random_state: seed.
    """

    def __init__(self, n_clusters=5, *, log_columns="auto", n_init=4, max_iter=300,
                 minibatch_threshold=MINIBATCH_THRESHOLD, batch_size=16384, random_state=0):
        self.n_clusters = n_clusters
        self.log_columns = log_columns
        self.n_init = n_init
        self.max_iter = max_iter
        self.minibatch_threshold = minibatch_threshold
        self.batch_size = batch_size
        self.random_state = random_state

    def _model(self, n_categorical, n_rows):
        if n_rows > self.minibatch_threshold:
            self.algorithm_ = "minibatch"
            return MiniBatchKMeans(n_clusters=self.n_clusters, batch_size=self.batch_size, n_init=3,
                                   max_iter=self.max_iter, random_state=self.random_state)
        self.algorithm_ = "lloyd"
        return KMeans(n_clusters=self.n_clusters, n_init=self.n_init, max_iter=self.max_iter,
                      random_state=self.random_state)


class GaussianMixtureSegmenter(_BaseSegmenter):
    """A Gaussian mixture on the preprocessed customer features (hard labels = most likely component).

    Parameters
    ----------
    n_clusters: number of mixture components (segments).
    log_columns: see :class:`KMeansSegmenter`.
    covariance_type: ``"tied"`` (default: one covariance shared by all
        segments; robust with the category / channel mix columns, which sum
        to 1 and make per-segment full covariances near-singular), ``"full"``,
        ``"diag"`` or ``"spherical"``.
    n_init: EM restarts; reg_covar: added to covariance diagonals;
    max_iter: EM iterations; random_state: seed.
    """

    def __init__(self, n_clusters=5, *, log_columns="auto", covariance_type="tied", n_init=1,
                 reg_covar=1e-4, max_iter=200, random_state=0):
        self.n_clusters = n_clusters
        self.log_columns = log_columns
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.random_state = random_state

    def _model(self, n_categorical, n_rows):
        return GaussianMixture(n_components=self.n_clusters, covariance_type=self.covariance_type,
                               n_init=self.n_init, reg_covar=self.reg_covar, max_iter=self.max_iter,
                               random_state=self.random_state)

    def _fit_pipeline(self, frame):
        self.pipeline_.fit(frame)
        self.labels_ = np.asarray(self.pipeline_.predict(frame), dtype=int)
        self._set_n_iter()

    def predict_proba(self, X):
        """Probability of each component per row (n_rows x n_clusters)."""
        self._check_fitted()
        return self.pipeline_.predict_proba(self._frame(X, reset=False))

    def bic(self, X) -> float:
        """Bayesian information criterion of the mixture on ``X`` (lower is better)."""
        return float(self.pipeline_[-1].bic(self.preprocess(X)))


class KPrototypesSegmenter(_BaseSegmenter):
    """k-prototypes (Huang 1998; ``kmodes``) for numeric + categorical features.

    Numeric columns are compared by squared Euclidean distance after the
    preprocessing, categorical columns by mismatches weighted by ``gamma``
    (default: half the mean standard deviation of the numeric columns, kmodes'
    rule). Fitted on a seeded sample of at most ``max_fit_samples`` rows (the
    algorithm is slow in pure Python); every row is then assigned to its
    nearest prototype. The prototypes start from a k-means++ k-means with
    ``n_init`` runs in the equivalent one-hot space, then kmodes refines them. With no categorical column k-prototypes *is* k-means,
    and sklearn's KMeans runs instead (``algorithm_ == "kmeans"``).
    """

    _encoding = "ordinal"

    def __init__(self, n_clusters=5, *, log_columns="auto", gamma=None, n_init=4, max_iter=100,
                 max_fit_samples=5000, random_state=0):
        self.n_clusters = n_clusters
        self.log_columns = log_columns
        self.gamma = gamma
        self.n_init = n_init
        self.max_iter = max_iter
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _model(self, n_categorical, n_rows):
        if n_categorical == 0:
            self.algorithm_ = "kmeans"
            return KMeans(n_clusters=self.n_clusters, n_init=self.n_init, max_iter=self.max_iter,
                          random_state=self.random_state)
        self.algorithm_ = "kprototypes"
        return _KPrototypesStep(n_clusters=self.n_clusters, n_categorical=n_categorical, gamma=self.gamma,
                                n_init=self.n_init, max_iter=self.max_iter,
                                max_fit_samples=self.max_fit_samples, random_state=self.random_state)

    def _fit_pipeline(self, frame):
        super()._fit_pipeline(frame)
        self.onehot_ = None
        if self.categorical_columns_:
            filled = frame[self.categorical_columns_].fillna("missing")
            self.onehot_ = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(filled)

    def preprocess(self, X) -> np.ndarray:
        """Scaled numeric columns and one-hot categories times ``sqrt(gamma / 2)``.

        In this space the squared Euclidean distance equals the k-prototypes
        cost (a category mismatch costs ``gamma``).
        """
        self._check_fitted()
        frame = self._frame(X, reset=False)
        Z = self.pipeline_[:-1].transform(frame)
        if not self.categorical_columns_:
            return Z
        numeric = Z[:, : len(self.numeric_columns_)]
        cats = self.onehot_.transform(frame[self.categorical_columns_].fillna("missing"))
        return np.hstack([numeric, np.sqrt(self.pipeline_[-1].gamma_ / 2.0) * cats])


class HDBSCANSegmenter(_BaseSegmenter):
    """HDBSCAN density clustering; finds the number of segments itself.

    Customers in no dense group get label -1 (noise; the segmentation calls
    them :data:`UNCLUSTERED`). Above ``max_fit_samples`` rows HDBSCAN runs on a
    seeded sample and every customer takes the label of the nearest sampled
    customer (an approximate assignment; HDBSCAN has no exact ``predict``).

    Parameters
    ----------
    min_cluster_size: smallest group that counts as a segment (default: 1 %
        of the fitted rows, at least 5).
    min_samples: HDBSCAN's density smoothing (default: ``min_cluster_size``).
    max_fit_samples: rows HDBSCAN itself sees.
    log_columns, random_state: as for :class:`KMeansSegmenter`.
    """

    def __init__(self, *, log_columns="auto", min_cluster_size=None, min_samples=None,
                 max_fit_samples=5000, random_state=0):
        self.log_columns = log_columns
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _model(self, n_categorical, n_rows):
        return _HDBSCANStep(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
                            max_fit_samples=self.max_fit_samples, random_state=self.random_state)


_SEGMENTERS = {
    "kmeans": KMeansSegmenter,
    "gmm": GaussianMixtureSegmenter,
    "kprototypes": KPrototypesSegmenter,
    "hdbscan": HDBSCANSegmenter,
}


def make_segmenter(method: str = "kmeans", **params) -> _BaseSegmenter:
    """An unfitted segmenter for ``method`` (one of :data:`METHODS`) with ``params``."""
    if method not in _SEGMENTERS:
        raise DataError(f"method={method!r} is not a clustering method; use one of {', '.join(METHODS)}")
    cls = _SEGMENTERS[method]
    if cls is HDBSCANSegmenter:
        params.pop("n_clusters", None)
    return cls(**params)


# --------------------------------------------------------------------------- centres


def _centres(frame: pd.DataFrame, labels: np.ndarray, numeric: list[str], log_columns: list[str],
             categorical: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment centres in original units, and their z-scores for naming.

    Numeric: the mean per cluster in the modelling scale (log1p for log
    columns, so a geometric-type mean), back-transformed to original units;
    z = (cluster mean - overall mean) / overall standard deviation, both in
    the modelling scale. Categorical: the most common value and its share;
    z per value ``column=value`` = (share in cluster - overall share) /
    sqrt(overall share * (1 - overall share)).
    """
    labels = pd.Series(np.asarray(labels), index=frame.index)
    clusters = sorted(labels.unique())
    centres = pd.DataFrame(index=pd.Index(clusters, name="cluster"))
    zs = {}
    for col in numeric:
        v = frame[col].astype(float)
        if col in log_columns:
            v = pd.Series(signed_log1p(v), index=frame.index)
        means = v.groupby(labels).mean().reindex(clusters)
        sd = v.std(ddof=0)
        zs[col] = (means - v.mean()) / sd if sd > 0 else means * 0.0
        centres[col] = signed_expm1(means.to_numpy()) if col in log_columns else means.to_numpy()
    for col in categorical:
        v = frame[col].fillna("missing")
        overall = v.value_counts(normalize=True)
        share = pd.crosstab(labels, v, normalize="index").reindex(index=clusters, fill_value=0.0)
        top = share.idxmax(axis=1)
        centres[col] = [f"{top[c]} ({share.loc[c, top[c]]:.0%})" for c in clusters]
        for value in sorted(overall.index, key=str):
            p = overall[value]
            if 0 < p < 1:
                zs[f"{col}={value}"] = (share[value] - p) / np.sqrt(p * (1 - p))
    z = pd.DataFrame(zs, index=pd.Index(clusters, name="cluster"))
    return centres, z


# --------------------------------------------------------------------------- features


def default_features(table: pd.DataFrame, method: str = "kmeans") -> list[str]:
    """The columns a method clusters on by default.

    Every method: :data:`BEHAVIOUR_FEATURES` present in ``table`` plus the
    ``cat_*`` and ``ch_*`` mix columns. k-prototypes also takes the
    categorical profile columns (strings / categories / booleans with 2 to 20
    values, not survey columns). Constant and all-missing columns are left out.
    """
    cols = [c for c in BEHAVIOUR_FEATURES if c in table.columns]
    cols += [c for c in table.columns if str(c).startswith(("cat_", "ch_")) and _is_numeric(table[c])]
    if method == "kprototypes":
        for c in table.columns:
            s = table[c]
            if c in cols or c in _SURVEY_LIKE or _is_numeric(s) or pd.api.types.is_datetime64_any_dtype(s):
                continue
            if 2 <= s.nunique(dropna=True) <= 20:
                cols.append(c)
    return [c for c in cols if table[c].notna().any() and table[c].nunique(dropna=False) > 1]


def _resolve_features(table: pd.DataFrame, method: str, features) -> tuple[list[str], list[str]]:
    """(features to use, default columns left out because constant / missing)."""
    if features is None:
        chosen = default_features(table, method)
        wanted = [c for c in BEHAVIOUR_FEATURES if c in table.columns]
        dropped = [c for c in wanted if c not in chosen]
        if not chosen:
            raise DataError("behavioural_segmentation: the table has none of the default behaviour columns "
                            f"({', '.join(BEHAVIOUR_FEATURES)}, cat_*, ch_*) with varying values; "
                            "build it with segwork.features.customer_table or pass features=[...]")
        return chosen, dropped
    if isinstance(features, str):
        features = [features]
    features = list(features)
    unknown = [f for f in features if f not in table.columns]
    if unknown:
        raise DataError(f"behavioural_segmentation: feature column {unknown[0]!r} is not in the table "
                        f"(columns: {', '.join(map(str, table.columns))}); fix the name or drop it")
    if not features:
        raise DataError("behavioural_segmentation: features=[] is empty; pass column names or None for the defaults")
    return features, []


# --------------------------------------------------------------------------- assigner


class ClusterAssigner:
    """Assigns new customers to the segments of a fitted segmenter (picklable).

    Customers with a categorical value never seen at fit go to ``fallback``
    (counted in ``last_unseen_`` and reported in a warning); HDBSCAN noise to
    :data:`UNCLUSTERED`.
    """

    def __init__(self, estimator: _BaseSegmenter, names: dict, features: list[str],
                 noise_name: str = UNCLUSTERED, fallback: str = UNSEEN_FALLBACK) -> None:
        self.estimator = estimator
        self.names = dict(names)
        self.features = list(features)
        self.noise_name = noise_name
        self.fallback = fallback
        self.last_unseen_: dict = {}

    def label_names(self, labels) -> np.ndarray:
        """Segment names of integer cluster labels (-1 -> ``noise_name``)."""
        labels = np.asarray(labels, dtype=int)
        out = np.empty(labels.shape[0], dtype=object)
        for lab in np.unique(labels):
            out[labels == lab] = (self.noise_name if lab == -1
                                  else self.names.get(int(lab), f"cluster {int(lab)}"))
        return out

    def assign(self, table: pd.DataFrame) -> pd.Series:
        """Segment name per row of ``table`` (a customer table with the segmentation's features)."""
        missing = [f for f in self.features if f not in table.columns]
        if missing:
            raise DataError(f"assign: the new customers lack feature column {missing[0]!r} "
                            f"(needed: {', '.join(self.features)}); build them with customer_table")
        X = table[self.features]
        out = np.full(len(X), self.fallback, dtype=object)
        if len(X) == 0:
            return pd.Series(out, index=table.index, name="segment")
        unseen, counts = self.estimator.unseen_categories(X)
        self.last_unseen_ = counts
        if counts:
            detail = ", ".join(f"{c}={v!r}: {n}" for (c, v), n in counts.items())
            warnings.warn(f"assign: {int(unseen.sum())} customer(s) have categories not seen when the "
                          f"segmentation was built ({detail}); they go to {self.fallback!r}. "
                          "Rebuild the segmentation with these customers to give them a segment.",
                          UserWarning, stacklevel=3)
        if (~unseen).any():
            out[~unseen] = self.label_names(self.estimator.predict(X.loc[~unseen]))
        return pd.Series(out, index=table.index, name="segment")


# --------------------------------------------------------------------------- the segmentation


def behavioural_segmentation(
    table: pd.DataFrame,
    method: str = "kmeans",
    k: int | None = None,
    k_range=range(2, 9),
    features=None,
    random_state: int = 0,
    *,
    n_resamples: int = 5,
    stability_sample: int = 3000,
    silhouette_sample: int = 3000,
    selection_sample: int = 50_000,
    **params,
) -> Segmentation:
    """Cluster customers by behaviour and name the clusters.

    Parameters
    ----------
    table: customer table (see :func:`segwork.features.customer_table`),
        indexed by customer_id.
    method: ``"kmeans"`` (default), ``"gmm"``, ``"kprototypes"`` or ``"hdbscan"``.
    k: number of segments; None selects it over ``k_range`` by the mean rank
        of silhouette, Calinski-Harabasz, Davies-Bouldin (and BIC for
        ``"gmm"``), see :func:`segwork.segment.selection.select_k`. Ignored by
        HDBSCAN, which finds the number itself.
    k_range: the candidate numbers of segments (integers >= 2).
    features: columns to cluster on (default :func:`default_features`).
    random_state: seed of every random step (clustering, samples, bootstrap).
    n_resamples: bootstrap resamples for the stability (0 skips it).
    stability_sample, silhouette_sample, selection_sample: seeded row samples
        bounding the cost of stability, silhouette and selection at scale.
    params: passed to the segmenter (e.g. ``covariance_type="diag"``).

    Returns
    -------
    Segmentation named ``"behavioural_<method>"``. ``description`` is the
    centroid table in original units (one row per segment: customers, share,
    then each feature's centre; money in the data's currency, time in days,
    shares in [0, 1], categorical columns as "mode (share)"). ``params`` hold
    the method, ``k``, how it was chosen, the selection table, silhouette,
    Calinski-Harabasz, Davies-Bouldin, stability (mean adjusted Rand over
    bootstrap resamples), the features and the log-transformed columns.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError("behavioural_segmentation: table must be a pandas DataFrame indexed by customer_id "
                        "(see segwork.features.customer_table)")
    with single_thread_below(len(table)):
        return _behavioural_segmentation(table, method, k, k_range, features, random_state, n_resamples,
                                         stability_sample, silhouette_sample, selection_sample, params)


def _behavioural_segmentation(table, method, k, k_range, features, random_state, n_resamples,
                              stability_sample, silhouette_sample, selection_sample, params) -> Segmentation:
    from .selection import choose_k, cluster_quality, select_k, stability

    if method not in METHODS:
        raise DataError(f"behavioural_segmentation: method={method!r}; use one of {', '.join(METHODS)}")
    features, dropped = _resolve_features(table, method, features)
    X = table[features]
    n = len(X)
    notes = []
    if dropped:
        notes.append(f"left out default column(s) {', '.join(dropped)}: constant or missing")
    estimator = make_segmenter(method, random_state=random_state, **params)
    selection = None
    if method == "hdbscan":
        if k is not None:
            notes.append(f"k={k} ignored: HDBSCAN finds the number of segments itself")
        chosen_by = "density (HDBSCAN)"
    elif k is None:
        ks = sorted({int(x) for x in k_range})
        if not ks or ks[0] < 2:
            raise DataError(f"behavioural_segmentation: k_range={list(k_range)} must hold integers >= 2")
        if n <= ks[0]:
            raise DataError(f"behavioural_segmentation: {n} customers but at least {ks[0] + 1} are needed "
                            f"to choose among k={ks[0]}..{ks[-1]} segments; pass more customers")
        ks = [x for x in ks if x < n]
        selection = select_k(X, estimator, ks, random_state=random_state,
                             silhouette_sample=silhouette_sample, max_fit_samples=selection_sample)
        k = choose_k(selection)
        chosen_by = "mean rank of " + ", ".join(c for c in ("silhouette", "calinski_harabasz", "davies_bouldin", "bic", "gap", "prediction_strength")
                                                if c in selection.columns and selection[c].notna().any())
    else:
        if int(k) != k or k < 2:
            raise DataError(f"behavioural_segmentation: k={k!r} must be an integer >= 2")
        k = int(k)
        if n < k:
            raise DataError(f"behavioural_segmentation: {n} customers but k={k} segments; "
                            "pass more customers or a smaller k")
        chosen_by = "given"
    if method != "hdbscan":
        estimator.set_params(n_clusters=k)
    estimator.fit(X)
    labels = estimator.labels_

    # Names from centres (noise has its own name).
    centres, z_all = estimator.centroids(X, labels)
    z = z_all.drop(index=-1, errors="ignore")
    names = name_segments(z, reserved=(UNCLUSTERED, UNSEEN_FALLBACK)).to_dict() if len(z) else {}
    assigner = ClusterAssigner(estimator, names, features)
    label_names = pd.Series(assigner.label_names(labels), index=table.index.astype(str))

    # Description: centres in original units, named, in segment order.
    sizes = pd.Series(labels).value_counts()
    centres.insert(0, "share", [sizes.get(c, 0) / n for c in centres.index])
    centres.insert(0, "customers", [int(sizes.get(c, 0)) for c in centres.index])
    centres.index = assigner.label_names(centres.index)
    centres.index.name = "segment"
    centres = centres.sort_values("customers", ascending=False, kind="stable")

    quality = cluster_quality(estimator.preprocess(X), labels, silhouette_sample, random_state)
    stab, stab_scores = float("nan"), []
    if n_resamples and n_resamples > 0:
        stab, stab_scores = stability(X, clone(estimator), n_resamples=n_resamples, max_samples=stability_sample,
                                      random_state=random_state, return_scores=True)
    fitted_k = int(len(set(labels) - {-1}))
    run = {
        "method": method,
        "algorithm": getattr(estimator, "algorithm_", method),
        "k": fitted_k,
        "k_chosen_by": chosen_by,
        "k_range": [int(x) for x in k_range] if k_range is not None else None,
        "selection": selection,
        **quality,
        "stability": stab,
        "stability_scores": [float(v) for v in stab_scores],
        "features": list(features),
        "log_columns": list(estimator.log_columns_),
        "categorical_columns": list(estimator.categorical_columns_),
        "random_state": random_state,
        "centroids_z": z.rename(index=names),
        "notes": notes,
    }
    if method == "hdbscan":
        run["n_unclustered"] = int((labels == -1).sum())
        run["min_cluster_size"] = int(estimator.model_.min_cluster_size_)
    if method == "kprototypes" and estimator.algorithm_ == "kprototypes":
        run["gamma"] = float(estimator.model_.gamma_)
    title = {"kmeans": "k-means", "gmm": "Gaussian mixture", "kprototypes": "k-prototypes",
             "hdbscan": "HDBSCAN"}[method]
    return Segmentation(
        label_names,
        name=f"behavioural_{method}",
        method=f"behavioural clustering ({title}) on {', '.join(features[:6])}{' ...' if len(features) > 6 else ''}",
        description=centres,
        assigner=assigner,
        table=table,
        order=list(centres.index),
        params=run,
        fallback=UNSEEN_FALLBACK,
    )


def compare_methods(
    table: pd.DataFrame,
    methods=METHODS,
    *,
    k: int | None = None,
    k_range=range(2, 9),
    truth: pd.Series | None = None,
    features=None,
    random_state: int = 0,
    **options,
) -> tuple[pd.DataFrame, dict[str, Segmentation]]:
    """Build :func:`behavioural_segmentation` with several methods and tabulate them.

    ``k`` (None: each method selects its own) and ``options`` (e.g.
    ``n_resamples``) are passed to every method. k-prototypes is left out
    when the features hold no categorical column (it would be k-means).

    Returns ``(table, segmentations)``: the table has one row per method
    (index ``method``) with ``k``, ``silhouette``, ``calinski_harabasz``,
    ``davies_bouldin``, ``stability``, ``smallest_share``, ``unclustered_share``,
    ``seconds`` (wall time of the build: varies run to run, keep it out of saved
    results) and, when ``truth`` (true segment
    per customer) is given, ``ari_truth`` (adjusted Rand on the customers in
    both).
    """
    import time

    from sklearn.metrics import adjusted_rand_score

    rows, segs = [], {}
    for method in methods:
        feats = features if features is not None else default_features(table, method)
        if method == "kprototypes" and not any(not _is_numeric(table[c]) for c in feats):
            continue
        start = time.perf_counter()
        seg = behavioural_segmentation(table, method=method, k=k, k_range=k_range, features=features,
                                       random_state=random_state, **options)
        seconds = time.perf_counter() - start
        p = seg.params
        row = {"method": method, "k": p["k"], "silhouette": p["silhouette"],
               "calinski_harabasz": p["calinski_harabasz"], "davies_bouldin": p["davies_bouldin"],
               "stability": p["stability"], "smallest_share": float(seg.shares[seg.shares > 0].min()),
               "unclustered_share": float((seg.labels == UNCLUSTERED).mean()), "seconds": seconds}
        if truth is not None:
            common = seg.labels.index.intersection(truth.index.astype(str))
            truth_str = truth.copy()
            truth_str.index = truth_str.index.astype(str)
            row["ari_truth"] = float(adjusted_rand_score(truth_str.loc[common].astype(str),
                                                         seg.labels.loc[common].astype(str)))
        rows.append(row)
        segs[method] = seg
    return pd.DataFrame(rows).set_index("method"), segs
