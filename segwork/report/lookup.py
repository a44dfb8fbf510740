"""The customer lookup page: a search box on a static HTML page that shows the single customer view.

:func:`lookup_data` writes, for every customer of a run, what
:func:`segwork.act.view.customer_view` (and so the SOAP operation
GetCustomerView) says about them (profile, permissions, purchase mix,
history, RFM and value, segment in every segmentation, relationship type and
its strategy, pending triggers), plus the CLV interval and P(alive) over time,
as one compact column-wise JSON document. :func:`lookup_html` puts it into the
page with a small script: type a customer id, see the view; no server, no
network. :func:`decode` reads one customer back (what the script shows), so a
test can hold the page to ``customer_view``.

Compactness (the page must stay within its size budget at 20,000 customers):
columns, not records; text columns, survey answers, segments and permissions
as a list of levels and one character per customer (:data:`CODE_ALPHABET`),
the pending triggers' texts as levels and codes; money rounded to 2 decimals,
days to whole days, shares and probabilities to 3; P(alive) over time in steps
of 2 %, one character per date.

Readers' words: every row of the view is named by :data:`LABELS` or
:func:`segwork.plots.tables.column_label` (the report's one labeller), written
into the page as ``labels``; the two day counts are named apart: "days since
last purchase" (the RFM page's recency) and "first to last purchase (BTYD
recency)". An id is found as typed, trimmed, and, when no other id differs only
in case, in any case (``c000123`` finds ``C000123``).
"""
from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..act.strategies import DEFAULT_STRATEGIES
from ..act.view import HISTORY_COLUMNS, VALUE_COLUMNS
from ..clv.margin import DEFAULT_MARGIN, value_label
from ..errors import DataError
from ..plots.tables import column_label
from ..segment.base import Segmentation

__all__ = ["lookup_data", "lookup_html", "decode", "find", "label", "DECIMALS", "TRIGGER_FIELDS", "PATH_ALPHABET",
           "CODE_ALPHABET", "LABELS"]

#: The fields of a pending trigger on the page (its segment and relationship are shown once, above it).
TRIGGER_FIELDS = ("date", "event", "reason", "action")
#: P(alive) over time is written in steps of 2 %: one character per date, ``PATH_ALPHABET[k]`` = 2k %,
#: ``~`` = before the first purchase (51 levels, JSON-safe ASCII without a backslash or quote).
PATH_ALPHABET = "".join(chr(c) for c in range(40, 40 + 52) if chr(c) != "\\")[:51]

#: A coded column is one character per customer: ``CODE_ALPHABET[code]``, ``~`` = missing (90 levels at most,
#: JSON-safe ASCII without a quote or backslash); a column with more levels keeps a list of codes.
CODE_ALPHABET = "".join(chr(c) for c in range(35, 126) if chr(c) != "\\")

#: Decimals kept per column kind: money 2, days 0 (whole days), probabilities and shares 3.
DECIMALS = {"money": 2, "days": 0, "share": 3}
_SHARE_COLUMNS = {"p_alive", "p_buy", "purchase_rate"}
_DAY_COLUMNS = {"recency", "T", "days_since_last"}

#: Row names of the view where the column name is not the reader's word. Days: the RFM page's recency is the
#: days since the last purchase; BTYD's recency is the time from the first to the last purchase.
LABELS = {"days_since_last": "days since last purchase", "recency": "first to last purchase (BTYD recency)",
          "T": "first purchase to end of data (BTYD T)", "frequency": "repeat purchases (BTYD frequency)",
          "n_transactions": "transactions", "purchase_rate": "purchases per 30 days", "p_buy": "P(buy)",
          "p_alive": "P(alive)"}


def label(column: str) -> str:
    """The reader's name of a column of the view: :data:`LABELS`, a purchase-mix share as "category: beauty" /
    "channel: app", a permission as "email opt-in", else :func:`segwork.plots.tables.column_label`."""
    name = str(column)
    if name in LABELS:
        return LABELS[name]
    for prefix, kind in (("cat_", "category"), ("ch_", "channel")):
        if name.startswith(prefix):
            return f"{kind}: {column_label(name[len(prefix):])}"
    if name.endswith("_opt_in"):
        return f"{column_label(name[:-len('_opt_in')])} opt-in"
    return column_label(name)


