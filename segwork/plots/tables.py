"""Tables for readers: the one table style of the report pages, the index and JupyterLab.

Every table a page shows goes through :func:`show_table` (or :func:`table_html`
for HTML built elsewhere, such as the index), so that all of them follow one
style:

* numbers with thousands separators and a column-wide number of decimals
  (3 significant digits at the column's typical size), counts as integers,
  shares as percentages, the unit in the header ("CLV (EUR)");
* intervals as "a to b" (a two-number list or tuple in a cell, or a pair of
  columns such as ``lower_95``/``upper_95`` or ``clv_lower``/``clv_upper``);
* no ``NaN``: a missing value is an en dash, and a footnote under the table
  says which columns have one and why (``na_reason``);
* no Python reprs: lists and sets are joined with commas, mappings written as
  ``key: value``, paths as their file name, dates as ``YYYY-MM-DD``;
* headers in words, not snake_case (``p_alive`` -> "P(alive)");
* wide tables scroll inside their box, with the header row and the first
  column kept in view (:data:`TABLE_CSS`, also put into the page templates).

Customer-level lists (scores, targets, retention, triggers) are shown with
``interactive=True``: an itables (DataTables) table, offline (the library is
embedded once per page, no server, nothing from the web), searchable, sortable,
with a CSV download of the whole list; the printed page shows a static table of
its first rows instead (``@media print``).
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TABLE_CSS", "DASH", "format_value", "format_share", "column_label", "column_decimals", "format_frame", "table_html",
           "show_table"]

DASH = "–"

TABLE_CSS = """
.segwork-table { overflow: auto; max-width: 100%; max-height: 80vh; margin: 6px 0 4px; }
.segwork-table table { border-collapse: separate; border-spacing: 0; font-size: 13px; width: auto; }
.segwork-table table th, .segwork-table table td { padding: 4px 10px; border-bottom: 1px solid #dde3ea; text-align: left;
  vertical-align: top; background: #fff; }
.segwork-table thead th { position: sticky; top: 0; z-index: 2; background: #f5f7fa; font-weight: 600;
  white-space: nowrap; }
.segwork-table tbody th, .segwork-table td:first-child { position: sticky; left: 0; z-index: 1;
  background: #fff; font-weight: 600; }
.segwork-table thead th:first-child { left: 0; z-index: 3; }
.segwork-table table td.num, .segwork-table table th.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.segwork-table caption { caption-side: top; text-align: left; color: #5b6877; padding: 2px 0 6px; }
.segwork-table-note { color: #5b6877; font-size: 12px; margin: 2px 0 10px; }
.jp-RenderedHTMLCommon .segwork-table table { margin: 0; }
.segwork-datatable { max-width: 100%; overflow-x: auto; }
@media print {
  .segwork-screen-only { display: none !important; }
  .segwork-table { max-height: none; overflow: visible; }
  .segwork-table thead th, .segwork-table tbody th, .segwork-table td:first-child { position: static; }
}
@media screen { .segwork-print-only { display: none !important; } }
"""

# Field terms and abbreviations: a header word as the field writes it.
_WORDS = {
    "p_alive": "P(alive)", "clv": "CLV", "rfm": "RFM", "nps": "NPS", "mae": "MAE", "rmse": "RMSE",
    "mape": "MAPE", "ari": "ARI", "ami": "AMI", "nmi": "NMI", "aic": "AIC", "bic": "BIC", "ll": "log-likelihood",
    "se": "standard error", "id": "id", "pct": "%", "dert": "DERT", "auc": "AUC", "r": "R", "f": "F", "m": "M",
    "fm": "FM", "k": "k", "bg": "BG", "nbd": "NBD", "ci": "CI", "ltv": "LTV", "eur": "EUR", "sms": "SMS",
    "ggom": "GGom", "bgbb": "BG/BB",
}
_COUNT_NAMES = re.compile(r"^(n|count|customers|size|events|respondents|rows|members|contacts|buyers|transactions"
                          r"|purchases|orders)$|^n_|_count$|^count_|^number_of_|_customers$")
_SHARE_NAMES = re.compile(r"share|_pct$|^pct_|percent|^coverage$|hit_rate|response_rate|retention_rate|^accuracy$")
_INTERVAL_PAIRS = [(re.compile(r"^(lower|low)_?(\d+)$"), "upper", "high"),
                   (re.compile(r"^(.+)_(lower|low)(_\d+)?$"), "upper", "high")]


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return not math.isfinite(float(value))
    return False


def _number(value: float, decimals: int | None = None) -> str:
    if decimals is None:
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.1f}"
        text = f"{value:.3g}"
        if "e" in text and abs(value) >= 1e-4:  # 0.000123, not 1.23e-04
            return f"{value:,.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"
        return text
    return f"{value:,.{decimals}f}"


def _is_share(column: str) -> bool:
    return bool(_SHARE_NAMES.search(column.lower()))


def format_value(value: Any, column: str = "", *, unit: str | None = None, decimals: int | None = None) -> str:
    """One cell as text (the formatter of every table of the report, index included).

    ``value`` any scalar, or a list/tuple/array/set/mapping; ``column`` its column name (a name with "share"
    or ending in "_pct" marks a share in [0, 1], shown as a percentage; a count name such as ``n_customers``
    an integer); ``unit`` "%" for a share, or any other unit (that unit is the header's business, not the
    cell's); ``decimals`` fixed decimals (default: 3 significant digits, none from 1,000 on).
    Missing values (None, NaN, NaT, inf) give an en dash; bools "yes"/"no"; a two-number list or tuple an
    interval "a to b"; other lists "a, b, c"; a mapping "key: value; ..."; a path its file name only.
    Raises nothing: every value gets a text.
    """
    if isinstance(value, (list, tuple, np.ndarray, set, frozenset)):
        items = list(value)
        if len(items) == 2 and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                   for v in items):
            return f"{format_value(items[0], column, unit=unit, decimals=decimals)} to " \
                   f"{format_value(items[1], column, unit=unit, decimals=decimals)}"
        if isinstance(value, (set, frozenset)):
            items = sorted(items, key=str)
        text = ", ".join(format_value(v, column, unit=unit, decimals=decimals) for v in items)
        return text if len(text) <= 160 else text[:157] + "..."
    if isinstance(value, Mapping):
        text = "; ".join(f"{column_label(str(k))}: {format_value(v, str(k))}" for k, v in value.items())
        return text if len(text) <= 160 else text[:157] + "..."
    if _is_missing(value):
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, PurePath):
        return value.name
    if isinstance(value, pd.Timestamp) or isinstance(value, np.datetime64):
        ts = pd.Timestamp(value)
        return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M}"
    if isinstance(value, pd.Timedelta):
        return f"{value / pd.Timedelta(days=1):,.0f} days"
    if isinstance(value, pd.Interval):
        return f"{format_value(value.left, column, unit=unit)} to {format_value(value.right, column, unit=unit)}"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if unit == "%" or (unit is None and _is_share(column) and -1.0 <= value <= 1.0):
            d = 1 if decimals is None else decimals
            if 0.0 < value < 1.0:  # 0.9996 stayed is not "100.0%": see format_share
                return format_share(value, decimals=d, max_decimals=d + 1).replace(" %", "%")
            return f"{value:.{d}%}"
        if unit is None and _COUNT_NAMES.search(column.lower()) and value == round(value):
            return f"{int(round(value)):,}"
        return _number(value, decimals)
    if isinstance(value, str):
        return value
    return str(value)


def format_share(share: float, *, decimals: int = 0, max_decimals: int = 1) -> str:
    """A share in [0, 1] as a percentage for a sentence ("85 %") that never rounds to 0 % or 100 % unless exact.

    ``decimals`` the usual decimals; when rounding would show 0 % or 100 % although the share is not 0 or 1
    (some customers moved while "100 %" stayed), up to ``max_decimals`` are used ("99.5 %"), and beyond that
    the bound is written: "> 99.9 %", "< 0.1 %". A missing share (None, NaN) gives an en dash.
    Raises ValueError for a share outside [0, 1].
    """
    if _is_missing(share):
        return DASH
    share = float(share)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"format_share: share={share!r} is not in [0, 1]; give a fraction, not a percentage")
    if share in (0.0, 1.0):
        return f"{100 * share:.0f} %"
    for d in range(decimals, max_decimals + 1):
        text = f"{100 * share:.{d}f}"
        if 0.0 < float(text) < 100.0:
            return f"{text} %"
    step = 10.0 ** -max_decimals
    return f"> {100 - step:.{max_decimals}f} %" if share > 0.5 else f"< {step:.{max_decimals}f} %"


def column_label(name: Any, unit: str | None = None) -> str:
    """A column name as header words: ``"p_alive"`` -> "P(alive)", ``"n_customers"`` -> "customers",
    ``"clv_lower"`` -> "CLV lower"; a unit other than "%" is added in brackets ("CLV (EUR)")."""
    if isinstance(name, tuple):
        text = " / ".join(column_label(part) for part in name if str(part) != "")
    else:
        text = str(name)
        key = text.lower()
        if key in _WORDS:
            text = _WORDS[key]
        elif "_" in text or text.islower():
            words = [w for w in re.split(r"[_ ]", text) if w]
            for j in range(len(words) - 2, -1, -1):  # a field term with an underscore stays one word:
                if f"{words[j]}_{words[j + 1]}".lower() in _WORDS:  # "mean_p_alive" -> "mean P(alive)"
                    words[j:j + 2] = [f"{words[j]}_{words[j + 1]}"]
            if len(words) > 1 and words[0].lower() == "n":
                words = words[1:]
            text = " ".join(_WORDS.get(w.lower(), w) for w in words)
        if re.fullmatch(r"\d+%", text):
            text = text[:-1] + " %"
    if unit and unit != "%":
        text = f"{text} ({unit})"
    return text


def column_decimals(values: pd.Series, column: str = "", unit: str | None = None) -> int:
    """Decimals for a numeric column (float values): 3 significant digits at its median size, at most 4;
    0 when every value is whole; 1 for a share shown as a percentage."""
    finite = values[np.isfinite(values)]
    if finite.empty:
        return 0
    if unit == "%" or (unit is None and _is_share(column) and finite.abs().max() <= 1.0):
        return 1
    if (finite == finite.round()).all():
        return 0
    typical = float(finite.abs().median()) or float(finite.abs().max())
    if typical == 0:
        return 3
    return int(min(4, max(0, 2 - math.floor(math.log10(typical)))))


def _merge_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """Pairs of lower/upper columns become one "a to b" column (raw values kept as a 2-tuple)."""
    cols = [str(c) for c in frame.columns]
    out = frame.copy()
    for col in cols:
        for pattern, upper, high in _INTERVAL_PAIRS:
            m = pattern.match(col)
            if not m or col not in out.columns:
                continue
            if pattern.groups == 2:  # lower_95 / upper_95
                partner = next((c for c in (f"{upper}_{m.group(2)}", f"{high}_{m.group(2)}") if c in out.columns), None)
                name = f"{m.group(2)} % interval"
            else:  # clv_lower / clv_upper
                base, suffix = m.group(1), m.group(3) or ""
                partner = next((c for c in (f"{base}_{upper}{suffix}", f"{base}_{high}{suffix}")
                                if c in out.columns), None)
                name = f"{base} interval" + (f" {suffix[1:]} %" if suffix else "")
            if partner is None:
                continue
            lo, hi = out[col], out[partner]
            if not (pd.api.types.is_numeric_dtype(lo) and pd.api.types.is_numeric_dtype(hi)):
                continue
            merged = pd.Series([(a, b) if not (_is_missing(a) or _is_missing(b)) else None for a, b in zip(lo, hi)],
                               index=out.index, dtype=object)
            pos = list(out.columns).index(col)
            out = out.drop(columns=[col, partner])
            out.insert(pos, name, merged)
            break
    return out


def format_frame(frame: pd.DataFrame | pd.Series, *, units: Mapping[str, str] | None = None,
                 index: bool | None = None, intervals: bool = True, row_labels: bool = False) -> pd.DataFrame:
    """``frame`` as a table of texts in the one table style; its headers in words.

    ``units`` maps a column name to its unit ("%" for a share in [0, 1]; "EUR", "days", "customers", ...;
    a unit other than "%" goes into the header). ``index`` shows the index as the first column (default:
    when it is named or not a plain 0..n-1 range). ``intervals`` merges lower/upper column pairs into one
    "a to b" column. ``row_labels=True`` is for tables whose rows are named quantities (a metrics summary, a
    transposed comparison): the index values become words too, and each cell is formatted as its row's quantity
    (a row ``top20_share`` as a percentage, ``n_customers`` as an integer). Returns a DataFrame of ``str``
    with a plain RangeIndex; its columns are the header labels.
    A Series becomes a one-column frame. Raises TypeError for anything else.
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(frame.name if frame.name is not None else "value")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"format_frame takes a pandas DataFrame or Series, not {type(frame).__name__}")
    units = dict(units or {})
    if index is None:
        index = (any(n is not None for n in frame.index.names)
                 or not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1))
    row_names = [str(r) for r in frame.index] if row_labels else None
    if row_labels:
        frame = frame.set_axis([column_label(r) for r in frame.index], axis=0)
        index = True
    if index:
        names = [n if n is not None else "" for n in frame.index.names]
        if len(names) == 1 and names[0] in frame.columns:
            names = [f"{names[0]} "]
        frame = frame.copy()
        frame.index = frame.index.set_names(names)
        frame = frame.reset_index()
    frame = frame.reset_index(drop=True)
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" / ".join(str(p) for p in c if str(p) != "") for c in frame.columns]
    if intervals:
        frame = _merge_intervals(frame)
    texts = {}
    labels = []
    for j, col in enumerate(frame.columns):
        name = str(col)
        unit = units.get(name, units.get(col))
        values = frame.iloc[:, j]
        if row_names is not None and j > 0:
            cells = [format_value(v, row) for v, row in zip(values, row_names)]
        elif pd.api.types.is_bool_dtype(values):
            cells = [format_value(v, name, unit=unit) for v in values]
        elif pd.api.types.is_numeric_dtype(values):
            as_float = values.astype(float)
            decimals = column_decimals(as_float, name, unit)
            cells = [format_value(v, name, unit=unit, decimals=decimals) for v in as_float]
        else:
            sample = [v for v in values if isinstance(v, (tuple, list, np.ndarray)) and len(v) == 2
                      and all(isinstance(x, (int, float, np.number)) for x in v)]
            decimals = (column_decimals(pd.Series([float(x) for v in sample for x in v]), name, unit) if sample
                        else None)
            cells = [format_value(v, name, unit=unit, decimals=decimals) for v in values]
        label = column_label(col, unit)
        while label in labels:
            label += " "
        labels.append(label)
        texts[label] = cells
    return pd.DataFrame(texts, columns=labels)


def _footnote(texts: pd.DataFrame, na_reason: str | Mapping[str, str] | None) -> str:
    missing = [c for c in texts.columns if (texts[c] == DASH).any()]
    if not missing:
        return ""
    if isinstance(na_reason, Mapping):
        parts = [f"{c.strip()}: {na_reason.get(c.strip(), na_reason.get('*', 'not available'))}" for c in missing]
        return f"{DASH} no value ({'; '.join(parts)})."
    reason = na_reason or "not available for that row"
    return f"{DASH} in {', '.join(c.strip() for c in missing)}: {reason}."


def _static_html(texts: pd.DataFrame, numeric: list[bool], caption: str | None, note: str) -> str:
    """The formatted ``texts`` as an HTML table; the first column's cells are row headers."""
    num_class = {True: ' class="num"', False: ""}
    head = "".join(f"<th{num_class[num]}>{html.escape(c.strip())}</th>" for c, num in zip(texts.columns, numeric))
    rows = []
    for row in texts.itertuples(index=False):
        cells = []
        for j, (text, num) in enumerate(zip(row, numeric)):
            tag = "th" if j == 0 else "td"
            cells.append(f"<{tag}{num_class[num]}>{html.escape(str(text))}</{tag}>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    out = (f'<div class="segwork-table"><table>{cap}<thead><tr>{head}</tr></thead>'
           f'<tbody>{"".join(rows)}</tbody></table></div>')
    if note:
        out += f'<p class="segwork-table-note">{html.escape(note)}</p>'
    return out


def _numeric_columns(texts: pd.DataFrame) -> list[bool]:
    pattern = re.compile(r"^[−+-]?[\d,]+(\.\d+)?( ?%)?( to [−+-]?[\d,]+(\.\d+)?( ?%)?)?$")
    return [bool(vals := [t for t in texts[c] if t != DASH]) and all(pattern.match(t) for t in vals)
            for c in texts.columns]


def table_html(frame: pd.DataFrame | pd.Series, *, units: Mapping[str, str] | None = None,
               caption: str | None = None, na_reason: str | Mapping[str, str] | None = None,
               index: bool | None = None, max_rows: int | None = None, style: bool = True,
               row_labels: bool = False) -> str:
    """The static HTML of ``frame`` in the one table style (see :func:`format_frame` for ``units``/``index``).

    ``caption`` a sentence above the table; ``na_reason`` why a value is missing (one text, or per header
    label; the footnote names the columns with an en dash); ``max_rows`` shows only the first rows and says so;
    ``style`` adds :data:`TABLE_CSS` (a page template that carries it may leave it out).
    """
    return _texts_html(format_frame(frame, units=units, index=index, row_labels=row_labels), caption=caption,
                       na_reason=na_reason, max_rows=max_rows, style=style)


def _texts_html(texts: pd.DataFrame, *, caption: str | None, na_reason: str | Mapping[str, str] | None,
                max_rows: int | None, style: bool) -> str:
    """:func:`table_html` of a frame already formatted by :func:`format_frame`."""
    notes = []
    n = len(texts)
    if max_rows is not None and n > max_rows:
        texts = texts.head(max_rows)
        notes.append(f"First {max_rows:,} of {n:,} rows.")
    foot = _footnote(texts, na_reason)
    if foot:
        notes.append(foot)
    body = _static_html(texts, _numeric_columns(texts), caption, " ".join(notes))
    return (f"<style>{TABLE_CSS}</style>" if style else "") + body


_ITABLES_READY = False


def _interactive_html(texts: pd.DataFrame, *, caption: str | None, filename: str,
                      note: str) -> str:
    """An itables (DataTables) table of the formatted ``texts``: searchable, sortable, CSV download."""
    from itables import to_html_datatable

    numeric = _numeric_columns(texts)
    # Numbers go to DataTables as numbers (so they sort as numbers and the CSV holds numbers), rounded
    # as shown; missing values as an empty cell.
    data = {}
    for j, col in enumerate(texts.columns):
        if numeric[j] and not texts[col].str.contains(" to |%", regex=True).any():
            data[col] = pd.to_numeric(texts[col].str.replace(",", "", regex=False).replace(DASH, None),
                                      errors="coerce").astype(object).where(lambda s: s.notna(), "")
        else:
            data[col] = texts[col].replace(DASH, "")
    shown = pd.DataFrame(data)
    body = to_html_datatable(
        shown, connected=False, showIndex=False, maxBytes=0, classes="display compact nowrap",
        caption=caption, buttons=[{"extend": "csvHtml5", "text": "Download CSV", "filename": filename,
                                   "title": None}],
        layout={"topStart": "buttons", "topEnd": "search", "bottomStart": "info", "bottomEnd": "paging"},
        lengthMenu=[10, 25, 100, 1000], pageLength=10, scrollX=True, fixedColumns={"start": 1},
        text_in_header_can_be_selected=True)
    return f'<div class="segwork-datatable segwork-screen-only">{body}</div>' + (
        f'<p class="segwork-table-note segwork-screen-only">{html.escape(note)}</p>' if note else "")


def show_table(frame: pd.DataFrame | pd.Series, *, units: Mapping[str, str] | None = None,
               caption: str | None = None, na_reason: str | Mapping[str, str] | None = None,
               index: bool | None = None, interactive: bool = False, filename: str = "table",
               max_rows: int | None = None, print_rows: int = 20, row_labels: bool = False) -> None:
    """Display ``frame`` in the one table style (in a notebook: the cell's output; returns None).

    Static by default (see :func:`table_html`). ``interactive=True`` (customer-level lists) displays the
    whole frame as an offline itables table with search, sorting and a "Download CSV" button (file
    ``<filename>.csv``), and for the printed page a static table of its first ``print_rows`` rows; the
    DataTables library is put on the page once, with the first interactive table of the kernel.
    """
    from IPython.display import HTML, display

    if not interactive:
        display(HTML(table_html(frame, units=units, caption=caption, na_reason=na_reason, index=index,
                                max_rows=max_rows, row_labels=row_labels)))
        return
    global _ITABLES_READY
    if not _ITABLES_READY:
        from itables import init_notebook_mode

        init_notebook_mode(all_interactive=False, connected=False)
        _ITABLES_READY = True
    texts = format_frame(frame, units=units, index=index)
    note = _footnote(texts, na_reason).replace(f"{DASH} in", "Empty cells in", 1)
    # the print copy: its first rows, from the same formatted texts (a list is formatted once)
    printed = _texts_html(texts, caption=caption, na_reason=na_reason, max_rows=print_rows, style=False)
    display(HTML(f"<style>{TABLE_CSS}</style>"
                 + _interactive_html(texts, caption=caption, filename=filename, note=note)
                 + f'<div class="segwork-print-only">{printed}</div>'))

