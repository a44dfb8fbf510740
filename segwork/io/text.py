"""Text files: encoding, lines, delimiter, header line, and the raw frame of a CSV / TSV / CDNOW file.

The encoding comes from the byte-order mark (UTF-8, UTF-16, UTF-32), else
UTF-8, else cp1252; the delimiter is sniffed among ``, ; tab |`` (or
whitespace); the header is line 1, the given line, or the first line that
names the required columns when title lines stand above it. Files are only
ever read.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .layouts import (HEADER_SCAN_ROWS, REQUIRED_COLUMNS, canonical_names, check_duplicate_columns, detect_layout,
                      header_fits, header_hint)
from .messages import first_line
from .numbers import CSV_NULL_STRINGS
from .report import Decision

__all__ = ["CSV_NULL_STRINGS", "bom_encoding", "check_encoding_against_bom", "is_wide_encoding", "utf8_copy", "text_dialect",
           "text_lines", "read_text"]


_CDNOW_LINE = re.compile(r"^\s*\d+\s+(\d+\s+)?\d{8}\s+\d+\s+[\d.]+\s*$")


#: Byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(path: str | Path) -> str | None:
    """The encoding a text file's byte-order mark declares, or ``None`` when it has none.

    Returns a Python codec name: ``"utf-32"``, ``"utf-16"`` (Excel's "Unicode
    Text" export: UTF-16 LE with a BOM) or ``"utf-8-sig"``. Reads 4 bytes.
    The out-of-core engines use it to transcode UTF-16/32 files, which DuckDB's
    CSV reader does not read, through :func:`utf8_copy`.
    """
    with Path(path).open("rb") as fh:
        head = fh.read(4)
    return next((name for bom, name in _BOMS if head.startswith(bom)), None)


_BOM_NAMES = ((codecs.BOM_UTF32_LE, "UTF-32 LE", ("utf-32", "utf-32-le")),
              (codecs.BOM_UTF32_BE, "UTF-32 BE", ("utf-32", "utf-32-be")),
              (codecs.BOM_UTF8, "UTF-8", ("utf-8", "utf-8-sig")),
              (codecs.BOM_UTF16_LE, "UTF-16 LE", ("utf-16", "utf-16-le")),
              (codecs.BOM_UTF16_BE, "UTF-16 BE", ("utf-16", "utf-16-be")))


def check_encoding_against_bom(path: str | Path, encoding: str | None, head: bytes | None = None) -> None:
    """Raise :class:`DataError` when a given ``encoding`` contradicts the file's byte-order mark.

    A forced encoding overrides the mark, so ``encoding='latin-1'`` on Excel's
    "Unicode Text" (FF FE ...) reads NUL bytes everywhere; the message says
    which mark the file has and that the given encoding disagrees.
    """
    if not encoding:
        return
    if head is None:
        with Path(path).open("rb") as fh:
            head = fh.read(4)
    try:
        given = codecs.lookup(encoding).name
    except LookupError:
        return  # said elsewhere: unknown encoding
    for bom, label, agree in _BOM_NAMES:
        if head.startswith(bom):
            if given not in agree:
                raise DataError(f"{path}: the file starts with a {label} byte-order mark, but the given encoding "
                                f"{encoding!r} (--encoding {encoding}) disagrees; leave the encoding out (the mark "
                                f"decides it) or give {agree[0]}")
            return


def is_wide_encoding(encoding: str | None) -> bool:
    """True for UTF-16 / UTF-32 (any byte order): text with NUL bytes that DuckDB's CSV reader cannot read."""
    if not encoding:
        return False
    try:
        return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        return False


def utf8_copy(path: str | Path, folder: str | Path, encoding: str) -> Path:
    """Transcode the text file ``path`` from ``encoding`` into a UTF-8 file in ``folder``; returns its path.

    The same text, streamed in 1 MiB pieces (the input is only read). Used
    where a reader takes UTF-8 only (DuckDB) and the file is UTF-16/32.
    Raises :class:`DataError` naming the file when it is not valid ``encoding``.
    """
    path = Path(path)
    check_encoding_against_bom(path, encoding)
    target = Path(folder) / f"{len(list(Path(folder).iterdir()))}-{path.stem}.utf8{path.suffix}"
    try:
        with path.open("r", encoding=encoding, newline="") as src, target.open("w", encoding="utf-8",
                                                                                  newline="") as dst:
            while piece := src.read(1 << 20):
                dst.write(piece)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: is not valid {encoding} text ({first_line(exc)}); save it as UTF-8 CSV") from None
    return target


def text_dialect(path: str | Path, *, encoding: str | None = None, sep: str | None = None,
                 columns: Mapping[str, str] | None = None) -> tuple[str, str, int]:
    """``(encoding, sep, skip)`` of a CSV transaction file, decided as :func:`read_transactions` decides them.

    ``encoding``: a Python codec name, from the byte-order mark, else UTF-8,
    else cp1252; ``sep``: the delimiter sniffed among ``, ; tab |``; ``skip``:
    the number of lines (blank ones counted) above the header, 0 unless title
    lines stand above it (see ``header_row`` of :func:`read_transactions`).
    Given values are kept. Raises :class:`DataError` as ``read_transactions``
    does for a binary or empty file.
    """
    path = Path(path)
    encoding, lines, numbers = text_lines(path, encoding, whole_file=False)
    sep, skip, _header, _decision = _csv_header(path, lines, numbers, sep, "auto", columns, None)
    return encoding, sep, skip


def read_text(path, layout, sep, decimal, encoding, columns=None, header_row=None):
    """``(raw, layout)`` of a text file: every cell as text (missing: ``""``, ``NA``, ``NULL`` ...), and the
    layout found (``layout`` itself unless ``"auto"``).

    ``path``: a :class:`~pathlib.Path`; ``sep``, ``decimal``, ``encoding``,
    ``header_row``: as :func:`~segwork.io.read_transactions` takes them
    (``None`` decides). The raw frame's index keeps ``label + 2`` = the
    file's line number; its ``attrs`` carry the reading decisions, the
    delimiter, a given decimal mark and any title hint. Raises
    :class:`~segwork.DataError` as ``read_transactions`` does for text files.
    """
    given_encoding = encoding
    encoding, lines, numbers = text_lines(path, encoding)
    return _read_text_lines(path, lines, numbers, layout, sep, decimal, encoding, columns, header_row,
                            given_encoding=given_encoding)


def _cells(line: str, sep: str) -> list[str]:
    """The cells of one text line: CSV quoting for a one-character delimiter, a regex split for ``\\s+``."""
    if len(sep) == 1:
        return next(csv.reader([line], delimiter=sep), [])
    return re.split(sep, line.strip())


def _csv_header(path: Path, lines: list[str], numbers: list[int], sep, layout, columns, header_row):
    """``(sep, lines to skip, header cells, decision or None)``: the header on line 1, the given line, or the
    first of the first :data:`HEADER_SCAN_ROWS` lines that names the required columns (title lines above)."""
    given = sep
    if header_row is not None:
        k = next((i for i, n in enumerate(numbers) if n >= header_row - 1), None)
        if k is None:
            raise DataError(f"{path}: header_row={header_row} is beyond the lines read (the file's first "
                            f"{numbers[-1] + 1} lines); give the row of the column names")
        sep = given or _sniff_sep(lines[k:], path)
        return sep, header_row - 1, _cells(lines[k], sep), Decision(
            "(file)", "header row", f"line {header_row}", "given by header_row=")
    sep = given or _sniff_sep(lines, path)
    header = _cells(lines[0], sep)
    if header_fits(header, layout, columns):
        return sep, 0, header, None
    for k in range(1, min(HEADER_SCAN_ROWS, len(lines))):
        try:
            sep_k = given or _sniff_sep(lines[k:], path)
        except DataError:
            continue
        cells = _cells(lines[k], sep_k)
        if header_fits([c.strip() for c in cells], layout, columns):
            above = "; ".join(repr(ln.strip()[:40]) for ln in lines[:min(k, 3)])
            return sep_k, numbers[k], cells, Decision(
                "(file)", "header row", f"line {numbers[k] + 1}: the first line that names the required columns",
                f"{numbers[k]} line(s) above it: {above}; pass header_row= (CLI: --header-row) if another line "
                "is the header")
    return sep, 0, header, None


def text_lines(path: Path, encoding: str | None, whole_file: bool = True) -> tuple[str, list[str], list[int]]:
    """The file's encoding, its first non-blank lines (from the first 64 KiB) and their 0-based line numbers.

    Returns ``(encoding, lines, numbers)``: a Python codec name, the lines
    (without line ends) and, for each, its 0-based line number in the file
    (blank lines counted). ``encoding``: given, or ``None`` to take the
    byte-order mark, else UTF-8, else cp1252. Without a byte-order mark or a
    given encoding, UTF-8 is checked on the whole file, or on the 64 KiB only
    when not ``whole_file`` (a quick look at many files, e.g. for DuckDB's ``skip``).

    Raises :class:`~segwork.DataError` naming the file for an unknown
    encoding, an encoding that contradicts the byte-order mark, a binary
    file (NUL bytes without a UTF-16/32 encoding) or a file with no text lines.
    """
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    # The encoding is decided before the binary check: UTF-16/32 text is full of NUL bytes.
    bom = next((name for b, name in _BOMS if head.startswith(b)), None)
    if encoding is None:
        encoding = bom
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"{path}: unknown encoding {encoding!r}; give a Python codec name such as "
                            "'utf-8', 'cp1252' or 'utf-16'") from None
        check_encoding_against_bom(path, encoding, head)
    if b"\x00" in head and not is_wide_encoding(encoding):
        raise DataError(
            f"{path}: looks like a binary file, not CSV text (NUL bytes, no UTF-16/32 byte-order mark); "
            "save it as CSV, Parquet or Excel, or if it is UTF-16 text without a byte-order mark pass "
            "encoding='utf-16-le' (CLI: --encoding utf-16-le)"
        )
    if encoding is None and not whole_file:
        try:
            head.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as exc:
            encoding = "utf-8" if exc.start >= len(head) - 3 else "cp1252"  # a character cut at 64 KiB
    if encoding is None:
        encoding = _detect_encoding(path)
    if is_wide_encoding(encoding) and len(head) % 4:
        head = head[: len(head) - len(head) % 4]  # whole code units only
    text = head.decode(encoding, errors="replace")
    numbered = [(n, ln) for n, ln in enumerate(text.splitlines()) if ln.strip()]
    if not numbered:
        raise DataError(f"{path}: the file has no text lines")
    return encoding, [ln for _, ln in numbered], [n for n, _ in numbered]