def _numbers(values, decimals: int) -> list:
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    out = np.round(v, decimals)
    return [None if not math.isfinite(x) else (int(x) if x == int(x) else float(x)) for x in out]


def _code_text(codes) -> str | list:
    """Codes (-1 = missing) as one character each (:data:`CODE_ALPHABET`, ``~`` missing), or the list itself
    when there are more levels than characters."""
    codes = [int(c) for c in codes]
    if max(codes, default=-1) >= len(CODE_ALPHABET):
        return codes
    return "".join("~" if c < 0 else CODE_ALPHABET[c] for c in codes)


def _code_at(codes, i: int) -> int:
    """The code of position ``i`` in a coded column (either form); -1 = missing."""
    if isinstance(codes, str):
        return -1 if codes[i] == "~" else CODE_ALPHABET.index(codes[i])
    return codes[i]


def _coded(values: pd.Series) -> dict:
    """Text-like column -> {"levels": [...], "codes": one character per customer} (see :func:`_code_text`)."""
    s = values.astype("object")
    if pd.api.types.is_datetime64_any_dtype(values):
        s = values.dt.strftime("%Y-%m-%d").astype("object").where(values.notna(), None)
    text = s.map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v))
    cat = pd.Categorical(text)
    return {"levels": [str(x) for x in cat.categories], "codes": _code_text(cat.codes)}


