"""Dates: one form and one day/month convention per column, decided from the values that prove it.

Dates are decided per column, on the column's unique values, and then parsed
vectorised by pandas with an explicit format per form: ISO 8601 (with or
without time, ``T``, ``Z``, fractions, offsets), ``D/M/Y`` or ``M/D/Y`` with
``/ . -`` and two- or four-digit years, ``Y/M/D``, ``D-Mon-Y``, ``YYYYMMDD``
numbers, Excel serial day numbers, Unix epoch seconds or milliseconds and true
datetime cells. Whatever is decided is recorded in the cleaning report.
"""
from __future__ import annotations

import datetime as _dt
import re

import numpy as np
import pandas as pd

from ..errors import DataError
from .messages import plain_value
from .report import Decision

__all__ = ["parse_dates"]


_OFFSET = re.compile(r"(:\d{2}(?:[.,]\d+)?)\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2})$")
_TIME = r"(?:(?P<tsep>[ T]+)(?P<t>\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[AaPp][Mm])?))?"
_NUMERIC_DMY = re.compile(r"^(?P<a>\d{1,2})(?P<s>[/.\-])(?P<b>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})" + _TIME + "$")
_YMD = re.compile(r"^(?P<y>\d{4})(?P<s>[/.])(?P<a>\d{1,2})(?P=s)(?P<b>\d{1,2})" + _TIME + "$")
_MONTH_FIRST_NAME = re.compile(r"^(?P<b>[A-Za-z]{3,9}) (?P<a>\d{1,2})(?P<s>,?) (?P<y>\d{4})" + _TIME + "$")
_MONTH_NAME = re.compile(r"^(?P<a>\d{1,2})(?P<s>[ \-./])(?P<b>[A-Za-z]{3,9})(?P=s)(?P<y>\d{4}|\d{2})" + _TIME + "$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")

#: numeric date forms: name -> (lowest, highest) value, inclusive
_NUMERIC_FORMS = {
    "YYYYMMDD integers": (1900_01_01, 2100_12_31),
    "Excel serial day numbers (1900 date system)": (10_000, 100_000),  # 1927-05-18 .. 2173-10-14
    "Unix time in seconds (UTC)": (1e8, 1e10),  # 1973 .. 2286
    "Unix time in milliseconds (UTC)": (1e11, 1e13),
}


def _time_format(t: str, tsep: str) -> str:
    """strftime format of one time part, e.g. ``'14:15:00.5'`` -> ``' %H:%M:%S.%f'``."""
    if not t:
        return ""
    ampm = re.search(r"\s?[AaPp][Mm]$", t)
    core = t[: ampm.start()] if ampm else t
    fmt = "%H:%M" if core.count(":") == 1 else "%H:%M:%S"
    frac = re.search(r"([.,])\d+$", core)
    if frac:
        fmt += frac.group(1) + "%f"
    if ampm:
        fmt = fmt.replace("%H", "%I") + (" %p" if ampm.group(0).startswith(" ") else "%p")
    return (tsep if tsep.strip() else " ") + fmt


def _parse_by_groups(parts: pd.DataFrame, date_fmt) -> pd.Series:
    """Parse ``parts['text']`` with one explicit format per (date form, time form) group."""
    tsep = parts["tsep"].fillna("")
    tkey = parts["t"].fillna("").str.replace(r"\d", "9", regex=True)
    key = parts["s"] + "|" + parts["y"].str.len().astype(str) + "|" + tsep + "|" + tkey
    if "b" in parts and parts["b"].dtype == object:
        key = key + "|" + parts["b"].str.len().astype(str).where(parts["b"].str.isalpha(), "")
    out = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[us]")
    for k, idx in key.groupby(key).groups.items():
        first = parts.loc[idx[0]]
        fmt = date_fmt(first) + _time_format(first["t"] if isinstance(first["t"], str) else "",
                                             first["tsep"] if isinstance(first["tsep"], str) else "")
        out.loc[idx] = pd.to_datetime(parts.loc[idx, "text"], format=fmt, errors="coerce").astype("datetime64[us]")
    return out


