"""The clustering estimators: scikit-learn estimators with their preprocessing inside a Pipeline.

=====================================  ==============================================
estimator                              method
=====================================  ==============================================
:class:`KMeansSegmenter`               k-means (``MiniBatchKMeans`` above
                                       :data:`MINIBATCH_THRESHOLD` customers)
:class:`GaussianMixtureSegmenter`      Gaussian mixture (soft clusters; BIC)
:class:`KPrototypesSegmenter`          k-prototypes (``kmodes``) for numeric +
                                       categorical columns, fitted on a sample
:class:`HDBSCANSegmenter`              density clusters; noise -> label -1;
                                       fitted on a sample, others assigned to the
                                       cluster of their nearest fitted customer
=====================================  ==============================================

Preprocessing (:func:`segwork.segment.preprocess.build_preprocessor`):

* numeric columns: missing values -> median; skewed money and count columns
  -> ``sign(x) * log(1 + |x|)`` ("log1p"); then standardised (z-scores);
* categorical columns (strings, pandas categories, booleans): missing ->
  ``"missing"``; then one-hot encoded (k-means, Gaussian mixture, HDBSCAN) or
  kept as categories (k-prototypes).

``predict`` returns integer cluster indices (the scikit-learn contract); the
approach (:func:`segwork.segment.clustering.behavioural_segmentation`) names
them.
"""
from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, validate_data

from .._checks import check_fitted
from ..errors import DataError
from .preprocess import auto_log_columns, build_preprocessor, category_values, is_numeric

__all__ = [
    "MINIBATCH_THRESHOLD",
    "METHODS",
    "KMeansSegmenter",
    "GaussianMixtureSegmenter",
    "KPrototypesSegmenter",
    "HDBSCANSegmenter",
    "make_segmenter",
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
        """The clustering step for this data: ``(algorithm name, unfitted model)``."""
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
                (numeric if is_numeric(s) else categorical).append(col)
            self.columns_ = list(frame.columns)
            self.numeric_columns_ = numeric
            self.categorical_columns_ = categorical
        out = {}
        for col in self.columns_:
            s = frame[col]
            if col in self.numeric_columns_:
                if not is_numeric(s):
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
                out[col] = pd.Series(category_values(s).to_numpy(), index=frame.index, dtype=object)
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
            logs = auto_log_columns(frame, self.numeric_columns_)
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
        check_fitted(self, "pipeline_", "fit(X)")

    # ---------------------------------------------------------------- API
    def fit(self, X, y=None):
        """Learn the preprocessing and the clusters from ``X``; returns self.

        Sets ``labels_`` (int per row; -1 = HDBSCAN noise), ``pipeline_``, ``algorithm_``,
        ``log_columns_``, ``numeric_columns_``, ``categorical_columns_`` and
        ``categories_`` (values seen per categorical column).
        """
        frame = self._frame(X, reset=True)
        self._validate_fit(frame)
        self.categories_ = {c: set(frame[c].dropna().unique().tolist()) for c in self.categorical_columns_}
        prep = build_preprocessor(self.numeric_columns_, self.log_columns_, self.categorical_columns_,
                                  encoding=self._encoding)
        self.algorithm_, model = self._model(len(self.categorical_columns_), frame.shape[0])
        self.pipeline_ = Pipeline([("preprocess", prep), ("cluster", model)])
        self._fit_pipeline(frame)
        return self

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
            return "minibatch", MiniBatchKMeans(n_clusters=self.n_clusters, batch_size=self.batch_size, n_init=3,
                                   max_iter=self.max_iter, random_state=self.random_state)
        return "lloyd", KMeans(n_clusters=self.n_clusters, n_init=self.n_init, max_iter=self.max_iter,
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
        return "gmm", GaussianMixture(n_components=self.n_clusters, covariance_type=self.covariance_type,
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
            return "kmeans", KMeans(n_clusters=self.n_clusters, n_init=self.n_init, max_iter=self.max_iter,
                          random_state=self.random_state)
        return "kprototypes", _KPrototypesStep(n_clusters=self.n_clusters, n_categorical=n_categorical, gamma=self.gamma,
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
        return "hdbscan", _HDBSCANStep(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples,
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