def lookup_data(table: pd.DataFrame, segmentations: Mapping[str, Segmentation | pd.Series] | None = None, *,
                relationship: str = "relationship", strategies=None, triggers: pd.DataFrame | None = None,
                clv_interval: pd.DataFrame | None = None, p_alive_history: pd.DataFrame | None = None,
                currency: str = "", margin: float = DEFAULT_MARGIN) -> dict:
    """Every customer's single customer view, column-wise, for the lookup page.

    Parameters
    ----------
    table, segmentations, relationship, strategies, triggers: as for
        :func:`segwork.act.view.customer_view` (the prepared table indexed by
        customer_id; name -> Segmentation or labels; the relationship
        segmentation's name; type -> Strategy; the pending trigger rows).
    clv_interval: DataFrame indexed by customer_id with ``lower``, ``upper``
        (the CLV interval, the data's currency), or None.
    p_alive_history: :func:`segwork.plots.history.p_alive_history` (customers x dates), or None.
    currency: how the page names the money.
    margin: the profit share of revenue the table's ``clv`` was computed at
        (the run's margin); the page names the value with
        :func:`segwork.clv.margin.value_label` of it, as ``customer_view`` and
        the service do.

    Returns
    -------
    dict (JSON-ready): ``ids``; ``currency``; ``value_label``; ``labels``: column -> the reader's
    name (:func:`label`); ``code_alphabet``: :data:`CODE_ALPHABET`; ``history``/``value``: column -> numbers;
    ``profile``: column -> {"levels", "codes"} or {"numbers"}; ``permissions``: column -> one character per
    customer ("1" yes, "0" no, "~" missing); ``mix``: column -> numbers; ``segments``: name ->
    {"levels", "codes"} (codes: one character per customer, :func:`_code_text`); ``strategies``: type -> {"goal", "offer"};
    ``triggers``: {"fields": :data:`TRIGGER_FIELDS`, "levels": field -> texts,
    "rows": position -> one list of codes per pending trigger (-1 = missing)}; ``clv_lower``/``clv_upper``; ``p_alive_dates``
    and ``p_alive_path`` (per customer whole percentages, None before the first purchase).

    Raises
    ------
    DataError: the table has duplicate customer ids; ``margin`` not a finite number >= 0.
    """
    value_name = value_label(margin)
    ids = table.index.astype(str)
    if ids.has_duplicates:
        raise DataError(f"lookup_data: customer {ids[ids.duplicated()][0]!r} appears twice in the table; "
                        "give the prepared table (one row per customer)")
    behaviour = set(HISTORY_COLUMNS) | set(VALUE_COLUMNS)
    out: dict = {"ids": list(ids), "currency": currency, "value_label": value_name, "code_alphabet": CODE_ALPHABET,
                 "history": {}, "value": {}, "profile": {}, "permissions": {}, "mix": {}, "segments": {}}
    for group, cols in (("history", HISTORY_COLUMNS), ("value", VALUE_COLUMNS)):
        for c in cols:
            if c in table.columns:
                kind = "share" if c in _SHARE_COLUMNS else "days" if c in _DAY_COLUMNS else "money"
                out[group][c] = _numbers(table[c], DECIMALS[kind])
    for c in table.columns:
        name = str(c)
        if c in behaviour:
            continue
        col = table[c]
        if name.endswith("_opt_in"):
            out["permissions"][name] = "".join("~" if pd.isna(v) else "1" if bool(v) else "0" for v in col)
        elif name.startswith(("cat_", "ch_")):
            out["mix"][name] = _numbers(col, DECIMALS["share"])
        elif pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            out["profile"][name] = _coded(col)
        elif col.nunique(dropna=True) <= 50:  # survey answers, scores: levels as numbers, one code each
            cat = pd.Categorical(pd.to_numeric(col, errors="coerce"))
            out["profile"][name] = {"levels": _numbers(cat.categories, DECIMALS["money"]),
                                    "codes": _code_text(cat.codes)}
        else:
            out["profile"][name] = {"numbers": _numbers(col, DECIMALS["money"])}
    position = pd.Series(np.arange(len(ids)), index=ids)
    for name, seg in (segmentations or {}).items():
        labels = seg.labels if isinstance(seg, Segmentation) else seg
        labels = labels.copy()
        labels.index = labels.index.astype(str)
        out["segments"][str(name)] = _coded(labels.reindex(ids))
    rel_levels = out["segments"].get(relationship, {}).get("levels", [])
    chosen = DEFAULT_STRATEGIES if strategies is None else strategies
    out["relationship"] = relationship
    out["strategies"] = {lvl: {"goal": chosen[lvl].goal, "offer": chosen[lvl].offer}
                         for lvl in rel_levels if lvl in chosen}
    rows: dict[str, list] = {}
    levels: dict[str, list] = {f: [] for f in TRIGGER_FIELDS}
    codes: dict[str, dict] = {f: {} for f in TRIGGER_FIELDS}

    def code(field, value) -> int:  # a trigger's texts repeat across customers: one level each, one code per row
        if value is None:
            return -1
        if value not in codes[field]:
            codes[field][value] = len(levels[field])
            levels[field].append(value)
        return codes[field][value]

    if triggers is not None and len(triggers):
        for rec in triggers.to_dict("records"):
            cid = str(rec["customer_id"])
            if cid not in position.index:
                continue
            shown = {k: (v.date().isoformat() if isinstance(v, pd.Timestamp) else
                         None if (not isinstance(v, str) and pd.isna(v)) else v if isinstance(v, str | int | float)
                         else str(v))
                     for k, v in rec.items() if k in TRIGGER_FIELDS}
            rows.setdefault(str(int(position[cid])), []).append([code(f, shown.get(f)) for f in TRIGGER_FIELDS])
    out["triggers"] = {"fields": list(TRIGGER_FIELDS), "levels": levels, "rows": rows}
    shown = [c for group in ("history", "value", "profile", "permissions", "mix") for c in out[group]]
    out["labels"] = {c: label(c) for c in shown}
    if clv_interval is not None:
        ci = clv_interval.copy()
        ci.index = ci.index.astype(str)
        ci = ci.reindex(ids)
        out["clv_lower"], out["clv_upper"] = _numbers(ci["lower"], 2), _numbers(ci["upper"], 2)
        out["clv_interval_kind"] = clv_interval.attrs.get("kind", "interval")
    if p_alive_history is not None:
        h = p_alive_history.copy()
        h.index = h.index.astype(str)
        h = h.reindex(ids)
        out["p_alive_dates"] = [pd.Timestamp(d).date().isoformat() for d in h.columns]
        steps = np.round(h.to_numpy(dtype=float) * 50)
        out["p_alive_alphabet"] = PATH_ALPHABET
        out["p_alive_path"] = ["".join("~" if not math.isfinite(v) else PATH_ALPHABET[int(v)] for v in row)
                               for row in steps]
    return out


