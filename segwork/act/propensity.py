"""Purchase propensity: the probability that a customer buys in the next period.

Two scores are offered (issue 9, CRM.md "Acting on segments"):

* :func:`clv_propensity` -- no training: the transaction model (BG/NBD, MBG/NBD
  or Pareto/NBD, fitted on the histories up to the cut-off) gives each
  customer's expected number of purchase days in the next ``horizon_days``,
  ``E``; ``p_buy = 1 - exp(-E)`` (a Poisson approximation; it is monotone in
  ``E``, so rankings, lift and AUC are those of ``E``).
* :class:`PropensityClassifier` -- supervised: scikit-learn's
  :class:`~sklearn.ensemble.HistGradientBoostingClassifier` on RFM,
  recency-pattern, category/channel-mix and profile features. Trained without
  leakage: features from the data up to ``t0 = observation_end - horizon``, label
  "bought in (t0, observation_end]"; then applied to features at ``observation_end``
  to score (observation_end, observation_end + horizon]. Nothing after
  ``observation_end`` (the day the histories end) is read.

The day the histories end is ``observation_end`` everywhere, as in
:func:`segwork.features.rfm_summary`; :func:`purchase_labels`, whose data go on
past it, names the split ``calibration_end`` (issue 18). The old name
``cutoff`` still works with a FutureWarning until segwork 0.3.

:func:`purchase_labels` gives the observed outcome of a period for evaluation
(:mod:`segwork.act.evaluation`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..clv.predict import DEFAULT_TRANSACTION_MODEL, fit_transaction_model
from .._checks import renamed_keywords
from ..errors import DataError
from ..features import customer_table, rfm_summary

__all__ = ["DEFAULT_HORIZON_DAYS", "purchase_labels", "clv_propensity", "propensity_features",
           "PropensityClassifier"]

#: The default next period, in days (issue 9).
DEFAULT_HORIZON_DAYS = 30

# profile columns that are dates or identifiers, not features
_NOT_FEATURES = ("signup_date", "birthday", "contract_end", "customer_id")


def _day(transactions: pd.DataFrame, value, where: str, name: str = "observation_end") -> pd.Timestamp:
    if not isinstance(transactions, pd.DataFrame) or "date" not in transactions.columns:
        raise DataError(f"{where}: transactions must be a DataFrame with a 'date' column "
                        "(read them with segwork.io.read_transactions)")
    try:
        ts = pd.Timestamp(value).normalize()
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: {name}={value!r} is not a date ({exc})") from None
    first, last = transactions["date"].min().normalize(), transactions["date"].max().normalize()
    if not first <= ts <= last:
        raise DataError(f"{where}: {name} {ts.date()} lies outside the transactions' dates "
                        f"({first.date()} to {last.date()}); choose a day inside them")
    return ts


def _horizon(horizon_days, where: str) -> int:
    if isinstance(horizon_days, bool) or not float(horizon_days).is_integer() or horizon_days < 1:
        raise DataError(f"{where}: horizon_days={horizon_days!r} must be a whole number of days >= 1")
    return int(horizon_days)


@renamed_keywords(cutoff="calibration_end")
def purchase_labels(transactions: pd.DataFrame, calibration_end,
                    horizon_days: int = DEFAULT_HORIZON_DAYS) -> pd.Series:
    """Whether each customer known at ``calibration_end`` bought in (calibration_end, calibration_end + horizon_days].

    Parameters
    ----------
    transactions: canonical transactions (``customer_id``, ``date``).
    calibration_end: last day of the known history (inclusive; a date or text); the
        transactions after it, up to ``horizon_days`` later, are the outcome (the
        holdout). Old name ``cutoff``, deprecated until segwork 0.3.
    horizon_days: length of the period after it, in days.

    Returns
    -------
    Boolean Series indexed by ``customer_id`` (text, sorted), one entry per
    customer with a purchase up to ``calibration_end``.

    Raises
    ------
    DataError: calibration_end outside the data, bad horizon, missing columns. The
        period may run past the last transaction; it is then only partly
        observed (the caller decides whether that is acceptable).
    """
    ts = _day(transactions, calibration_end, "purchase_labels", "calibration_end")
    h = _horizon(horizon_days, "purchase_labels")
    rfm = rfm_summary(transactions, observation_end=ts, amount_col=None)
    tx = transactions[(transactions["date"].dt.normalize() > ts)
                      & (transactions["date"].dt.normalize() <= ts + pd.Timedelta(days=h))]
    buyers = set(tx["customer_id"].astype(str))
    return pd.Series(rfm.index.isin(list(buyers)), index=rfm.index, name="bought")


@renamed_keywords(cutoff="observation_end")
def clv_propensity(transactions: pd.DataFrame, observation_end, horizon_days: int = DEFAULT_HORIZON_DAYS, *,
                   transaction_model: str = DEFAULT_TRANSACTION_MODEL) -> pd.DataFrame:
    """Purchase propensity from a transaction model fitted on the histories up to ``observation_end`` (no labels).

    Parameters
    ----------
    transactions: canonical transactions (``customer_id``, ``date``).
    observation_end: the day the histories end (inclusive); later transactions are not read.
        Old name ``cutoff``, deprecated until segwork 0.3.
    horizon_days: the next period, in days (default 30).
    transaction_model: ``"mbgnbd"`` (default), ``"bgnbd"`` or ``"paretonbd"``
        (see :func:`segwork.clv.predict.fit_transaction_model`).

    Returns
    -------
    DataFrame indexed by ``customer_id`` (customers with a purchase up to
    ``observation_end``) with ``expected_purchases`` (purchase days expected in
    (observation_end, observation_end + horizon_days]) and ``p_buy`` = 1 - exp(-expected_purchases)
    (Poisson approximation of P(at least one purchase); same ranking).

    Raises
    ------
    DataError: bad observation_end or horizon; ConvergenceError if no fit converges.

    Sources: Fader, Hardie & Lee (2005), "Counting your customers the easy
    way", eq. 10 (conditional expectation); Batislam et al. (2007) for MBG/NBD.
    """
    ts = _day(transactions, observation_end, "clv_propensity")
    h = _horizon(horizon_days, "clv_propensity")
    rfm = rfm_summary(transactions, observation_end=ts, amount_col=None)
    model = fit_transaction_model(rfm, transaction_model)
    expected = np.asarray(model.expected_purchases(h / 7.0, rfm["frequency"].to_numpy(),
                                                   rfm["recency"].to_numpy() / 7.0, rfm["T"].to_numpy() / 7.0),
                          dtype=float)
    return pd.DataFrame({"expected_purchases": expected, "p_buy": -np.expm1(-expected)}, index=rfm.index)


@renamed_keywords(cutoff="observation_end")
def propensity_features(transactions: pd.DataFrame, customers: pd.DataFrame | None = None, *, observation_end,
                        windows: tuple[int, ...] = (30, 90, 180)) -> pd.DataFrame:
    """Features of every customer known at ``observation_end``, from data up to that day only.

    Parameters
    ----------
    transactions: canonical transactions; optional ``category``/``channel``
        give the mix shares.
    customers: optional profile table (``customer_id`` + columns); dates and
        ids are dropped, text columns become pandas categoricals.
    observation_end: the day the histories end (inclusive; old name ``cutoff``, deprecated).
    windows: recency-pattern windows in days: ``n_last_<w>d`` counts purchase
        rows in (observation_end - w, observation_end].

    Returns
    -------
    DataFrame indexed by ``customer_id``: the numeric columns of
    :func:`segwork.features.customer_table` (days, the data's currency,
    shares), ``n_last_<w>d`` counts, ``tenure`` (= T, days) and the profile
    columns (categoricals / booleans). No column reads data after ``observation_end``.

    Raises
    ------
    DataError: bad observation_end, missing columns.
    """
    ts = _day(transactions, observation_end, "propensity_features")
    table = customer_table(transactions, customers, observation_end=ts)
    keep = [c for c in table.columns if c not in _NOT_FEATURES]
    feats = table[keep].copy()
    day = transactions["date"].dt.normalize()
    ids = transactions["customer_id"].astype(str)
    for w in windows:
        inside = (day > ts - pd.Timedelta(days=int(w))) & (day <= ts)
        counts = ids[inside].value_counts()
        feats[f"n_last_{int(w)}d"] = counts.reindex(feats.index).fillna(0).to_numpy()
    for col in feats.columns:
        if feats[col].dtype == object or pd.api.types.is_string_dtype(feats[col]):
            feats[col] = feats[col].astype("category")
        elif pd.api.types.is_bool_dtype(feats[col]):
            feats[col] = feats[col].astype(float)
    return feats


@renamed_keywords(seed="random_state")
@dataclass
class PropensityClassifier:
    """Gradient-boosting purchase propensity, trained on the period before the end of the histories.

    Parameters
    ----------
    horizon_days: the period, in days (default 30).
    random_state: random state of the classifier (its early-stopping split). The
        constructor still takes its old name ``seed`` with a FutureWarning until
        segwork 0.3 (mapped to ``random_state``; the field is ``random_state`` only).
    max_iter, learning_rate: passed to
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
    use_profile: include the profile columns of ``customers`` as features.

    Use ``fit(transactions, customers, observation_end=t1)`` then
    ``predict(transactions, customers, observation_end=t1)``: fit builds features at
    ``t0 = t1 - horizon_days`` and labels from (t0, t1]; predict builds
    features at ``t1`` for the period (t1, t1 + horizon_days].
    """

    horizon_days: int = DEFAULT_HORIZON_DAYS
    random_state: int = 0
    max_iter: int = 300
    learning_rate: float = 0.05
    use_profile: bool = True
    model_: object = field(default=None, init=False, repr=False)
    columns_: list = field(default=None, init=False, repr=False)

    @renamed_keywords(cutoff="observation_end")
    def fit(self, transactions: pd.DataFrame, customers: pd.DataFrame | None = None, *, observation_end):
        """Train on features at ``t0 = observation_end - horizon_days`` and the label "bought in (t0, observation_end]".

        ``observation_end``: the day the histories end; nothing after it is read (old name ``cutoff``, deprecated).

        Raises DataError when t0 is before the data or one class is missing.
        Returns self.
        """
        from sklearn.ensemble import HistGradientBoostingClassifier

        h = _horizon(self.horizon_days, "PropensityClassifier.fit")
        t1 = _day(transactions, observation_end, "PropensityClassifier.fit")
        t0 = t1 - pd.Timedelta(days=h)
        tx0 = transactions[transactions["date"].dt.normalize() <= t1]
        _day(tx0, t0, "PropensityClassifier.fit (training histories end at observation_end - horizon_days)",
             "the training end")
        X = propensity_features(tx0, customers if self.use_profile else None, observation_end=t0)
        y = purchase_labels(tx0, t0, h).reindex(X.index).to_numpy()
        if y.all() or not y.any():
            raise DataError(f"PropensityClassifier.fit: every customer known at {t0.date()} "
                            f"{'bought' if y.all() else 'did not buy'} in the next {h} days; "
                            "nothing to learn -- choose another observation_end or horizon")
        self.columns_ = list(X.columns)
        self.model_ = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                                     categorical_features="from_dtype",
                                                     early_stopping=True, random_state=self.random_state)
        self.model_.fit(X, y)
        return self

    @renamed_keywords(cutoff="observation_end")
    def predict(self, transactions: pd.DataFrame, customers: pd.DataFrame | None = None, *,
                observation_end) -> pd.Series:
        """P(buy in (observation_end, observation_end + horizon_days]) per customer known at ``observation_end``.

        ``observation_end``: the day the histories end (old name ``cutoff``, deprecated).

        Returns a float Series (0..1) named ``p_buy``, indexed by
        ``customer_id``. Raises DataError if not fitted.
        """
        if self.model_ is None:
            raise DataError("PropensityClassifier.predict: call fit first")
        ts = _day(transactions, observation_end, "PropensityClassifier.predict")
        tx = transactions[transactions["date"].dt.normalize() <= ts]
        X = propensity_features(tx, customers if self.use_profile else None, observation_end=ts)
        X = X.reindex(columns=self.columns_)
        return pd.Series(self.model_.predict_proba(X)[:, 1], index=X.index, name="p_buy")
