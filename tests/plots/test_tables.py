"""The one table style (segwork.plots.tables): what every cell and header of a report table looks like."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segwork.plots.tables import DASH, column_label, format_frame, format_value, show_table, table_html

REPR = re.compile(r"PosixPath\(|array\(|\{'|\[0\.|\bnan\b|\bNaN\b|/tmp/")


@pytest.mark.parametrize(("value", "column", "text"), [
    (1234567, "n", "1,234,567"), (2880.0, "n_customers", "2,880"), (0.6625, "top20_revenue_share", "66.2%"),
    (0.6625, "silhouette", "0.662"), (float("nan"), "x", DASH), (None, "x", DASH), (np.inf, "x", DASH),
    ([0.0385, 0.0879], "interval", "0.0385 to 0.0879"), (("a", "b", "c"), "items", "a, b, c"),
    ({"holdout_days": 90}, "settings", "holdout days: 90"), (Path("/tmp/run/metrics.json"), "file", "metrics.json"),
    (pd.Timestamp("2011-12-09"), "date", "2011-12-09"), (True, "ok", "yes"), (np.int64(5), "k", "5"),
])
def test_format_value(value, column, text):
    assert format_value(value, column) == text


@pytest.mark.parametrize(("name", "label"), [
    ("p_alive", "P(alive)"), ("n_customers", "customers"), ("clv_at_stake", "CLV at stake"),
    ("total_error_pct", "total error %"), ("MAE", "MAE"), (("revenue", "mean"), "revenue / mean"),
    ("p_alive interval", "P(alive) interval"), ("mean_p_alive", "mean P(alive)"),
])
def test_column_label(name, label):
    assert column_label(name) == label


def test_column_label_puts_the_unit_in_the_header():
    assert column_label("clv", "EUR") == "CLV (EUR)"
    assert column_label("share", "%") == "share"


def frame():
    return pd.DataFrame({
        "segment": ["Champions", "At risk", "New"], "n_customers": [2880.0, 12.0, np.nan],
        "revenue_share": [0.12, 0.5, 0.38], "clv": [1234.567, 0.5, 55.25], "clv_lower": [1000.0, 0.1, 40.0],
        "clv_upper": [1500.0, 0.9, 70.0], "lower_95": [0.1, 0.2, 0.3], "upper_95": [0.2, 0.3, 0.4],
        "rate": [[0.0385, 0.0879], None, (0.1, 0.2)], "source": [Path("/tmp/x/metrics.json")] * 3,
    }).set_index("segment")


def test_format_frame_has_no_repr_no_nan_and_words_for_headers():
    texts = format_frame(frame(), units={"clv": "EUR"})
    assert list(texts.columns) == ["segment", "customers", "revenue share", "CLV (EUR)", "CLV interval",
                                   "95 % interval", "rate", "source"]
    cells = " ".join(texts.to_numpy().ravel())
    assert not REPR.search(cells), REPR.search(cells)
    assert texts["customers"].tolist() == ["2,880", "12", DASH]  # counts as integers, missing as a dash
    assert texts["revenue share"].tolist() == ["12.0%", "50.0%", "38.0%"]
    assert texts["CLV interval"].tolist()[0] == "1,000.0 to 1,500.0"  # one column-wide number of decimals
    assert texts["95 % interval"].tolist() == ["0.100 to 0.200", "0.200 to 0.300", "0.300 to 0.400"]
    # one column-wide number of decimals
    assert texts["rate"].tolist() == ["0.0385 to 0.0879", DASH, "0.1000 to 0.2000"]


def test_column_decimals_follow_the_typical_size():
    texts = format_frame(pd.DataFrame({"a": [1234.5, 2000.25], "b": [0.12345, 0.5], "c": [12.345, 10.0]}))
    assert texts["a"].tolist() == ["1,234", "2,000"] or texts["a"].tolist() == ["1,235", "2,000"]
    assert texts["b"].tolist() == ["0.123", "0.500"]
    assert texts["c"].tolist() == ["12.3", "10.0"]


def test_table_html_says_why_a_value_is_missing_and_scrolls():
    out = table_html(frame(), na_reason="no customers in this segment")
    assert '<div class="segwork-table">' in out and "position: sticky" in out
    assert f"{DASH} in customers, rate: no customers in this segment." in out
    assert not REPR.search(out.split("</style>")[-1])
    assert "First 2 of 3 rows." in table_html(frame(), max_rows=2)


def test_a_plain_range_index_is_not_shown_but_a_named_one_is():
    plain = format_frame(pd.DataFrame({"x": [1, 2]}))
    assert list(plain.columns) == ["x"]
    named = format_frame(pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", "b"], name="customer_id")))
    assert list(named.columns) == ["customer id", "x"]


def test_interactive_table_is_offline_with_csv_download_and_a_printed_copy(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    data = pd.DataFrame({"customer_id": [f"C{i}" for i in range(30)], "clv": np.linspace(0, 1000, 30),
                         "p_alive": np.linspace(0, 1, 30)}).set_index("customer_id")
    show_table(data, interactive=True, filename="targets", units={"clv": "EUR"})
    page = "".join(shown)
    assert "https://" not in page.replace("https://itables.org", "")  # nothing loaded from the web
    assert "csvHtml5" in page and '"filename": "targets"' in page
    assert "segwork-print-only" in page and "First 20 of 30 rows." in page
    assert page.count("C29") >= 1  # the whole list, not a sample (itables' maxBytes off)


def test_row_labels_format_each_row_as_its_quantity():
    summary = pd.Series({"n_customers": 2000.0, "top20_share": 0.6625, "mean": 531.123, "model": "BG/NBD",
                         "p_value": float("nan")}, name="value").to_frame()
    texts = format_frame(summary, row_labels=True)
    assert texts.iloc[:, 0].tolist() == ["customers", "top20 share", "mean", "model", "p value"]
    assert texts["value"].tolist() == ["2,000", "66.2%", "531.1", "BG/NBD", DASH]


@pytest.mark.parametrize("share, text", [(0.85, "85 %"), (1.0, "100 %"), (0.0, "0 %"), (0.9952, "99.5 %"),
                                         (0.9996, "> 99.9 %"), (0.004, "0.4 %"), (0.0004, "< 0.1 %"),
                                         (0.996, "99.6 %"), (0.5, "50 %"), (float("nan"), DASH)])
def test_format_share_never_rounds_to_0_or_100_percent_unless_exact(share, text):
    """'100 % stayed, 91 customers moved' contradicts itself: a share short of 1 is written short of 100 %."""
    from segwork.plots.tables import format_share

    assert format_share(share) == text


def test_format_share_refuses_a_percentage():
    from segwork.plots.tables import format_share

    with pytest.raises(ValueError, match="share=85"):
        format_share(85)


def test_a_share_column_never_shows_100_percent_short_of_1():
    assert format_value(0.9996, "stayed_share") == "99.96%"
    assert format_value(0.99999, "stayed_share") == "> 99.99%"
    assert format_value(1.0, "stayed_share") == "100.0%"
