"""Numbers and ids: decimal and thousands marks, currencies, and ids written in scientific notation.

Decimal and thousands marks are decided per column on its unique values:
three digits after a mark can be a thousands group; any other count of digits
after a mark makes it the decimal mark; a value with both marks proves both
(the last one is the decimal). Spaces and apostrophes between digit groups are
thousands separators; currency symbols and codes are removed; ``(12,50)`` and
``12,50-`` are negative. The strings are then converted vectorised.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import DataError
from .report import Decision

__all__ = ["to_number", "decimal_hint", "check_one_currency", "SCIENTIFIC_ID", "scientific_id_error",
           "check_ids_written_out", "to_id", "id_codes"]


#: The texts read as a missing value (nothing else is, not even pandas' defaults): a CSV file's cells
#: (``na_values``; DuckDB's ``nullstr``, Dask's ``na_values``) and, once stripped, the ids of any source
#: (:func:`to_id`; a DataFrame or Parquet file holding the text ``"NA"`` as an id has no customer there,
#: as a CSV file has not).
CSV_NULL_STRINGS = ("", "NA", "N/A", "NaN", "nan", "NULL", "null", "None")


def decimal_hint(raw: pd.DataFrame, numeric: list[str], sep: str | None) -> tuple[str, str] | None:
    """The decimal mark the file's other evidence points to, for columns that prove none, and why.

    ``raw``: the raw frame (text cells); ``numeric``: its number columns
    (canonical names); ``sep``: the file's delimiter or ``None``. Returns
    ``(mark, reason)`` for :func:`to_number`'s ``hint``. A mark proven by the
    number columns (all agreeing) wins; else a ``;`` delimiter points to the
    decimal comma; else ``None`` (no evidence). Never raises.
    """
    proven = {}
    for col in numeric:
        values = raw[col]
        if pd.api.types.is_numeric_dtype(values):
            continue
        uniques = pd.Series(pd.unique(values.dropna()), dtype=object).astype(str)
        mark = _Marks(_normalise_number_text(uniques)[0]).proven_decimal()
        if mark:
            proven.setdefault(mark, col)
    if len(proven) == 1:
        mark, col = proven.popitem()
        return mark, f"column {col!r} proves this decimal mark"
    return (",", "the ';' delimiter points to a decimal comma") if sep == ";" else None


#: An id that Excel wrote in scientific notation ("1.23457E+11"): the digits after the sixth are lost.
SCIENTIFIC_ID = r"[+-]?\d(?:[.,]\d+)?[eE][+-]\d{1,3}"


def scientific_id_error(source: str, column: str, value: str, rows: int) -> DataError:
    """The one-line refusal of an id column that holds ids in scientific notation (shared by every engine)."""
    return DataError(
        f"{source}: column {column!r} holds ids in scientific notation, e.g. {value!r} ({rows:,} row(s)): "
        "Excel writes long numbers that way when it saves a CSV, which loses digits, so different customers "
        "would merge into one; export the ids as text (format the id column as Text before saving, or open the "
        "file with Data > From Text/CSV and set the column to Text) and read the new file"
    )


def check_ids_written_out(values: pd.Series, column: str, source: str) -> None:
    """Refuse text ids in scientific notation: ``1.23457E+11`` stands for many ids, ``1.23E+05`` for 123000.

    ``values``: one raw id column (numeric columns are not checked). Raises
    :func:`scientific_id_error` (a :class:`~segwork.DataError`) naming
    ``source``, ``column``, the first such value and how many rows have one.
    """
    if pd.api.types.is_numeric_dtype(values):
        return
    codes, uniques = pd.factorize(values)
    _check_distinct_ids_written_out(codes, uniques, column, source)


def _check_distinct_ids_written_out(codes: np.ndarray, uniques, column: str, source: str) -> None:
    """:func:`check_ids_written_out` on a factorized column (``uniques[codes]`` is the column).

    Each distinct id is checked once; the rows of the ids that fail are found with their codes.
    """
    u = pd.Series(uniques)
    if not (isinstance(u.dtype, pd.StringDtype) or (u.dtype == object and len(u) and u.map(type).eq(str).all())):
        u = u[u.map(lambda v: isinstance(v, str))]
    if not len(u):
        return
    u = u[u.astype("string").str.contains("e", case=False, regex=False).fillna(False).to_numpy(dtype=bool)]
    if not len(u):  # no id has the exponent's 'e'
        return
    text = u.astype("string").str.strip()
    sci = text.str.fullmatch(SCIENTIFIC_ID).fillna(False).to_numpy(dtype=bool)
    if sci.any():
        rows = np.isin(codes, u.index.to_numpy()[sci])
        first = codes[int(np.argmax(rows))]  # the first row's id names the problem
        raise scientific_id_error(source, column, text[first], int(rows.sum()))


#: Text ids of one width up to this many bytes are packed into one unsigned 64-bit number (see id_codes).
_PACKED_ID_BYTES = 8


def _packed_ids(values: pd.Series) -> tuple[np.ndarray, int] | None:
    """Arrow-backed text ids all of one width ``w <= 8`` bytes as ``(uint64 numbers, w)``, else ``None``.

    The bytes of an id, first byte most significant, make its number: as all
    ids have the same width, equal ids give equal numbers and numeric order is
    the ids' text order (UTF-8 byte order is code point order), so hashing and
    sorting numbers stand for hashing and sorting the texts. Refused
    (``None``): other storage, a missing id, ids of different widths.
    """
    dtype = values.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or not len(values):
        return None
    import pyarrow as pa

    arrow = values.array.__arrow_array__()
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.chunk(0) if arrow.num_chunks == 1 else arrow.combine_chunks()
    if arrow.null_count or arrow.type not in (pa.string(), pa.large_string()):
        return None
    offsets = np.frombuffer(arrow.buffers()[1], dtype=np.int32 if arrow.type == pa.string() else np.int64)
    offsets = offsets[arrow.offset:arrow.offset + len(arrow) + 1]
    width = int(offsets[1] - offsets[0])
    if not 0 < width <= _PACKED_ID_BYTES or not bool((np.diff(offsets) == width).all()):
        return None
    # 8 big-endian bytes from the start of each id (8 - w of them from the next id, or padding), shifted down
    text = np.zeros(int(offsets[-1] - offsets[0]) + 8, dtype=np.uint8)
    text[:-8] = np.frombuffer(arrow.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    numbers = np.ndarray((len(arrow),), dtype=">u8", buffer=text, strides=(width,)).astype(np.uint64)
    if width < 8:
        numbers >>= np.uint64(8 * (8 - width))
    return numbers, width


def _unpacked_ids(numbers: np.ndarray, width: int) -> pd.Index:
    """The ``str`` Index of the ids :func:`_packed_ids` packed into ``numbers`` (``uint64``) at ``width`` bytes."""
    import pyarrow as pa

    text = np.ascontiguousarray((numbers << np.uint64(8 * (8 - width))).astype(">u8").view(np.uint8)
                                .reshape(-1, 8)[:, :width])
    offsets = np.arange(len(numbers) + 1, dtype=np.int32) * np.int32(width)
    strings = pa.Array.from_buffers(pa.binary(), len(numbers), [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    strings = strings.cast(pa.string())  # checks the bytes are UTF-8 (they are: whole ids)
    return pd.Index(pd.Series(strings.to_pandas(types_mapper={pa.string(): dtype}.get)), dtype=str)


def _distinct(values: pd.Series) -> tuple[np.ndarray, object, bool]:
    """``(codes, uniques, is_sorted)`` of an id column: ``uniques[codes]`` is the column, code ``-1`` a missing id.

    Ids that :func:`_packed_ids` packs are hashed as numbers (pyarrow's
    dictionary encoding) and come out sorted; any other column goes to
    :func:`pandas.factorize` (pyarrow's dictionary encoding for Arrow-backed
    text), uniques in order of appearance.
    """
    packed = _packed_ids(values)
    if packed is None:
        codes, uniques = pd.factorize(values)
        return codes, uniques, False
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers, width = packed
    encoded = pc.dictionary_encode(pa.array(numbers))  # measured 3x faster than pandas.factorize on uint64
    codes, numbers = encoded.indices.to_numpy(), encoded.dictionary.to_numpy()
    order = np.argsort(numbers)
    rank = np.empty(len(order), dtype=codes.dtype)
    rank[order] = np.arange(len(order), dtype=codes.dtype)
    return rank[codes], _unpacked_ids(numbers[order], width), True


def id_codes(values: pd.Series, column: str, source: str) -> tuple[np.ndarray, pd.Index]:
    """An id column as integer codes into its distinct cleaned ids: ``(codes, ids)``.

    ``values``: one raw id column of ``n`` rows (text, numbers or both).
    Returns ``codes`` (integers, shape ``(n,)``; ``-1`` where the id is
    missing) and ``ids`` (``str`` Index, sorted, unique) such that
    ``ids[codes]`` equals :func:`to_id` of ``values`` (as ``str``) row by row.
    Raises :func:`scientific_id_error` as :func:`check_ids_written_out` does.

    Each distinct raw value is hashed once and then checked and cleaned once,
    not once per row: :func:`pandas.factorize` (pyarrow's dictionary encoding
    for Arrow-backed text), or for Arrow-backed ids of one width up to 8 bytes
    (``C0012345``) a hash and a sort of the ids packed as 64-bit numbers
    (:func:`_packed_ids`; measured faster than hashing and sorting the texts).
    An object column that mixes text with other objects (``True`` and ``1``
    hash alike) is cleaned row by row first.
    """
    mixed = values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) != "string"
    is_sorted = False
    if not mixed:
        codes, uniques, is_sorted = _distinct(values)
        if not pd.api.types.is_numeric_dtype(values):
            _check_distinct_ids_written_out(codes, uniques, column, source)
        cleaned = to_id(pd.Series(uniques))
    else:
        check_ids_written_out(values, column, source)
        codes, uniques = pd.factorize(to_id(values))
        cleaned = pd.Series(uniques, dtype="string")
    present = cleaned.notna().to_numpy()
    ids = pd.Index(cleaned[present].astype(str), dtype=str)
    if present.all() and bool((pd.Series(ids) == pd.Series(uniques, dtype=str)).all()):
        # no id changed by cleaning: the distinct raw ids are the distinct cleaned ids, only to be sorted
        if is_sorted or ids.is_monotonic_increasing:
            return codes, ids
        order = ids.argsort()
        rank = np.empty(len(ids), dtype=np.intp)
        rank[order] = np.arange(len(ids))
        return np.append(rank, -1)[codes], ids[order]
    ids = ids.unique().sort_values()
    to_code = np.full(len(cleaned) + 1, -1, dtype=np.intp)  # the last slot answers code -1 (missing)
    to_code[:-1][present] = ids.get_indexer(cleaned[present].astype(str))
    return to_code[codes], ids


def to_id(values: pd.Series) -> pd.Series:
    """Customer / invoice ids as strings; ``13085.0`` from spreadsheets becomes ``13085``.

    Returns a ``string`` Series on the index of ``values``: text stripped,
    whole floats written without ``.0``, blank text and the texts of
    :data:`CSV_NULL_STRINGS` (``"NA"``, ``"null"`` ...) as missing, as a CSV
    file reads them. Never raises.
    """
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.floor(whole)).all():
            out = values.astype("Int64").astype("string")
            return out
    text = values.astype("string").str.strip()
    dotted = text.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
    if dotted.any():  # only a text with a '.' can be a whole float (the replacement runs in Python per value)
        text[dotted] = text[dotted].str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.mask(text.isin(CSV_NULL_STRINGS))


_CURRENCY = re.compile(r"^(?:[A-Z]{1,3}\$|[A-Z]{3}|Fr\.|kr\.?|zł|Kč)\s*|\s*(?:[A-Z]{3}|Fr\.|kr\.?|zł|Kč)$"
                       r"|[€$£¥₹₽¤]")
_GROUP_SPACE = re.compile(r"(?<=\d)[ \u00a0\u202f'’](?=\d{3}(?:\D|$))")


class _Marks:
    """The evidence about decimal and thousands marks in one column."""

    def __init__(self, u: pd.Series):
        self.proof, self.ambiguous = {}, {}
        both = {}
        for mark, other in ((".", ","), (",", ".")):
            # both marks, well grouped: the last (``mark``) is the decimal, ``other`` groups thousands
            both[mark] = u.str.match(rf"^\d{{1,3}}(?:{re.escape(other)}\d{{3}})+{re.escape(mark)}\d*$")
        for mark, other in ((".", ","), (",", ".")):
            m = re.escape(mark)
            once = u.str.match(rf"^\d*{m}\d*$") & u.str.contains(r"\d")
            # a possible thousands group: 3 digits after 1-3 digits not starting with 0 ('0.250' is a decimal)
            group = u.str.match(rf"^[1-9]\d{{0,2}}{m}\d{{3}}$")
            several = u.str.match(rf"^\d{{1,3}}(?:{m}\d{{3}}){{2,}}$")
            self.proof[("decimal", mark)] = u[both[mark] | (once & ~group)]
            self.proof[("thousands", mark)] = u[several | both[other]]
            self.ambiguous[mark] = u[group]

    def proven_decimal(self) -> str | None:
        for mark in (".", ","):
            other = "," if mark == "." else "."
            if len(self.proof[("decimal", mark)]) or len(self.proof[("thousands", other)]):
                return mark
        return None

    def contradiction(self) -> tuple[str, str] | None:
        says_dot = pd.concat([self.proof[("decimal", ".")], self.proof[("thousands", ",")]])
        says_comma = pd.concat([self.proof[("decimal", ",")], self.proof[("thousands", ".")]])
        if len(says_dot) and len(says_comma):
            return says_dot.iloc[0], says_comma.iloc[0]
        return None

    def first_proof_index(self, decimal: str):
        other = "," if decimal == "." else "."
        for key in (("decimal", decimal), ("thousands", other)):
            if len(self.proof[key]):
                return self.proof[key].index[0]
        return None


#: Currency marks -> the currency they stand for ("$" alone is taken as USD, like "US$" and "USD").
_CURRENCY_OF = {"€": "EUR", "$": "USD", "US$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB",
                "Fr.": "CHF", "zł": "PLN", "Kč": "CZK", "kr": "kr (SEK/NOK/DKK)", "kr.": "kr (SEK/NOK/DKK)"}


def check_one_currency(u: pd.Series, column: str, source: str) -> None:
    """Raise :class:`DataError` for a column whose values carry marks of more than one currency.

    ``u``: the column's distinct values as text, in file order. Amounts in
    different currencies cannot be added up, and stripping the marks would
    do exactly that; the message names the file, the column, the currencies
    and two example values, and says to split the file (or convert).
    ``$``, ``US$`` and ``USD`` count as one currency. Shared by every engine.
    """
    marks = u.str.findall(_CURRENCY)
    first_of: dict[str, str] = {}
    for text, found in zip(u, marks):
        for mark in found:
            mark = mark.strip()
            currency = _CURRENCY_OF.get(mark, mark)
            first_of.setdefault(currency, text)
    if len(first_of) > 1:
        (c1, v1), (c2, v2) = list(first_of.items())[:2]
        raise DataError(
            f"{source}: column {column!r} holds amounts in {len(first_of)} currencies ({', '.join(first_of)}), "
            f"e.g. {v1!r} ({c1}) and {v2!r} ({c2}); amounts in different currencies cannot be added up: split "
            "the file by currency (or convert the amounts to one currency) and read each part on its own"
        )


def _normalise_number_text(u: pd.Series) -> tuple[pd.Series, pd.Series, bool]:
    """Strip currency, spaces and sign; returns (digits-and-marks text, negative mask, had currency)."""
    t = u.str.strip()
    currency = t.str.contains(_CURRENCY)
    had_currency = bool(currency.any())
    if had_currency:
        t = t.str.replace(_CURRENCY, "", regex=True).str.strip()
    t = t.str.replace("\u2212", "-", regex=False)
    paren = t.str.match(r"^\(.*\)$")
    trailing = t.str.match(r"^[^-]*\d-$")
    leading = t.str.startswith("-")
    t = t.str.replace(r"^\(|\)$", "", regex=True).str.replace(r"^[+-]|-$", "", regex=True).str.strip()
    t = t.str.replace(_CURRENCY, "", regex=True).str.strip() if had_currency else t
    t = t.str.replace(_GROUP_SPACE, "", regex=True)
    return t, (paren | trailing | leading), had_currency


def to_number(values: pd.Series, decimal: str | None = None, *, column: str = "amount",
              source: str = "<DataFrame>", hint=None, decisions: list | None = None) -> pd.Series:
    """Numbers written as text in any common local format -> float64 (NaN where not a number).

    ``values``: one raw number column (text, number cells or both); returns a
    ``float64`` Series on its index.

    ``decimal`` is the user's decimal mark (always honoured); otherwise the
    column's values decide, and a column without proof takes ``hint`` (mark,
    reason, or a function returning them: from the other columns or the
    file's delimiter), recorded in
    ``decisions``. Raises :class:`DataError` for a column that proves both
    marks decimal, or whose ``1.250``-like values no evidence can decide, for a ``decimal`` other than
    ``'.'`` / ``','``, and for marks of more than one currency (:func:`check_one_currency`).
    """
    decisions = [] if decisions is None else decisions
    if decimal is not None and decimal not in (".", ","):
        raise DataError(f"{source}: decimal={decimal!r} is not a decimal mark; use '.' or ','")
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):  # spreadsheet number cells
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind in ("mixed", "mixed-integer"):  # number cells and text cells: only the text needs deciding
        is_num = values.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
        out = pd.to_numeric(values.where(is_num), errors="coerce").astype("float64")
        text = ~is_num & values.notna()
        if text.any():
            out[text] = to_number(values[text].astype(str), decimal, column=column, source=source, hint=hint,
                                  decisions=decisions)
        return out
    codes, uniques = pd.factorize(values)
    u = pd.Series(uniques, dtype=object).astype(str)
    t, negative, had_currency = _normalise_number_text(u)
    if had_currency:
        check_one_currency(u, column, source)
    marks = _Marks(t)
    if decimal is None:
        clash = marks.contradiction()
        decimal = marks.proven_decimal()
        if clash:
            raise DataError(
                f"{source}: column {column!r} mixes decimal marks: {clash[0]!r} has a decimal point, "
                f"{clash[1]!r} a decimal comma; fix the file or pass decimal= (CLI: --decimal '.' or ',')"
            )
        if decimal is not None:
            proof = u[marks.first_proof_index(decimal)]
            decisions.append(Decision(column, "number format",
                                      f"decimal {decimal!r}, thousands {'.' if decimal == ',' else ','!r}",
                                      f"{proof!r} proves the decimal mark; the thousands mark is then the other"))
        else:
            ambiguous = marks.ambiguous["."] if len(marks.ambiguous["."]) else marks.ambiguous[","]
            if len(ambiguous):
                example = u[ambiguous.index[0]]
                hint = hint() if callable(hint) else hint
                if hint is None:
                    raise DataError(
                        f"{source}: column {column!r}: {example!r} can be a whole number with a thousands "
                        f"mark or a decimal, and no value in the file proves which ({len(ambiguous):,} such "
                        "value(s)); pass decimal= (CLI: --decimal ',' when '.' groups thousands, "
                        "--decimal '.' when it is the decimal point)"
                    )
                decimal, why = hint
                text = ambiguous.iloc[0]
                value = float(text.replace("," if decimal == "." else ".", "").replace(",", "."))
                decisions.append(Decision(
                    column, "number format",
                    f"ASSUMED decimal {decimal!r}: {example!r} read as {value:g}",
                    f"no value in the column proves the marks ({len(ambiguous):,} value(s) like {example!r}); "
                    + why + "; pass decimal= (CLI: --decimal) if wrong"))
            else:
                decimal = "."
    else:
        decisions.append(Decision(column, "number format", f"decimal {decimal!r}", "given by decimal="))
    if had_currency:
        decisions.append(Decision(column, "currency", "currency symbols / codes removed",
                                  f"e.g. {u[u.str.contains(_CURRENCY)].iloc[0]!r}"))
    thousands = "," if decimal == "." else "."
    d, th = re.escape(decimal), re.escape(thousands)
    valid = t.str.match(rf"^(?:\d{{1,3}}(?:{th}\d{{3}})+|\d+)?(?:{d}\d+)?(?:[eE][+-]?\d+)?$") & t.str.contains(r"\d")
    plain = t.str.replace(thousands, "", regex=False).str.replace(decimal, ".", regex=False)
    number = pd.to_numeric(plain.where(valid), errors="coerce").astype("float64")
    number = number.where(~negative, -number).to_numpy()
    taken = number[np.where(codes >= 0, codes, 0)] if len(number) else np.full(len(codes), np.nan)
    taken[codes < 0] = np.nan
    return pd.Series(taken, index=values.index, dtype="float64")