def _read_text_lines(path, lines, numbers, layout, sep, decimal, encoding, columns=None, header_row=None, *,
                     given_encoding=None):
    """A text file's raw frame and layout, from its first lines (see :func:`text_lines`)."""
    # CDNOW: whitespace separated, with (master) or without (sample) a header.
    if layout in ("auto", "cdnow") and sep is None and header_row is None:
        body = lines[1:] if not _CDNOW_LINE.match(lines[0]) else lines
        if body and all(_CDNOW_LINE.match(ln) for ln in body[:50]):
            names = (
                ["customer_id", "sample_id", "date", "number_of_cds", "dollar_value"]
                if len(body[0].split()) == 5
                else ["customer_id", "date", "number_of_cds", "dollar_value"]
            )
            raw = pd.read_csv(
                path, sep=r"\s+", header=None, names=names, dtype=str,
                skiprows=0 if body is lines else 1, encoding=encoding,
            )
            return raw.drop(columns=["sample_id"], errors="ignore"), "cdnow"

    given_sep, title_hint = sep, None
    sep, skip, header, decision = _csv_header(path, lines, numbers, sep, layout, columns, header_row)
    check_duplicate_columns(header, str(path))
    if decision is None and not header_fits([c.strip() for c in header], layout, columns):
        try:  # the delimiter of the lines below line 1 (a title line can mislead the sniffer)
            body_sep = sep if given_sep is not None else _sniff_sep(lines[1:HEADER_SCAN_ROWS], path)
        except (DataError, IndexError):
            body_sep = sep
        widths = [len(_cells(ln, body_sep)) for ln in lines[1:HEADER_SCAN_ROWS]]
        named = [c.strip() for c in _cells(lines[0], body_sep) if c.strip()]
        # a title: one cell above a table of several; but a line 1 that another separator splits like every line
        # below it ('Kunde;Datum;Betrag' above 'K1;2024-01-05;1,50', sniffed as ',') is column names, not a title
        body = [ln for ln in lines[1:HEADER_SCAN_ROWS] if ln.strip()]
        no_other_table = not any(
            len(_cells(lines[0], other)) >= 2 and all(len(_cells(ln, other)) == len(_cells(lines[0], other))
                                                     for ln in body)
            for other in (";", ",", "\t", "|") if other != body_sep)
        if widths and no_other_table and len(named) <= 1 < max(widths):
            raise DataError(f"{path}: {header_hint(lines[0].strip(), 'the file')}; or map the columns with "
                            "columns= (CLI: --map)")
        found = detect_layout(named) if layout == "auto" else layout
        known = set(canonical_names(named, found, columns).values()) & {*REQUIRED_COLUMNS, "quantity", "price"}
        if widths and no_other_table and not known and len(named) < max(widths):  # fewer cells, none a known name
            title_hint = header_hint(lines[0].strip(), "the file")
    try:
        raw = pd.read_csv(
            path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False,
            na_values=list(CSV_NULL_STRINGS),
            skipinitialspace=True, skiprows=skip or None, skip_blank_lines=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        title = decision is None and not header_fits([c.strip() for c in header], layout, columns)
        raise DataError(f"{path}: cannot read as CSV with sep={sep!r} ({first_line(exc)}); "
                        "pass sep=/encoding= explicitly"
                        + ("; if title lines stand above the column names, give the header's line number, "
                           "header_row=N (CLI: --header-row N)" if title else "")) from None
    if skip:
        raw.index = pd.RangeIndex(skip, skip + len(raw))  # labels + 2 stay the file's line numbers (no blanks)
    if title_hint:
        raw.attrs["header_hint"] = title_hint
    decisions = [decision] if decision is not None else []
    if encoding not in ("utf-8", "utf-8-sig", "cp1252") or is_wide_encoding(encoding):
        with path.open("rb") as fh:
            head = fh.read(4)  # read once: the marks are compared with the same first bytes
        mark = next((b for b, _ in _BOMS if head.startswith(b)), b"")
        decisions.insert(0, Decision("(file)", "encoding", codecs.lookup(encoding).name.upper(),
                                     "given by encoding= / --encoding" if given_encoding is not None
                                     else f"detected from its byte-order mark {mark.hex(' ').upper()}" if mark
                                     else "detected from the bytes"))
    raw.attrs["read_decisions"] = decisions
    if raw.empty:
        raise DataError(f"{path}: has a header but no transaction rows")
    detected = detect_layout(list(raw.columns)) if layout == "auto" else layout
    if decimal is not None:
        raw.attrs["decimal"] = decimal
    raw.attrs["sep"] = sep
    return raw, detected


def _detect_encoding(path: Path) -> str:
    """UTF-8 if the whole file decodes as UTF-8, else cp1252 (a file without a byte-order mark: text_lines
    takes the encoding of a mark before it calls this)."""
    try:
        with path.open("r", encoding="utf-8") as fh:
            while fh.read(1 << 20):
                pass
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _sniff_sep(lines: list[str], path: Path) -> str:
    sample = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in ",;\t|"}
        best = max(counts, key=counts.get)
        if counts[best] == 0:
            if len(lines) and len(lines[0].split()) > 1:
                return r"\s+"
            raise DataError(
                f"{path}: cannot find a column delimiter in the header {lines[0][:80]!r}; "
                "pass sep= (',' ';' tab '|')"
            ) from None
        return best
