"""Every segmentation approach with its default settings, on one data set.

:func:`default_segmentations` is what the comparison notebook (09) and the
comparison report use: one call builds each approach the data allow, so that
:func:`segwork.compare` can put them side by side.
"""
from __future__ import annotations

import warnings

import pandas as pd

from ..errors import ConvergenceError, DataError
from .base import Segmentation

__all__ = ["default_segmentations", "prepare_table", "APPROACHES", "DEFAULT_APPROACHES"]

#: The approaches in the order they are built (and shown), with what each needs.
APPROACHES = {
    "apriori": "a priori rules over the profile (needs the customers table: customer_type, company_size, age_band, region)",
    "rfm": "RFM quintile scores and the R x FM segment map (transactions only)",
    "value": "value tiers by predicted CLV (BG/NBD + Gamma-Gamma; historical revenue if the models cannot be fitted)",
    "relationship": "relationship types from P(alive), recency and value (transactions only)",
    "kmeans": "behavioural clustering, KMeans with k chosen by the clustering helper's model selection",
    "gmm": "behavioural clustering, Gaussian mixture",
    "needs": "needs-based: factors of the survey answers, clustered (needs the survey)",
}


def prepare_table(data, *, horizon: int = 12, discount_rate: float = 0.01, margin: float = 1.0) -> pd.DataFrame:
    """The customer table of a data set, with ``p_alive`` and ``clv`` when the CLV models fit.

    Parameters
    ----------
    data: a :class:`segwork.datasets.Dataset` (``make_crm()``, ``load_dataset("cdnow")``, ...)
        or a customer table (returned as is when it already has ``clv``).
    horizon, discount_rate, margin: passed to :func:`segwork.segment.value.predict_clv`
        (months, per month, profit share).

    Returns
    -------
    The customer table (:func:`segwork.features.customer_table`, measured at
    the data set's ``observation_end``) plus ``p_alive`` and ``clv``. When the
    BG/NBD or Gamma-Gamma model cannot be fitted (e.g. no repeat buyers) the
    two columns are left out and a warning says why.
    """
    from ..features import customer_table
    from .value import predict_clv

    if isinstance(data, pd.DataFrame):
        table = data
        if "clv" in table.columns:
            return table
    elif hasattr(data, "transactions"):
        table = customer_table(data.transactions, getattr(data, "customers", None), getattr(data, "survey", None),
                               observation_end=getattr(data, "observation_end", None))
    else:
        raise DataError(f"prepare_table: give a Dataset (e.g. segwork.datasets.make_crm()) or a customer table, "
                        f"got {type(data).__name__}")
    try:
        value = predict_clv(table, horizon=horizon, discount_rate=discount_rate, margin=margin)
    except (DataError, ConvergenceError) as exc:
        warnings.warn(f"prepare_table: no CLV columns ({exc})", UserWarning, stacklevel=2)
        return table
    table = table.drop(columns=[c for c in value.columns if c in table.columns]).join(value)
    return table


#: The approaches built when none are named (the Gaussian mixture is left out: slower, and close to k-means).
DEFAULT_APPROACHES = ("apriori", "rfm", "value", "relationship", "kmeans", "needs")


def default_segmentations(data, seed: int = 0, *, approaches=None) -> dict[str, Segmentation]:
    """Build every segmentation approach with its default settings.

    Parameters
    ----------
    data: a ``make_crm``-like :class:`~segwork.datasets.Dataset` (or a
        customer table from :func:`prepare_table`). A data set is prepared
        here (customer table + CLV models); to reuse that work, call
        ``table = prepare_table(data)`` yourself and pass ``table`` both here
        and to :func:`segwork.compare` (which would otherwise prepare it again).
    seed: random state of the approaches that draw random numbers (clustering).
    approaches: names from :data:`APPROACHES` to build (default
        :data:`DEFAULT_APPROACHES`: all but ``gmm``).

    Returns
    -------
    dict name -> :class:`Segmentation`, in the order of :data:`APPROACHES`.
    Approaches that lack their inputs are left out: ``apriori`` without a
    customers (profile) table, ``needs`` without a survey. The value tiers use
    predicted CLV when the CLV models fit, else historical revenue.
    """
    from .apriori import apriori_segmentation
    from .clustering import behavioural_segmentation
    from .needs import needs_segmentation
    from .relationship import relationship_segmentation
    from .rfm import rfm_segmentation
    from .value import value_segmentation

    wanted = list(DEFAULT_APPROACHES if approaches is None else approaches)
    unknown = [a for a in wanted if a not in APPROACHES]
    if unknown:
        raise DataError(f"default_segmentations: unknown approach {unknown[0]!r}; choose from {', '.join(APPROACHES)}")
    table = prepare_table(data)
    has_profile = (getattr(data, "customers", None) is not None if not isinstance(data, pd.DataFrame)
                   else "customer_type" in table.columns)
    has_survey = ("has_survey" in table.columns and bool(table["has_survey"].any()))
    out: dict[str, Segmentation] = {}
    if "apriori" in wanted and has_profile:
        try:
            out["apriori"] = apriori_segmentation(table)
        except DataError as exc:  # a profile without the default columns: no default rules
            warnings.warn(f"default_segmentations: a priori left out ({exc})", UserWarning, stacklevel=2)
    if "rfm" in wanted:
        out["rfm"] = rfm_segmentation(table)
    if "value" in wanted:
        if "clv" in table.columns:
            out["value"] = value_segmentation(table, table["clv"].rename("clv"), name="value")
        else:
            out["value"] = value_segmentation(table, "revenue", name="value")
    if "relationship" in wanted:
        out["relationship"] = relationship_segmentation(table)
    for method in ("kmeans", "gmm"):
        if method in wanted:
            out[method] = behavioural_segmentation(table, method=method, random_state=seed)
    if "needs" in wanted and has_survey:
        out["needs"] = needs_segmentation(table, random_state=seed)
    for name, seg in out.items():
        seg.name = name
    return out
