"""Needs-based segmentation: customers grouped by what they say they need (a survey).

1. The survey items (e.g. ``q01_compare_prices`` .. ``q12_newest_models``,
   answers 1-5) are standardised (missing answers of respondents -> item
   median).
2. Factor analysis with varimax rotation (:class:`sklearn.decomposition.FactorAnalysis`)
   reduces them to a few latent needs. The number of factors is, by default,
   Kaiser's rule: the eigenvalues of the item correlation matrix above 1.
   Each factor is named by its top-loading items: by the need those items
   measure when the columns are in :data:`segwork.datasets.SURVEY_ITEMS` and
   agree, else by the wording of its top item, else by the column name.
   Factor signs are set so that a high score means agreeing with the items.
3. k-means on the factor scores; ``k`` chosen like the behavioural clusters
   (:func:`segwork.segment.selection.select_k`).
4. Each segment is named by its dominant needs (factor means in standard
   deviations of all respondents, see :mod:`segwork.segment.naming`).
5. Customers who did not answer are placed from their behaviour by a
   classifier trained on the respondents (logistic regression on the
   behaviour columns, preprocessed like the behavioural clusters), when it
   predicts better than always guessing the largest segment
   (cross-validated); otherwise, and when the table has no behaviour
   columns, they go to :data:`UNKNOWN`. ``params`` say which happened.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import FactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, validate_data

from .._checks import check_fitted
from ..datasets import SURVEY_ITEMS
from ..errors import DataError
from .base import Segmentation, code_names
from .naming import name_segments
from .preprocess import auto_log_columns, build_preprocessor, default_features, is_numeric, single_thread_below
from .selection import fit_and_assess

__all__ = ["NeedsSegmenter", "needs_segmentation", "survey_items", "name_factors",
           "kaiser_n_factors", "UNKNOWN"]

#: Segment of customers without survey answers who cannot be assigned from behaviour.
UNKNOWN = "unknown"

_ITEM_PATTERN = re.compile(r"^q\d+_")


def survey_items(table: pd.DataFrame) -> list[str]:
    """The survey item columns of a customer table.

    Columns listed in :data:`segwork.datasets.SURVEY_ITEMS`, else numeric
    columns named like ``q<number>_<text>``.
    """
    known = [c for c in table.columns if c in SURVEY_ITEMS]
    if known:
        return known
    return [c for c in table.columns if _ITEM_PATTERN.match(str(c)) and is_numeric(table[c])]


def kaiser_n_factors(X: np.ndarray) -> int:
    """Kaiser's rule: the number of eigenvalues of the correlation matrix above 1 (at least 1)."""
    corr = np.corrcoef(np.asarray(X, dtype=float), rowvar=False)
    corr = np.nan_to_num(np.atleast_2d(corr))
    eig = np.linalg.eigvalsh(corr)
    return int(max(1, (eig > 1.0).sum()))


def _readable_item(column: str) -> str:
    return _ITEM_PATTERN.sub("", str(column)).replace("_", " ").strip() or str(column)


def name_factors(loadings: pd.DataFrame, *, threshold: float = 0.4) -> list[str]:
    """A name per factor (column of ``loadings``, items as rows) from its top-loading items.

    The items with ``|loading| >= threshold`` (at least the top one): if all
    are in :data:`~segwork.datasets.SURVEY_ITEMS` and measure the same need,
    the factor takes the need's name ("price sensitivity"); else the wording
    of its top item if known, else the top item's column name without its
    ``qNN_`` prefix. Duplicates get a number.
    """
    names = []
    for factor in loadings.columns:
        col = loadings[factor].abs().sort_values(ascending=False, kind="stable")
        top = list(col.index[col >= threshold]) or [col.index[0]]
        needs = {SURVEY_ITEMS[i][0] for i in top if i in SURVEY_ITEMS}
        if len(needs) == 1 and all(i in SURVEY_ITEMS for i in top):
            name = needs.pop().replace("_", " ")
        elif top[0] in SURVEY_ITEMS:
            name = SURVEY_ITEMS[top[0]][1]
        else:
            name = _readable_item(top[0])
        base, n = name, 2
        while name in names:
            name = f"{base} ({n})"
            n += 1
        names.append(name)
    return names