def _parse_date_strings(u: pd.Series, dayfirst: bool | None, column: str, source: str,
                        decisions: list) -> pd.Series:
    """Parse unique date strings (no missing values); returns datetime64 aligned with ``u``."""
    def drop_offsets(text: pd.Series) -> pd.Series:
        offsets = text.str.extract(_OFFSET)[1]
        if offsets.notna().any():
            seen = sorted(offsets.dropna().unique())
            decisions.append(Decision(column, "time zone", "UTC offsets dropped after parsing: the local "
                                      "calendar day and wall-clock time as written are kept",
                                      f"offsets {', '.join(seen[:4])}{' ...' if len(seen) > 4 else ''}"))
            text = text.str.replace(_OFFSET, r"\1", regex=True)
        return text

    u = u.str.strip()
    try:  # the common case, ISO 8601 in one time zone or none, in one vectorised pass
        iso = pd.to_datetime(u, format="ISO8601", errors="coerce")
    except ValueError:  # offsets that change (daylight-saving time, several zones)
        u = drop_offsets(u)
        iso = pd.to_datetime(u, format="ISO8601", errors="coerce")
    out = pd.Series(iso.to_numpy(), index=u.index) if getattr(iso.dt, "tz", None) is None else None
    if out is None:  # one offset throughout: keep the wall-clock time as written
        u = drop_offsets(u)
        out = pd.Series(pd.to_datetime(u, format="ISO8601", errors="coerce").to_numpy(), index=u.index)
    out = out.astype("datetime64[us]")
    rest = u[out.isna()]
    if rest.empty:
        return out
    stripped = drop_offsets(rest)
    if not stripped.equals(rest):  # e.g. '2014-03-08 10:00:00 UTC', '08/03/2014 10:00 +0100'
        u = u.copy()
        u[stripped.index] = stripped
        out[stripped.index] = pd.to_datetime(stripped, format="ISO8601", errors="coerce").astype("datetime64[us]")
        rest = u[out.isna()]
        if rest.empty:
            return out

    numeric = rest.str.extract(_NUMERIC_DMY)
    numeric["text"] = rest
    numeric = numeric[numeric["a"].notna()]
    if not numeric.empty:
        a, b = numeric["a"].astype(int), numeric["b"].astype(int)
        day_proof, month_proof = numeric["text"][(a > 12) & (b <= 12)], numeric["text"][(b > 12) & (a <= 12)]
        if dayfirst is None:
            if len(day_proof) and len(month_proof):
                raise DataError(
                    f"{source}: column {column!r} mixes day-first and month-first dates: "
                    f"{day_proof.iloc[0]!r} can only be day-first, {month_proof.iloc[0]!r} only month-first; "
                    "fix the file, or pass the convention with date_format= / dayfirst= "
                    "(CLI: --date-format '%d/%m/%Y' or --dayfirst)"
                )
            if len(day_proof) or len(month_proof):
                dayfirst = bool(len(day_proof))
                proof = (day_proof if dayfirst else month_proof).iloc[0]
                evidence = f"{proof!r} proves it; {len(day_proof) or len(month_proof):,} value(s) like it"
            else:
                dayfirst = bool((numeric["s"] == ".").all())
                evidence = ("ASSUMED: no value has a field above 12"
                            + (" ('.' separators are written day-first)" if dayfirst else "")
                            + "; pass dayfirst= / --dayfirst or date_format= if this is wrong")
        else:
            evidence = "given by dayfirst="
        decisions.append(Decision(column, "date convention", "day-first (D/M/Y)" if dayfirst else
                                  "month-first (M/D/Y)", evidence))
        if (numeric["y"].str.len() == 2).any():
            decisions.append(Decision(column, "two-digit years", "69-99 read as 19xx, 00-68 as 20xx",
                                      f"e.g. {numeric['text'][numeric['y'].str.len() == 2].iloc[0]!r}"))
        order = ("%d", "%m") if dayfirst else ("%m", "%d")
        out.loc[numeric.index] = _parse_by_groups(
            numeric, lambda r: f"{order[0]}{r['s']}{order[1]}{r['s']}{'%Y' if len(r['y']) == 4 else '%y'}")
        rest = u[out.isna()]

    for pattern, date_fmt in (
        (_YMD, lambda r: f"%Y{r['s']}%m{r['s']}%d"),
        (_MONTH_NAME, lambda r: f"%d{r['s']}{'%b' if len(r['b']) == 3 else '%B'}{r['s']}"
                                f"{'%Y' if len(r['y']) == 4 else '%y'}"),
        (_MONTH_FIRST_NAME, lambda r: f"{'%b' if len(r['b']) == 3 else '%B'} %d{r['s']} %Y"),
    ):
        if rest.empty:
            break
        parts = rest.str.extract(pattern)
        parts["text"] = rest
        parts = parts[parts["s"].notna()]
        if not parts.empty:
            out.loc[parts.index] = _parse_by_groups(parts, date_fmt)
            rest = u[out.isna()]
    return out


