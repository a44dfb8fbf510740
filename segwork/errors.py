"""Exceptions raised by segwork.

Every error raised at a boundary (reading a file, fitting a model, running a
report) says *what* is wrong, *where* (file, column, value) and *what to do*.
"""
from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = ["DataError", "ConvergenceError", "IdentificationWarning", "NotFittedError", "ReportError"]


class DataError(ValueError):
    """Input data cannot be used as given.

    The message names the source (file or object), the column and an offending
    value, and says how to fix it.
    """


class ConvergenceError(RuntimeError):
    """A model's optimiser did not converge; the message suggests what to try."""


class IdentificationWarning(UserWarning):
    """A fitted model's point estimate is usable but some parameters are not pinned down by the data.

    E.g. the likelihood is flat towards a limit of the model (nobody leaves,
    no ageing) or the observed information is singular: the message names the
    parameters whose standard errors and intervals are not available (NaN).
    """


class NotFittedError(_SklearnNotFittedError):
    """A method that needs a fitted model was called before ``fit``.

    Subclasses scikit-learn's ``NotFittedError`` (itself a ``ValueError`` and
    ``AttributeError``) so that ``sklearn.utils.validation.check_is_fitted``
    and code that catches the scikit-learn error both work.
    """


class ReportError(RuntimeError):
    """A report run failed: the message names the notebook, the cell and the error.

    The parts of the message are kept as fields for code that reacts to the
    failure; ``str()`` stays the one-line message. A field is ``None`` where
    it does not apply (a failure outside any notebook, or outside a cell).

    Attributes
    ----------
    notebook: the failing notebook's stem (``"05_clv_models"``), or ``None``.
    cell: the 1-based index of the failing cell in the source notebook, or ``None``.
    ename: the exception class name raised in the cell (``"ValueError"``), or ``None``.
    evalue: that exception's message, or ``None``.
    """

    def __init__(self, message: str, *, notebook: str | None = None, cell: int | None = None,
                 ename: str | None = None, evalue: str | None = None) -> None:
        super().__init__(message)
        self.notebook = notebook
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