class NeedsSegmenter(ClusterMixin, BaseEstimator):
    """Factor analysis (varimax) of survey items, then k-means on the factor scores.

    Parameters
    ----------
    n_clusters: number of needs segments.
    n_factors: number of latent needs (None: Kaiser's rule on the fitted data).
    rotation: ``"varimax"`` (default), ``"quartimax"`` or None.
    n_init: k-means restarts.
    random_state: seed of the factor analysis and k-means.

    Attributes
    ----------
    n_factors_, factor_names_, loadings_ (items x factors, standardised
    items), pipeline_ (impute -> standardise -> factor analysis), signs_,
    kmeans_, labels_, columns_.
    """

    def __init__(self, n_clusters=5, *, n_factors=None, rotation="varimax", n_init=4, random_state=0):
        self.n_clusters = n_clusters
        self.n_factors = n_factors
        self.rotation = rotation
        self.n_init = n_init
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _array(self, X, *, reset: bool) -> np.ndarray:
        who = type(self).__name__
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if reset:
                self.columns_ = [str(c) for c in X.columns]
            bad = [c for c in X.columns if not is_numeric(X[c])]
            if bad:
                raise DataError(f"{who}: survey item {bad[0]!r} is not numeric (e.g. {X[bad[0]].dropna().iloc[0]!r}); "
                                "code the answers as numbers (e.g. 1-5)")
            arr = X.to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = check_array(X, dtype="numeric", ensure_all_finite="allow-nan", estimator=self)
            validate_data(self, arr, reset=reset, skip_check_array=True)
            if reset:
                self.columns_ = [f"x{i}" for i in range(arr.shape[1])]
        arr = np.asarray(arr, dtype=float)
        if arr.shape[0] == 0:
            raise DataError(f"{who}: no respondents (0 samples); pass at least one row of answers")
        if np.isinf(arr).any():
            col = self.columns_[int(np.where(np.isinf(arr).any(axis=0))[0][0])]
            raise DataError(f"{who}: item {col!r} has infinite values (inf); replace them with answers or NaN")
        return arr

    def fit(self, X, y=None):
        """Learn the factors and the segments from item answers (rows = respondents); returns self."""
        who = type(self).__name__
        arr = self._array(X, reset=True)
        n, p = arr.shape
        need = max(2, int(self.n_clusters))
        if n < need:
            raise DataError(f"{who}: {n} sample(s) (respondents) but n_clusters={self.n_clusters}; "
                            "pass more respondents or ask for fewer segments")
        for j, col in enumerate(self.columns_):
            values = arr[:, j][~np.isnan(arr[:, j])]
            if values.size == 0:
                raise DataError(f"{who}: item {col!r} has no answers; drop it from the items")
            if np.all(values == values[0]):
                raise DataError(f"{who}: item {col!r} is constant (every answer is {values[0]:g}), so it "
                                "cannot separate needs; drop it from the items")
        prep = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        Z = prep.fit_transform(arr)
        n_factors = kaiser_n_factors(Z) if self.n_factors is None else int(self.n_factors)
        n_factors = max(1, min(n_factors, p))
        fa = FactorAnalysis(n_components=n_factors, rotation=self.rotation if n_factors > 1 else None,
                            svd_method="lapack", random_state=self.random_state)
        fa.fit(Z)
        comps = fa.components_.copy()  # factors x items
        # Order factors by the variance they explain; sign so that high = agreeing with the top items.
        order = np.argsort(-(comps ** 2).sum(axis=1), kind="stable")
        signs = np.ones(n_factors)
        for f in range(n_factors):
            strong = np.abs(comps[f]) >= 0.4
            total = comps[f, strong].sum() if strong.any() else comps[f, np.argmax(np.abs(comps[f]))]
            signs[f] = 1.0 if total >= 0 else -1.0
        self.n_factors_ = n_factors
        self.order_ = order
        self.signs_ = signs
        self.pipeline_ = Pipeline([("impute", prep[0]), ("scale", prep[1]), ("factors", fa)])
        loadings = (comps * signs[:, None])[order].T
        self.loadings_ = pd.DataFrame(loadings, index=self.columns_)
        self.factor_names_ = name_factors(self.loadings_)
        self.loadings_.columns = self.factor_names_
        self.loadings_.index.name = "item"
        scores = self._scores(arr)
        self.kmeans_ = KMeans(n_clusters=int(self.n_clusters), n_init=self.n_init, random_state=self.random_state)
        self.kmeans_.fit(scores)
        self.labels_ = self.kmeans_.labels_.astype(int)
        self.n_iter_ = int(self.kmeans_.n_iter_)
        return self

    def _scores(self, arr: np.ndarray) -> np.ndarray:
        scores = self.pipeline_.transform(arr) * self.signs_
        return scores[:, self.order_]

    def _check_fitted(self) -> None:
        check_fitted(self, "kmeans_", "fit(X) with survey answers")

    def factor_scores(self, X) -> pd.DataFrame:
        """The latent needs of each row (factor scores; columns = factor names)."""
        self._check_fitted()
        arr = self._array(X, reset=False)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(self._scores(arr), index=index, columns=self.factor_names_)

    def preprocess(self, X) -> np.ndarray:
        """The factor scores as an array (the space the segments live in; used by the selection metrics)."""
        self._check_fitted()
        return self._scores(self._array(X, reset=False))

    @property
    def model_(self):
        """The fitted k-means on the factor scores."""
        self._check_fitted()
        return self.kmeans_

    def predict(self, X):
        """Needs segment index of each row of answers; -1 for rows with no answer at all (not placed)."""
        self._check_fitted()
        arr = self._array(X, reset=False)
        out = np.full(arr.shape[0], -1, dtype=int)
        answered = ~np.isnan(arr).all(axis=1)
        if answered.any():
            out[answered] = self.kmeans_.predict(self._scores(arr[answered])).astype(int)
        return out


