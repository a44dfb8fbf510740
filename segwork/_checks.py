"""Input checks shared by the public functions (boundary checks: what, where, how to fix)."""
from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Iterable

import pandas as pd
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

from .errors import DataError, NotFittedError

#: The release that removes the old names kept working by :func:`renamed_keywords` (deprecated in 0.2).
RENAMED_REMOVED_IN = "0.3"


def check_level(where: str, value, name: str = "interval", example: float = 0.9) -> float:
    """``value`` as a float coverage level strictly between 0 and 1; DataError naming ``where`` and ``name``."""
    try:
        level = float(value)
    except (TypeError, ValueError):
        level = float("nan")
    if not (0.0 < level < 1.0):
        raise DataError(f"{where}: {name} must be a coverage level strictly between 0 and 1 (e.g. {example}), "
                        f"got {value!r}")
    return level


def require_columns(frame, columns: Iterable[str], where: str, hint: str = "", *, what: str = "table") -> pd.DataFrame:
    """Check that ``frame`` is a DataFrame holding every one of ``columns``; return it unchanged.

    Parameters
    ----------
    frame: the input to check.
    columns: the column names it must have.
    where: the function (or method) being called, named first in the message.
    hint: how to get a right input (e.g. which segwork function builds it); appended to the message.
    what: what the input is, in words ("transactions", "summary", "customer table").

    Raises
    ------
    DataError
        ``frame`` is not a DataFrame, or lacks some of ``columns``: the message
        names ``where``, the missing columns, the columns present and ``hint``.
    """
    fix = f"; {hint}" if hint else ""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{where}: expected the {what} as a pandas DataFrame, got {type(frame).__name__}{fix}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        verb = "lack" if what.endswith("s") else "lacks"  # "the transactions lack", "the summary lacks"
        raise DataError(f"{where}: the {what} {verb} column(s) {missing} "
                        f"(columns: {', '.join(map(str, frame.columns))}){fix}")
    return frame


def check_fitted(estimator, attributes: str | Iterable[str] | None = None, call: str = "fit(...)") -> None:
    """Raise :class:`~segwork.errors.NotFittedError` unless ``estimator`` is fitted.

    Built on :func:`sklearn.utils.validation.check_is_fitted`: fitted means it
    has ``attributes`` (default: any attribute ending in ``_``). The message
    names the class and says what to call (``call``, e.g. ``"fit(table)"``).
    """
    try:
        check_is_fitted(estimator, attributes)
    except _SklearnNotFittedError:
        raise NotFittedError(f"This {type(estimator).__name__} is not fitted yet; call {call} first.") from None


def check_number(where: str, name: str, value, *, low: float | None = None, high: float | None = None,
                 integer: bool = False, unit: str = "", low_open: bool = False) -> float:
    """``value`` as a finite float within ``[low, high]`` (``(low, high]`` with ``low_open``); else DataError.

    The message names ``where``, the parameter ``name``, the value given and the
    limits (with ``unit``, e.g. ``"months"``). NaN and infinities are always
    refused; ``integer=True`` also refuses fractions and booleans. Returns the
    value as a float (an int when ``integer``).
    """
    unit_text = f" {unit}" if unit else ""
    in_unit = f" ({unit})" if unit else ""
    shown = _plain(value)
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {name}={shown} is not a number; give a finite number{in_unit}") from None
    if not math.isfinite(number):
        raise DataError(f"{where}: {name}={shown} is not a finite number (NaN and infinity are refused); give a finite number{in_unit}")
    if integer and number != int(number):
        raise DataError(f"{where}: {name}={shown} must be a whole number{in_unit}")
    if low is not None and (number <= low if low_open else number < low):
        raise DataError(f"{where}: {name}={shown} is below the limit: it must be "
                        f"{'>' if low_open else '>='} {_plain(low)}{unit_text}")
    if high is not None and number > high:
        raise DataError(f"{where}: {name}={shown} is over the limit of {_plain(high)}{unit_text}")
    return int(number) if integer else number


def _plain(value) -> str:
    """A number as plain text (``nan``, ``1e+30``, ``12``), not a repr such as ``np.float64(nan)``."""
    try:
        if isinstance(value, bool):
            return repr(value)
        number = float(value)
    except (TypeError, ValueError):
        return repr(value)
    if not math.isfinite(number):
        return f"{number:g}"
    if number == int(number):
        return f"{int(number):d}" if abs(number) < 1e16 else f"{number:g}"
    return repr(number)


def warn_renamed(where: str, old: str, new: str, *, kind: str = "keyword", stacklevel: int = 3) -> None:
    """Warn (:class:`FutureWarning`) that ``old`` is the deprecated name of ``new`` in ``where``.

    The one wording of every rename of issue 18 ("one name per idea"), used by
    :func:`renamed_keywords` and by the command line and the report runner for
    their deprecated flags and parameters (``kind``: "keyword", "flag",
    "report parameter"). ``FutureWarning``, as scikit-learn does for
    deprecations users meet: Python shows it by default, also in a notebook
    and on the command line, where a ``DeprecationWarning`` raised in library
    code is hidden. ``stacklevel`` points the warning at the caller's line.
    """
    warnings.warn(f"{where}: the {kind} {old!r} was renamed {new!r}; {old!r} still works but is deprecated "
                  f"and will be removed in segwork {RENAMED_REMOVED_IN}; use {new!r}",
                  FutureWarning, stacklevel=stacklevel)


def renamed_keywords(**renames: str):
    """Decorator: keep old keyword names working for one release, mapped to their new names.

    ``@renamed_keywords(seed="random_state")`` on a function whose signature
    has ``random_state``: a call with ``seed=`` warns (:func:`warn_renamed`,
    a :class:`FutureWarning` naming both names and the release that removes
    the old one) and runs as with ``random_state=``, so it gives identical
    results. A call with both raises :class:`TypeError`, as Python does for
    a keyword given twice. On a class (e.g. a dataclass) the decorator wraps
    ``__init__``: the old name is accepted by the constructor only, so
    ``get_params``/``clone`` and the fields know only the new name.

    The wrapper keeps the function's name, docstring and signature
    (:func:`functools.wraps`): :func:`inspect.signature` shows the new names
    only. Raises TypeError at decoration time when a new name is not a
    parameter of the function, or an old name still is.
    """
    def decorate(obj):
        if isinstance(obj, type):
            obj.__init__ = _wrap(obj.__init__, f"{obj.__name__}()", renames)
            return obj
        return _wrap(obj, f"{obj.__qualname__}()", renames)
    return decorate


def _wrap(func, where: str, renames: dict[str, str]):
    params = inspect.signature(func).parameters
    for old, new in renames.items():
        if new not in params or old in params:
            raise TypeError(f"renamed_keywords({old}={new!r}) on {where}: {new!r} must be a parameter "
                            f"and {old!r} must not be one")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for old, new in renames.items():
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{where} got both {old!r} and {new!r}; {old!r} is the deprecated name of "
                                    f"{new!r}: give only {new!r}")
                warn_renamed(where, old, new)
                kwargs[new] = kwargs.pop(old)
        return func(*args, **kwargs)

    wrapper.renamed_keywords = dict(renames)
    return wrapper
