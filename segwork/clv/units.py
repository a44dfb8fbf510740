"""Durations and rates between the time units of the CLV models: days, weeks and months.

The models of :mod:`segwork.clv` are fitted in the time unit of their inputs
(``"weeks"`` or ``"days"``, :data:`segwork.features.TIME_UNITS`); horizons are
given in months, and a month is ``365.25 / 12 = 30.4375`` days
(:data:`segwork.clv.value.DAYS_PER_MONTH`, the average Gregorian month), as
everywhere in segwork.
"""
from __future__ import annotations

from ..errors import DataError
from ..features.rfm import TIME_UNITS
from .value import DAYS_PER_MONTH

__all__ = ["DAYS_PER_UNIT", "convert_duration", "convert_rate"]

#: Days per time unit: ``days`` 1, ``weeks`` 7, ``months`` 30.4375.
DAYS_PER_UNIT = {**TIME_UNITS, "months": DAYS_PER_MONTH}


def _days(unit: str, where: str) -> float:
    try:
        return DAYS_PER_UNIT[unit]
    except (KeyError, TypeError):
        raise DataError(f"{where}: time unit {unit!r} is not known; use one of "
                        f"{', '.join(repr(u) for u in DAYS_PER_UNIT)}") from None


def convert_duration(amount, from_unit: str, to_unit: str):
    """``amount`` of ``from_unit`` expressed in ``to_unit``: ``amount * (days per from_unit / days per to_unit)``.

    E.g. ``convert_duration(1, "months", "weeks")`` is 4.348 weeks (30.4375 /
    7), ``convert_duration(12, "months", "days")`` 365.25 days. ``amount``: a
    number or an array or Series (returned with the same shape).
    Raises DataError for a unit not in :data:`DAYS_PER_UNIT`.
    """
    return amount * (_days(from_unit, "convert_duration") / _days(to_unit, "convert_duration"))


def convert_rate(rate, from_unit: str, to_unit: str):
    """A rate per ``from_unit`` expressed per ``to_unit``: ``rate * (days per to_unit / days per from_unit)``.

    E.g. 0.5 purchases per week is ``convert_rate(0.5, "weeks", "days")`` =
    0.0714 purchases per day. ``rate``: a number, an array or a Series.
    Raises DataError for a unit not in :data:`DAYS_PER_UNIT`.
    """
    return rate * (_days(to_unit, "convert_rate") / _days(from_unit, "convert_rate"))
