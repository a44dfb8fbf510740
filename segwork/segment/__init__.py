"""Segmentation approaches; each produces a :class:`~segwork.segment.base.Segmentation`.

==============  ======================================  =====================================
approach        function                                 module
==============  ======================================  =====================================
a priori        :func:`apriori_segmentation`             :mod:`segwork.segment.apriori`
RFM             :func:`rfm_segmentation`                 :mod:`segwork.segment.rfm`
value tiers     :func:`value_segmentation`               :mod:`segwork.segment.value`
relationship    :func:`relationship_segmentation`        :mod:`segwork.segment.relationship`
behavioural     ``behavioural_segmentation``             :mod:`segwork.segment.clustering`
needs-based     ``needs_segmentation``                   :mod:`segwork.segment.needs`
all defaults    :func:`default_segmentations`            :mod:`segwork.segment.defaults`
==============  ======================================  =====================================

Shared by the clustering approaches: :mod:`~segwork.segment.preprocess`
(columns, transforms, the preprocessing pipeline, thread limits),
:mod:`~segwork.segment.estimators` (the scikit-learn clustering estimators)
and :mod:`~segwork.segment.selection` (choose k, fit, assess).
Every approach returns a :class:`Segmentation` whose ``predict(table)``
names the segments of new customers with the fitted segmenter.
Every approach starts from the prepared customer table,
``segwork.prepare_table(data)`` (:mod:`segwork.prepare`).
"""
from .apriori import AprioriSegmenter, apriori_segmentation, default_rules, grid_rules, parse_condition
from .base import Segmentation, crosstab, nps, segment_profile
from .defaults import default_segmentations
from .relationship import RELATIONSHIP_TYPES, RelationshipTyper, relationship_segmentation
from .rfm import DEFAULT_SEGMENT_MAP, RFMSegmenter, rfm_scores, rfm_segmentation, segment_grid
from .value import ValueTiers, tier_value, value_segmentation

__all__ = [
    "Segmentation", "nps", "segment_profile", "crosstab",
    "AprioriSegmenter", "apriori_segmentation", "default_rules", "grid_rules", "parse_condition",
    "RFMSegmenter", "rfm_segmentation", "rfm_scores", "segment_grid", "DEFAULT_SEGMENT_MAP",
    "ValueTiers", "value_segmentation", "tier_value",
    "RelationshipTyper", "relationship_segmentation", "RELATIONSHIP_TYPES",
    "default_segmentations",
]

# Behavioural clustering, model selection and needs-based segmentation.
from .clustering import behavioural_segmentation  # noqa: E402
from .estimators import (GaussianMixtureSegmenter, HDBSCANSegmenter, KMeansSegmenter,  # noqa: E402
                         KPrototypesSegmenter, make_segmenter)
from .needs import NeedsSegmenter, needs_segmentation  # noqa: E402
from .selection import Assessment, ClusterQuality, choose_k, fit_and_assess, select_k, stability  # noqa: E402

__all__ += ["behavioural_segmentation", "make_segmenter", "KMeansSegmenter", "GaussianMixtureSegmenter",
            "KPrototypesSegmenter", "HDBSCANSegmenter", "select_k", "choose_k", "stability", "fit_and_assess",
            "Assessment", "ClusterQuality", "needs_segmentation", "NeedsSegmenter"]