def _resolve_items(table: pd.DataFrame, items) -> list[str]:
    if items is None:
        items = survey_items(table)
        if not items:
            raise DataError("needs_segmentation: the table has no survey item columns (q01_... as in "
                            "segwork.datasets.SURVEY_ITEMS); build it with customer_table(..., survey=...) "
                            "or pass items=[...]")
        return items
    items = [items] if isinstance(items, str) else list(items)
    unknown = [c for c in items if c not in table.columns]
    if unknown:
        raise DataError(f"needs_segmentation: survey item {unknown[0]!r} is not in the table "
                        f"(survey-like columns: {', '.join(survey_items(table)) or 'none'}); fix the name")
    if len(items) < 2:
        raise DataError(f"needs_segmentation: items={items} is too few; factor analysis needs at least 2 items")
    return items


def _behaviour_classifier(R: pd.DataFrame, y: np.ndarray, features: list[str], random_state, cv_folds: int):
    """Logistic regression from behaviour to needs segment: (fitted pipeline, CV accuracy, folds) or None."""
    counts = pd.Series(y).value_counts()
    folds = int(min(cv_folds, counts.min()))
    if folds < 2 or counts.size < 2:
        return None, float("nan"), folds
    X = R[features]
    numeric = [c for c in features if is_numeric(X[c])]
    categorical = [c for c in features if c not in numeric]
    logs = auto_log_columns(X, numeric)
    clf = Pipeline([("preprocess", build_preprocessor(numeric, logs, categorical)),
                    ("classify", LogisticRegression(max_iter=2000))])
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        accuracy = float(cross_val_score(clf, X, y, cv=cv).mean())
        clf.fit(X, y)
    return clf, accuracy, folds


