"""Figures: one function per figure; each takes tidy data and returns the matplotlib Axes.

Modules: ``data`` (transaction and customer analysis), ``clv`` (model fit and
validation), ``segments`` (segmentation profiles and comparisons), ``clusters``
(model selection, centres, needs loadings), ``targeting`` (gains and lift), ``tables`` (the one table style:
``show_table``, ``format_frame``, ``format_value``),
``defection`` (forest plot of driver multipliers, reasons stated and found).
"""
from . import clusters as _clusters
from . import clv as _clv
from . import data as _data
from . import defection as _defection
from . import segments as _segments
from . import targeting as _targeting
from .clusters import *  # noqa: F401,F403
from .tables import format_frame, format_value, show_table, table_html  # noqa: F401
from .clv import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .defection import *  # noqa: F401,F403
from .segments import *  # noqa: F401,F403
from .targeting import *  # noqa: F401,F403

__all__ = [*_data.__all__, *_clv.__all__, *_segments.__all__, *_clusters.__all__, *_targeting.__all__,
           *_defection.__all__]