def decode(data: dict, customer_id) -> dict:
    """One customer's view from :func:`lookup_data`'s document, as the page's script shows it.

    Returns dict with ``customer_id``, ``profile``, ``permissions``, ``mix``,
    ``history``, ``value``, ``segments``, ``relationship``, ``strategy``,
    ``offer``, ``triggers``, ``value_label`` (the fields of :class:`segwork.act.view.CustomerView`,
    missing values left out as there) and, when written, ``clv_lower``,
    ``clv_upper`` and ``p_alive_path``. ``customer_id`` is found as the page finds it (:func:`find`).
    Raises DataError for an unknown id.
    """
    i = find(data, customer_id)
    if i is None:
        raise DataError(f"decode: no customer {str(customer_id).strip()!r} on the lookup page")
    cid = data["ids"][i]

    def level(coded):
        code = _code_at(coded["codes"], i)
        return None if code < 0 else coded["levels"][code]

    profile = {}
    for name, col in data["profile"].items():
        v = col["numbers"][i] if "numbers" in col else level(col)
        if v is not None:
            profile[name] = v
    segments = {name: level(coded) for name, coded in data["segments"].items()}
    rel = segments.get(data["relationship"])
    st = data["strategies"].get(rel) if rel is not None else None
    trig = data["triggers"]
    pending = [{f: trig["levels"][f][c] for f, c in zip(trig["fields"], row) if c >= 0}
               for row in trig["rows"].get(str(i), [])]
    view = {"customer_id": cid, "profile": profile,
            "permissions": {k: v[i] == "1" for k, v in data["permissions"].items() if v[i] != "~"},
            "mix": {k: v[i] for k, v in data["mix"].items() if v[i] is not None},
            "history": {k: v[i] for k, v in data["history"].items()},
            "value": {k: v[i] for k, v in data["value"].items()},
            "segments": segments, "relationship": rel, "strategy": st["goal"] if st else None,
            "offer": st["offer"] if st else None, "triggers": pending,
            "value_label": data["value_label"]}
    if "clv_lower" in data:
        view["clv_lower"], view["clv_upper"] = data["clv_lower"][i], data["clv_upper"][i]
    if "p_alive_path" in data:  # whole percentages (None before the first purchase)
        view["p_alive_path"] = [None if ch == "~" else 2 * data["p_alive_alphabet"].index(ch)
                                for ch in data["p_alive_path"][i]]
    return view


def find(data: dict, customer_id) -> int | None:
    """The position of a typed id in :func:`lookup_data`'s ``ids``, as the page's script finds it: the id as
    typed (spaces around it dropped), else the one id equal to it ignoring case (None when none or several)."""
    typed = str(customer_id).strip()
    if typed in data["ids"]:
        return data["ids"].index(typed)
    matches = [j for j, cid in enumerate(data["ids"]) if cid.lower() == typed.lower()]
    return matches[0] if len(matches) == 1 else None