def needs_segmentation(
    table: pd.DataFrame,
    k: int | None = None,
    n_factors: int | None = None,
    random_state: int = 0,
    *,
    items=None,
    k_range=range(2, 9),
    nonrespondents: str = "behaviour",
    behaviour_features=None,
    cv_folds: int = 5,
    n_resamples: int = 5,
    stability_sample: int = 3000,
    silhouette_sample: int = 3000,
) -> Segmentation:
    """Segment customers by the needs they state in a survey.

    Parameters
    ----------
    table: customer table with survey item columns (see
        :func:`segwork.features.customer_table` with ``survey=``), indexed by
        customer_id; customers without answers have NaN items.
    k: number of needs segments (None: chosen over ``k_range`` by the mean
        rank of silhouette, Calinski-Harabasz and Davies-Bouldin of k-means
        on the factor scores).
    n_factors: number of latent needs (None: Kaiser's rule).
    random_state: seed of every random step.
    items: the item columns (default :func:`survey_items`).
    nonrespondents: ``"behaviour"`` (a classifier trained on respondents'
        behaviour columns, used when its cross-validated accuracy beats
        always guessing the largest segment) or ``"unknown"``.
    behaviour_features: the classifier's columns (default: the behavioural
        clustering defaults, :func:`segwork.segment.clustering.default_features`).
    cv_folds: folds of the classifier's cross-validation (stratified, seeded).
    n_resamples, stability_sample, silhouette_sample: as for
        :func:`segwork.segment.clustering.behavioural_segmentation`.

    Returns
    -------
    Segmentation named ``"needs"``. ``description``: one row per segment
    with respondents, share of respondents, the mean factor scores (standard
    deviations) and the mean answer of each item (answer scale).
    ``assessment`` (also ``selection``, ``quality``, ``stability``): ``k``
    and how it was chosen, the selection table, silhouette, Calinski-Harabasz,
    Davies-Bouldin, stability. ``params``: items, ``n_factors``,
    ``factor_names``, ``loadings`` (items x factors), and the non-respondent
    handling: ``nonrespondents`` ("behaviour" or "unknown"),
    ``nonrespondent_note``, ``cv_accuracy``, ``baseline_accuracy``,
    ``n_respondents``, ``n_assigned_from_behaviour``, ``n_unknown``.
    ``predict(new_customers)`` scores customers with answers (all item
    columns needed, NaN where unanswered) and places the others with the
    behaviour classifier (``unplaced_model``) or as :data:`UNKNOWN`.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError("needs_segmentation: table must be a pandas DataFrame indexed by customer_id")
    with single_thread_below(len(table)):
        return _needs_segmentation(table, k, n_factors, random_state, items, k_range, nonrespondents,
                                   behaviour_features, cv_folds, n_resamples, stability_sample, silhouette_sample)


def _needs_segmentation(table, k, n_factors, random_state, items, k_range, nonrespondents, behaviour_features,
                        cv_folds, n_resamples, stability_sample, silhouette_sample) -> Segmentation:
    if nonrespondents not in ("behaviour", "unknown"):
        raise DataError(f"needs_segmentation: nonrespondents={nonrespondents!r}; use 'behaviour' or 'unknown'")
    items = _resolve_items(table, items)
    answered = table[items].notna().any(axis=1)
    R = table.loc[answered]
    n = len(R)
    estimator, assessment, _ = fit_and_assess(
        R[items], NeedsSegmenter(n_factors=n_factors, random_state=random_state), k, k_range,
        who="needs_segmentation", rows="respondents", more="collect more answers",
        criteria=("silhouette", "calinski_harabasz", "davies_bouldin"), random_state=random_state,
        n_resamples=n_resamples, stability_sample=stability_sample, silhouette_sample=silhouette_sample)
    scores = estimator.factor_scores(R[items])
    labels = estimator.labels_

    # Names by dominant needs: cluster mean factor scores in respondents' standard deviations.
    sd = scores.std(ddof=0).replace(0, np.nan)
    z = ((scores.groupby(labels).mean() - scores.mean()) / sd).fillna(0.0)
    names = name_segments(z, max_terms=2, reserved=(UNKNOWN,)).to_dict()

    # Non-respondents.
    non = ~answered
    mode, note, clf = nonrespondents, "", None
    accuracy = baseline = float("nan")
    features: list[str] = []
    if nonrespondents == "behaviour":
        features = list(behaviour_features) if behaviour_features is not None else default_features(table)
        missing = [c for c in features if c not in table.columns]
        if missing:
            raise DataError(f"needs_segmentation: behaviour feature {missing[0]!r} is not in the table; fix the name")
        y = np.array([names[int(c)] for c in labels], dtype=object)
        baseline = float(pd.Series(y).value_counts(normalize=True).max())
        if not features:
            mode, note = "unknown", "no behaviour columns to assign non-respondents from"
        else:
            clf, accuracy, folds = _behaviour_classifier(R, y, features, random_state, cv_folds)
            if clf is None:
                mode, note = "unknown", "too few respondents per segment to train and check a classifier"
            elif not accuracy > baseline:
                mode, note, clf = "unknown", (f"the behaviour classifier (CV accuracy {accuracy:.2f}) is no better "
                                              f"than guessing the largest segment ({baseline:.2f})"), None
            else:
                note = (f"assigned from behaviour by logistic regression on {len(features)} behaviour columns; "
                        f"{folds}-fold cross-validated accuracy {accuracy:.2f} (largest segment {baseline:.2f})")
    else:
        note = "not assigned (nonrespondents='unknown')"
    if mode == "unknown" and nonrespondents == "behaviour":
        note = f"not assigned: {note}"

    segment_names = {-1: UNKNOWN, **names}
    out = pd.Series(UNKNOWN, index=table.index, dtype=object)
    out[answered.to_numpy()] = code_names(labels, segment_names)
    if non.any() and clf is not None:
        out[non.to_numpy()] = clf.predict(table.loc[non, features])
    n_from_behaviour = int(non.sum()) if clf is not None else 0

    # Description: respondents' centres.
    sizes = pd.Series(labels).value_counts()
    desc = scores.groupby(labels).mean()
    desc = desc.join(R[items].groupby(labels).mean())
    desc.insert(0, "share", [sizes.get(c, 0) / n for c in desc.index])
    desc.insert(0, "respondents", [int(sizes.get(c, 0)) for c in desc.index])
    desc.index = [names[int(c)] for c in desc.index]
    desc.index.name = "segment"
    desc = desc.sort_values("respondents", ascending=False, kind="stable")
    order = list(desc.index) + ([UNKNOWN] if (out == UNKNOWN).any() else [])

    params = {
        "items": items,
        "item_wording": {c: SURVEY_ITEMS[c][1] for c in items if c in SURVEY_ITEMS},
        "n_factors": int(estimator.n_factors_),
        "n_factors_chosen_by": "Kaiser (eigenvalues > 1)" if n_factors is None else "given",
        "factor_names": list(estimator.factor_names_),
        "loadings": estimator.loadings_.copy(),
        "centroids_z": z.rename(index=names),
        "random_state": random_state,
        "nonrespondents": mode,
        "nonrespondent_note": note,
        "behaviour_features": features if clf is not None else [],
        "cv_accuracy": accuracy,
        "baseline_accuracy": baseline,
        "n_respondents": int(n),
        "n_assigned_from_behaviour": n_from_behaviour,
        "n_unknown": int((out == UNKNOWN).sum()),
    }
    method = (f"needs-based: factor analysis ({estimator.n_factors_} factors, "
              f"{estimator.rotation or 'no'} rotation) of {len(items)} survey items, k-means on the factor scores; "
              f"non-respondents {note}")
    return Segmentation(out, name="needs", method=method, description=desc, segmenter=estimator, features=items,
                        segment_names=segment_names, unplaced_model=clf, table=table, order=order, params=params,
                        fallback=UNKNOWN, assessment=assessment)