def _parse_numeric_dates(x: pd.Series, column: str, source: str, decisions: list) -> pd.Series:
    """Numbers that are dates: YYYYMMDD, Excel serials, Unix seconds / milliseconds."""
    x = pd.to_numeric(x, errors="coerce").astype("float64")
    ok = x.dropna()
    if ok.empty:
        return pd.Series(pd.NaT, index=x.index, dtype="datetime64[us]")
    forms = {name for name, (lo, hi) in _NUMERIC_FORMS.items() if ((ok >= lo) & (ok <= hi)).any()}
    inside = pd.Series(False, index=ok.index)
    for name in forms:
        lo, hi = _NUMERIC_FORMS[name]
        inside |= (ok >= lo) & (ok <= hi)
    if len(forms) != 1 or not inside.all():
        odd = ok[~inside].iloc[0] if not inside.all() else ok.iloc[0]
        raise DataError(
            f"{source}: column {column!r} holds numbers that are not one date form segwork reads "
            f"(e.g. {plain_value(odd)!r}; forms found: {', '.join(sorted(forms)) or 'none'}; read are "
            f"{', '.join(_NUMERIC_FORMS)}); write the dates as text YYYY-MM-DD or pass date_format= "
            "(CLI: --date-format)"
        )
    form = forms.pop()
    if form.startswith("YYYYMMDD"):
        whole = x.where(x == np.floor(x))
        out = pd.to_datetime(whole.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce")
    elif form.startswith("Excel"):
        out = pd.to_datetime(x, unit="D", origin="1899-12-30", errors="coerce")
    elif "milliseconds" in form:
        out = pd.to_datetime(x, unit="ms", errors="coerce")
    else:
        out = pd.to_datetime(x, unit="s", errors="coerce")
    decisions.append(Decision(column, "date form", f"read as {form}", f"e.g. {ok.iloc[0]:.15g} -> "
                              f"{out[ok.index[0]]}"))
    return out.astype("datetime64[us]")


def _iso_fast_path(values: pd.Series) -> pd.Series | None:
    """The common case in one vectorised pass: every value ISO 8601, no time zone. Else ``None``."""
    head = values.iloc[:1000].dropna()
    try:
        if head.empty or pd.to_datetime(head, format="ISO8601", errors="coerce").isna().any():
            return None
        parsed = pd.to_datetime(values, format="ISO8601", errors="coerce")
    except ValueError:  # offsets that change: the careful path drops them
        return None
    if getattr(parsed.dt, "tz", None) is not None or (parsed.isna() & values.notna()).any():
        return None
    return parsed


def parse_dates(values: pd.Series, fmt: str | None, dayfirst: bool | None, *, column: str = "date",
                source: str = "<DataFrame>", decisions: list | None = None) -> pd.Series:
    """Parse one date column with one convention, decided on its unique values.

    ``values``: a Series of text, numbers, datetime cells or a mix (Excel);
    ``fmt``: an explicit ``strftime`` format or ``None`` to decide; ``dayfirst``:
    ``None`` to decide from the values that prove it. Each decision is
    appended to ``decisions`` as a :class:`~segwork.io.Decision` about ``column``.

    Returns naive ``datetime64`` (offsets dropped, local wall-clock time kept)
    on the index of ``values``;
    values that fit no form are ``NaT`` (the ``unparseable_date`` rule then
    applies). Raises :class:`DataError` for a column that mixes day-first and
    month-first values, for numbers that are no date form, and for a column
    where most values are in a form segwork does not read.
    """
    decisions = [] if decisions is None else decisions
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            decisions.append(Decision(column, "time zone", f"time zone {values.dt.tz} dropped: wall-clock time kept",
                                      "datetime values with a time zone"))
            values = values.dt.tz_localize(None)
        return values
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "empty":
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if kind in ("integer", "floating", "mixed-integer-float", "decimal") and fmt is None:
        return _parse_numeric_dates(values, column, source, decisions)
    if kind not in ("string", "integer", "floating", "mixed-integer-float", "decimal"):
        # Excel: true datetime cells, numbers (serials) and text in one column
        is_dt = values.map(lambda v: isinstance(v, (_dt.date, np.datetime64)))
        is_num = values.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)) & values.notna()
        out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
        if is_dt.any():
            cells = pd.to_datetime(values[is_dt], errors="coerce", utc=False)
            if getattr(cells.dt, "tz", None) is not None:
                cells = cells.dt.tz_localize(None)
            out[is_dt] = cells.astype("datetime64[us]")
        if is_num.any():
            out[is_num] = _parse_numeric_dates(values[is_num], column, source, decisions)
        text = values.notna() & ~is_dt & ~is_num
        if text.any():
            out[text] = parse_dates(values[text].astype(str), fmt, dayfirst, column=column, source=source,
                                    decisions=decisions)
        return out

    if fmt is not None and kind != "string":  # numbers with an explicit format, e.g. 20140308.0 and '%Y%m%d'
        number = pd.to_numeric(values, errors="coerce")
        whole = number.where(number == np.floor(number))
        values = whole.astype("Int64").astype("string").astype(object).where(whole.notna(), None)
    if fmt is None and kind == "string":
        fast = _iso_fast_path(values)
        if fast is not None:
            return fast
    codes, uniques = pd.factorize(values)
    u = pd.Series(uniques, dtype=object).astype(str)
    if fmt is not None:
        if "%z" in fmt or "%Z" in fmt:
            fmt = re.sub(r"\s*%[zZ]", "", fmt)
            u = u.str.strip().str.replace(_OFFSET, r"\1", regex=True)
            decisions.append(Decision(column, "time zone", "UTC offsets dropped after parsing: local time kept",
                                      f"date_format={fmt!r}"))
        parsed = pd.Series(pd.to_datetime(u.str.strip(), format=fmt, errors="coerce").to_numpy(), index=u.index)
        decisions.append(Decision(column, "date format", f"{fmt!r}", "given by date_format="))
    else:
        sample = u.head(200).str.strip()
        if sample.str.match(_NUMBER).all():
            parsed = _parse_numeric_dates(u, column, source, decisions)
        else:
            parsed = _parse_date_strings(u, dayfirst, column, source, decisions)
        failed = u[parsed.isna()]
        if len(failed) and len(values):
            failed_rows = int(np.isin(codes, failed.index.to_numpy()).sum())
            if failed_rows * 2 > int((codes >= 0).sum()):
                raise DataError(
                    f"{source}: column {column!r}: {failed_rows:,} of {int((codes >= 0).sum()):,} values are in "
                    f"no date form segwork reads, e.g. {failed.iloc[0]!r} (read are ISO 8601, D/M/Y or M/D/Y "
                    "with / . -, Y/M/D, D-Mon-Y, Mon D, Y, YYYYMMDD, Excel serials, Unix time); pass date_format= "
                    "(CLI: --date-format, e.g. '%B %d, %Y')"
                )
    result = np.asarray(parsed.to_numpy(dtype="datetime64[us]"))
    taken = result[np.where(codes >= 0, codes, 0)] if len(result) else np.full(len(codes), np.datetime64("NaT", "us"))
    taken[codes < 0] = np.datetime64("NaT")
    return pd.Series(taken, index=values.index)
