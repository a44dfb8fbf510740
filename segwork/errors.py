"""Exceptions raised by segwork.

Every error raised at a boundary (reading a file, fitting a model, running a
report) says *what* is wrong, *where* (file, column, value) and *what to do*.
"""
from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = ["DataError", "ConvergenceError", "NotFittedError", "ReportError"]


class DataError(ValueError):
    """Input data cannot be used as given.

    The message names the source (file or object), the column and an offending
    value, and says how to fix it.
    """


class ConvergenceError(RuntimeError):
    """A model's optimiser did not converge; the message suggests what to try."""


class NotFittedError(_SklearnNotFittedError):
    """A method that needs a fitted model was called before ``fit``.

    Subclasses scikit-learn's ``NotFittedError`` (itself a ``ValueError`` and
    ``AttributeError``) so that ``sklearn.utils.validation.check_is_fitted``
    and code that catches the scikit-learn error both work.
    """


class ReportError(RuntimeError):
    """A report run failed: the message names the notebook, the cell and the error."""