_SCRIPT = r"""
(function () {
  const data = JSON.parse(document.getElementById("segwork-lookup-data").textContent);
  const pos = new Map(data.ids.map((id, i) => [id, i]));
  const folded = new Map();  // id ignoring case -> position, or -1 when two ids differ only in case
  data.ids.forEach((id, i) => { const k = id.toLowerCase(); folded.set(k, folded.has(k) ? -1 : i); });
  const find = (typed) => pos.has(typed) ? pos.get(typed) :
      ((folded.get(typed.toLowerCase()) ?? -1) >= 0 ? folded.get(typed.toLowerCase()) : undefined);
  const box = document.getElementById("segwork-lookup-box");
  const out = document.getElementById("segwork-lookup-view");
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  const num = (v, d) => (v === null || v === undefined) ? "–" :
      Number(v).toLocaleString("en-GB", {minimumFractionDigits: d, maximumFractionDigits: d});
  const words = (c) => data.labels[c] ?? c;  // written by segwork.report.lookup.label (column_label)
  const code = (codes, i) => typeof codes === "string" ? (codes[i] === "~" ? -1 :
      data.code_alphabet.indexOf(codes[i])) : codes[i];
  const level = (coded, i) => { const c = code(coded.codes, i); return c < 0 ? null : coded.levels[c]; };
  const table = (title, rows) => rows.length ? `<h4>${esc(title)}</h4><table class="segwork-lookup"><tbody>` +
      rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join("") + "</tbody></table>" : "";
  const money = new Set(["revenue", "mean_amount", "monetary_value", "clv"]);
  const days = new Set(["recency", "T", "days_since_last"]);  // whole days
  const decimals = (c) => ["p_alive", "p_buy", "purchase_rate"].includes(c) ? 3 :
      (["n_transactions", "frequency"].includes(c) || days.has(c) ? 0 : 2);
  const unit = (c) => money.has(c) ? " " + data.currency : (days.has(c) ? " days" : "");
  function spark(path, dates) {
    const w = 520, h = 120, pts = [];
    path.forEach((v, j) => { if (v !== null) pts.push([j, v]); });
    if (!pts.length) return "";
    const x = (j) => 30 + (w - 40) * j / Math.max(1, dates.length - 1), y = (v) => 10 + (h - 30) * (1 - v / 100);
    const line = pts.map(([j, v]) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    return `<h4>P(alive) over time</h4><svg class="segwork-lookup-palive" width="${w}" height="${h}" role="img" ` +
      `aria-label="P(alive) over time"><line x1="30" y1="${y(0)}" x2="${w - 10}" y2="${y(0)}" stroke="#999"/>` +
      `<line x1="30" y1="${y(100)}" x2="30" y2="${y(0)}" stroke="#999"/>` +
      `<text x="2" y="${y(100) + 4}" font-size="10">100%</text><text x="10" y="${y(0) + 4}" font-size="10">0%</text>` +
      `<text x="30" y="${h - 4}" font-size="10">${esc(dates[0])}</text>` +
      `<text x="${w - 80}" y="${h - 4}" font-size="10">${esc(dates[dates.length - 1])}</text>` +
      `<polyline fill="none" stroke="#4c72b0" stroke-width="2" points="${line}"/></svg>` +
      `<p class="segwork-lookup-caption">Figure: this customer's P(alive) at each date from the purchases known ` +
      `then (the model of the run), latest ${pts[pts.length - 1][1]} %.</p>`;
  }
  function show(typed) {
    const i = find(typed.trim());
    if (i === undefined) {
      out.innerHTML = typed.trim() ? `<p class="segwork-lookup-unknown">No customer <b>${esc(typed.trim())}</b> in ` +
        `this run's data (${data.ids.length.toLocaleString("en-GB")} customers). Check the id: ids are written as ` +
        `in the data, e.g. <b>${esc(data.ids[0] ?? "")}</b> (upper or lower case both find it).</p>` : "";
      return;
    }
    const id = data.ids[i];  // as written in the data
    const segs = Object.entries(data.segments).map(([n, c]) => [n, esc(level(c, i) ?? "–")]);
    const rel = data.segments[data.relationship] ? level(data.segments[data.relationship], i) : null;
    const st = rel !== null ? data.strategies[rel] : undefined;
    let html = `<h3>Customer ${esc(id)}</h3>`;
    html += table("Relationship and strategy", [["relationship type", esc(rel ?? "–")],
      ["strategy", esc(st ? st.goal : "no strategy stated")], ["offer", esc(st ? st.offer : "–")]]);
    const value = Object.entries(data.value).map(([c, v]) => [c === "clv" ? data.value_label : words(c),
      num(v[i], decimals(c)) + unit(c)]);
    if (data.clv_lower) value.push([`${data.value_label} ${data.clv_interval_kind}`,
      `${num(data.clv_lower[i], 2)} to ${num(data.clv_upper[i], 2)} ${data.currency}`]);
    html += table("RFM and value", value);
    html += table("History", Object.entries(data.history).map(([c, v]) => [words(c), num(v[i], decimals(c)) + unit(c)]));
    if (data.p_alive_path) html += spark(Array.from(data.p_alive_path[i]).map((ch) => ch === "~" ? null :
      2 * data.p_alive_alphabet.indexOf(ch)), data.p_alive_dates);
    html += table("Segment in every segmentation", segs);
    const tl = data.triggers.levels, trig = (data.triggers.rows[String(i)] || []).map((r) => Object.fromEntries(
      data.triggers.fields.map((f, j) => [f, r[j] < 0 ? "" : tl[f][r[j]]])));
    html += trig.length ? table("Pending triggers", trig.map((t) => [esc(t.date + " " + t.event),
      esc((t.reason || "") + (t.action ? " → " + t.action : ""))])) : "<h4>Pending triggers</h4><p>none</p>";
    const prof = [];
    for (const [c, col] of Object.entries(data.profile)) {
      const v = col.numbers ? col.numbers[i] : level(col, i);
      const yes = {True: "yes", False: "no"};  // a yes/no column, written as its text
      if (v !== null) prof.push([words(c), esc(col.numbers ? num(v, Number.isInteger(v) ? 0 : 2) : yes[v] ?? v)]);
    }
    html += table("Profile", prof);
    html += table("Permissions", Object.entries(data.permissions).filter(([, v]) => v[i] !== "~")
      .map(([c, v]) => [words(c), v[i] === "1" ? "yes" : "no"]));
    html += table("Purchase mix (share of purchases)", Object.entries(data.mix).filter(([, v]) => v[i] !== null)
      .map(([c, v]) => [words(c), num(100 * v[i], 1) + " %"]));
    out.innerHTML = html;
  }
  box.addEventListener("input", () => show(box.value));
  box.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); show(box.value); } });
  document.querySelectorAll(".segwork-lookup-example").forEach((a) => a.addEventListener("click", (e) => {
    e.preventDefault(); box.value = a.dataset.id; show(a.dataset.id);
  }));
  const first = new URLSearchParams(window.location.search).get("customer");
  if (first) { box.value = first; show(first); }
})();
"""

