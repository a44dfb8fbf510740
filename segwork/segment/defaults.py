"""Every segmentation approach with its default settings, on one prepared customer table.

:func:`default_segmentations` is what the comparison notebook (09) and the
comparison report use: one call builds each approach the data allow, so that
:func:`segwork.compare` can put them side by side.
"""
from __future__ import annotations

import warnings

import pandas as pd

from .._checks import renamed_keywords
from ..errors import DataError
from .base import Segmentation

__all__ = ["default_segmentations", "APPROACHES", "DEFAULT_APPROACHES"]

#: The approaches in the order they are built (and shown), with what each needs.
APPROACHES = {
    "apriori": "a priori rules over the profile (needs the customers table: customer_type, company_size, age_band, region)",
    "rfm": "RFM quintile scores and the R x FM segment map (transactions only)",
    "value": "value tiers by predicted CLV (MBG/NBD + Gamma-Gamma; historical revenue if the models cannot be fitted)",
    "relationship": "relationship types from P(alive), recency and value (transactions only)",
    "kmeans": "behavioural clustering, KMeans with k chosen by the clustering helper's model selection",
    "gmm": "behavioural clustering, Gaussian mixture",
    "needs": "needs-based: factors of the survey answers, clustered (needs the survey)",
}


#: The approaches built when none are named (the Gaussian mixture is left out: slower, and close to k-means).
DEFAULT_APPROACHES = ("apriori", "rfm", "value", "relationship", "kmeans", "needs")


@renamed_keywords(seed="random_state")
def default_segmentations(table: pd.DataFrame, random_state: int = 0, *, approaches=None,
                          model=None) -> dict[str, Segmentation]:
    """Build every segmentation approach with its default settings.

    Parameters
    ----------
    table: the prepared customer table, ``segwork.prepare_table(data)``
        (indexed by ``customer_id``; behaviour columns, profile and survey
        columns when the data set has them, ``p_alive`` and ``clv`` when the
        CLV models fit). Pass the same table to :func:`segwork.compare`::

            table = segwork.prepare_table(data)
            segs = default_segmentations(table, random_state=0)
            segwork.compare(segs, table, truth=data.truth["segment"])
    random_state: random state of the approaches that draw random numbers (clustering).
        Old name ``seed``, deprecated: it still works with a FutureWarning until segwork 0.3.
    approaches: names from :data:`APPROACHES` to build (default
        :data:`DEFAULT_APPROACHES`: all but ``gmm``).
    model: the fitted transaction model behind the table's ``p_alive``
        (``segwork.prepare.prepare(data).clv.transaction_model``): the
        relationship typer uses it instead of fitting it again. Default:
        the typer fits the table's stated model itself (the same numbers).

    Returns
    -------
    dict name -> :class:`Segmentation`, in the order of :data:`APPROACHES`.
    Approaches that lack their inputs are left out: ``apriori`` without the
    profile columns (``customer_type``), ``needs`` without survey answers
    (``has_survey``). The value tiers use predicted CLV (``clv``) when the
    table has it, else historical revenue, recorded as a fallback
    (``params["value_fallback"]``, see :func:`segwork.segment.tier_value`).

    Raises
    ------
    TypeError: ``table`` is not a DataFrame (e.g. a Dataset: prepare it first).
    ValueError: an unknown approach name.
    DataError: the DataFrame is not a customer table (no ``frequency``,
        ``recency``, ``T``), and the approaches' own data errors.
    """
    from .apriori import apriori_segmentation
    from .clustering import behavioural_segmentation
    from .needs import needs_segmentation
    from .relationship import relationship_segmentation
    from .rfm import rfm_segmentation
    from .value import tier_value, value_segmentation

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"default_segmentations: give the prepared customer table, got {type(table).__name__}; "
                        "call table = segwork.prepare_table(data) first and pass the table")
    missing = [c for c in ("frequency", "recency", "T") if c not in table.columns]
    if missing:
        raise DataError(f"default_segmentations: the table has no {missing[0]!r} column, so it is not a customer "
                        "table; call table = segwork.prepare_table(data) first and pass the table")
    wanted = list(DEFAULT_APPROACHES if approaches is None else approaches)
    unknown = [a for a in wanted if a not in APPROACHES]
    if unknown:
        raise ValueError(f"default_segmentations: unknown approach {unknown[0]!r}; choose from {', '.join(APPROACHES)}")
    has_profile = "customer_type" in table.columns
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
        else:  # historical revenue, recorded as the fallback it is (the table's CLV record says why)
            _, fallback = tier_value(table, "clv")
            out["value"] = value_segmentation(table, "revenue", name="value", fallback=fallback)
    if "relationship" in wanted:
        out["relationship"] = relationship_segmentation(table, model=model)
    for method in ("kmeans", "gmm"):
        if method in wanted:
            out[method] = behavioural_segmentation(table, method=method, random_state=random_state)
    if "needs" in wanted and has_survey:
        out["needs"] = needs_segmentation(table, random_state=random_state)
    for name, seg in out.items():
        seg.name = name
    return out
