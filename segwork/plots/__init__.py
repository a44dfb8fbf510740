"""Figures: one function per figure; each takes tidy data and returns the matplotlib Axes.

Modules: ``data`` (transaction and customer analysis), ``clv`` (model fit and
validation), ``segments`` (segmentation profiles and comparisons).
"""
from .data import *  # noqa: F401,F403
from .data import __all__ as _data_all

__all__ = [*_data_all]