_STYLE = """<style>
.segwork-lookup-search input { font-size: 1.1em; padding: 4px 8px; width: 18em; }
table.segwork-lookup { border-collapse: collapse; margin: 0 0 0.6em 0; }
table.segwork-lookup th { text-align: left; font-weight: normal; color: #444; padding: 2px 14px 2px 0; }
table.segwork-lookup td { text-align: right; padding: 2px 0; font-variant-numeric: tabular-nums; }
.segwork-lookup-caption { font-size: 0.9em; color: #555; }
</style>"""


def lookup_html(data: dict, *, examples=()) -> str:
    """The search box, the data and the script as one HTML fragment (no network, no server).

    ``examples``: a few customer ids offered as links under the box. The
    page also opens a customer given as ``?customer=<id>`` in its address.
    """
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).replace("</", "<\\/")
    links = " ".join(f'<a href="#" class="segwork-lookup-example" data-id="{html.escape(str(cid))}">'
                     f'{html.escape(str(cid))}</a>' for cid in examples)
    return (f"{_STYLE}<div class=\"segwork-lookup-search\"><label for=\"segwork-lookup-box\"><b>Customer id</b> "
            f"</label><input id=\"segwork-lookup-box\" type=\"search\" autocomplete=\"off\" "
            f"placeholder=\"type a customer id\">"
            + (f"<p>For example: {links}</p>" if links else "") + "</div>"
            f"<div id=\"segwork-lookup-view\"></div>"
            f"<script type=\"application/json\" id=\"segwork-lookup-data\">{payload}</script>"
            f"<script>{_SCRIPT}</script>")
