"""The one margin of a CLV and the one way to say which value a number is.

A customer's lifetime value is the *margin* (profit) expected from them:
``CLV = margin x expected revenue`` (discounted; :mod:`segwork.clv.value`).
segwork states every CLV at one margin, :data:`DEFAULT_MARGIN` unless the
user sets another (a report parameter ``margin``, ``--margin`` of the CLI,
the ``margin`` of :func:`segwork.prepare.prepare` and of the model folder),
and every page, export and service answer names it with
:func:`value_label`: ``"CLV (margin 30 %)"``, or ``"expected revenue"``
when the margin is 1 (the value before any costs, which is not a CLV in the
sense of Gupta et al. 2006, "Modeling customer lifetime value", J. Service
Research 9(2): "the present value of all future *profits*").
"""
from __future__ import annotations

import math
import numbers

from ..errors import DataError

__all__ = ["DEFAULT_MARGIN", "value_label", "margin_text"]

#: The profit share of revenue every CLV uses unless told otherwise (0.3 = 30 %: an assumption; set your
#: business's margin). One constant: the prepared table, the model folder, the service, the exports, the report
#: runner and the notebooks' ``margin`` parameter all default to it.
DEFAULT_MARGIN = 0.3


def margin_text(margin: float) -> str:
    """``"margin 30 %"``: the margin in the words of :func:`value_label` (the percentage with up to 6
    significant digits). Raises DataError for a margin that is not a finite number >= 0 (naming the value)."""
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not math.isfinite(margin) or margin < 0:
        raise DataError(f"value_label: margin={margin!r} is not a profit share of revenue (a finite number >= 0, "
                        f"e.g. {DEFAULT_MARGIN})")
    return f"margin {float(margin) * 100:g} %"


def value_label(margin: float) -> str:
    """What a value computed at ``margin`` is, in the words every page, export and service answer use.

    ``margin``: profit share of revenue (finite, >= 0). Returns ``"expected revenue"`` for
    ``margin == 1`` and ``"CLV (margin 30 %)"`` (:func:`margin_text` in brackets, e.g.
    ``"CLV (margin 27.5 %)"``) otherwise.

    Raises DataError for a margin that is not a finite number >= 0 (naming the value).
    """
    text = margin_text(margin)
    return "expected revenue" if margin == 1 else f"CLV ({text})"
