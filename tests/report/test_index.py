"""The index page: the run's data set and parameters, the comparison tables, links, and honest gaps."""
from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from segwork.report.discover import discover_notebooks, index_layout
from segwork.report.index import as_table, build_index, format_value, load_run_metrics

#: The sections and key numbers the shipped notebooks declare in their metadata (what the runner puts in run.json).
LAYOUT = index_layout(discover_notebooks(Path(__file__).resolve().parents[2] / "notebooks"))


class Tables(HTMLParser):
    """Collect every table as rows of (text, classes) cells, and every link target."""

    def __init__(self):
        super().__init__()
        self.tables, self.links, self._cell, self._classes = [], [], None, ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell, self._classes = [], attrs.get("class") or ""
        elif tag == "a":
            self.links.append(attrs.get("href"))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(("".join(self._cell).strip(), self._classes))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start:html.index("</section>", start)]


def nb(name, status="ok", seconds=1.0, **extra):
    return {"name": name, "title": name.replace("_", " "), "status": status, "seconds": seconds,
            "html": f"{name}.html" if status == "ok" else None, "overhead_seconds": 0.5, "warnings": 0, **extra}


def write_metrics(run: Path, name: str, metrics: dict) -> None:
    (run / name).mkdir(parents=True, exist_ok=True)
    (run / name / "metrics.json").write_text(json.dumps(metrics))


COMPARISON = [
    {"segmentation": "a priori", "n_segments": 4, "smallest_share": 0.12, "silhouette": 0.05, "ari_truth": 0.08},
    {"segmentation": "k-means <RFM>", "n_segments": 5, "smallest_share": 0.09, "silhouette": 0.41, "ari_truth": 0.62},
    {"segmentation": "needs-based", "n_segments": 5, "smallest_share": 0.15, "silhouette": 0.22, "ari_truth": 0.71},
]
HOLDOUT = {"BG/NBD": {"mae": 1.20, "rmse": 2.0}, "Pareto/NBD": {"mae": 1.10, "rmse": 2.1}}
RELATIONSHIPS = [{"type": "vulnerable", "customers": 1200, "expected_profit_effect": "+15-20 %"},
                 {"type": "loyal", "customers": 5000, "expected_profit_effect": "+2-3 %"}]


@pytest.fixture
def full_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_metrics(run, "01_data_overview", {"n_customers": 2000, "revenue": 123456.7, "top20_revenue_share": 0.66,
                                            "first_date": "2023-01-01", "currency": "EUR"})
    write_metrics(run, "05_clv_models", {"holdout": HOLDOUT, "n_holdout_customers": 2000})
    write_metrics(run, "06_value_segmentation", {"relationship_types": RELATIONSHIPS})
    write_metrics(run, "09_compare_segmentations", {"comparison": COMPARISON})
    record = {
        "run_id": "20250101-000000-synthetic", "status": "ok", "created": "2025-01-01T00:00:00", "seconds": 42.0,
        "dataset": "synthetic", "dataset_label": "synthetic CRM data (2,000 customers, random_state 0)",
        "parameters": [{"name": "n_customers", "value": "2000", "source": "-p", "notebooks": "all"}],
        "jobs": 1, "command": "segwork report -p n_customers 2000", "segwork_version": "0", "python": "3",
        "index": LAYOUT,
        "notebooks": [nb("01_data_overview", seconds=5.0), nb("05_clv_models", seconds=10.0),
                      nb("06_value_segmentation"), nb("09_compare_segmentations")],
    }
    return run, record


def test_index_shows_data_set_parameters_and_every_comparison(full_run):
    run, record = full_run
    html = build_index(record, run)
    assert "synthetic CRM data (2,000 customers, random_state 0)" in html
    params = parse(section(html, "about")).tables[0]
    assert [c[0] for c in params[1]] == ["n_customers", "2000", "-p", "all"]

    seg = parse(section(html, "segmentations")).tables[0]
    assert len(seg) == 1 + len(COMPARISON)
    names = [row[0][0] for row in seg[1:]]
    assert names == ["a priori", "k-means <RFM>", "needs-based"]  # escaped in HTML, read back as text
    header = [c[0] for c in seg[0]]
    ari = header.index("ARI vs truth")
    sil = header.index("silhouette")
    # the best value of a column is marked: highest ARI (needs-based), highest silhouette (k-means)
    assert "best" in seg[3][ari][1] and "best" not in seg[2][ari][1]
    assert "best" in seg[2][sil][1] and "best" not in seg[3][sil][1]
    assert seg[1][header.index("smallest segment")][0] == "12.0%"
    assert "How to read it" in section(html, "segmentations")

    clv = parse(section(html, "clv")).tables[0]
    rows = {row[0][0]: row for row in clv[1:]}
    mae = [c[0] for c in clv[0]].index("MAE")
    assert "best" in rows["Pareto/NBD"][mae][1] and "best" not in rows["BG/NBD"][mae][1]

    rel = parse(section(html, "relationships")).tables[0]
    assert [row[0][0] for row in rel[1:]] == ["vulnerable", "loyal"]
    assert "+15-20 %" in section(html, "relationships")


def test_index_links_every_notebook_and_is_self_contained(full_run):
    run, record = full_run
    html = build_index(record, run)
    links = parse(html).links
    for entry in record["notebooks"]:
        assert f"{entry['name']}.html" in links
    assert "<script" not in html and "http://" not in html and "https://" not in html
    table = parse(section(html, "notebooks")).tables[0]
    assert table[1][3][0] == "5.0 s" and table[2][3][0] == "10.0 s"
    assert table[-1][3][0] == "17.0 s"  # the total of all notebooks


def test_missing_skipped_and_failed_sections_say_so(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_metrics(run, "06_value_segmentation", {"skipped": "CDNOW has no customer profiles"})
    record = {
        "run_id": "r", "status": "failed", "error": "notebook 05_clv_models.ipynb failed in cell 4 (fit()): ValueError: x",
        "dataset": "cdnow", "dataset_label": "CDNOW", "index": LAYOUT, "notebooks": [
            nb("05_clv_models", status="failed", error="notebook 05_clv_models.ipynb failed in cell 4"),
            nb("06_value_segmentation")],
    }
    html = build_index(record, run)
    assert "This run failed." in html and "failed in cell 4" in html
    assert "its notebook failed in this run" in section(html, "clv")
    assert "skipped this analysis: CDNOW has no customer profiles" in section(html, "relationships")
    assert "not part of this run" in section(html, "segmentations")
    assert "No data overview in this run" in section(html, "data")
    assert "05_clv_models.html" not in parse(html).links  # no link to a page that was not made


def test_a_table_key_that_is_not_a_table_is_reported(tmp_path):
    run = tmp_path / "run"
    write_metrics(run, "09_compare_segmentations", {"comparison": "oops"})
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": LAYOUT,
                        "notebooks": [nb("09_compare_segmentations")]}, run)
    assert "is not a table" in section(html, "segmentations")


def test_metrics_beside_the_folder_are_found_too(tmp_path):
    (tmp_path / "02_x.metrics.json").write_text('{"a": 1}')
    (tmp_path / "03_y").mkdir()
    (tmp_path / "03_y" / "metrics.json").write_text("{broken")
    got = load_run_metrics(tmp_path, ["02_x", "03_y", "04_z"])
    assert got["02_x"] == {"a": 1} and "unreadable" in got["03_y"] and got["04_z"] is None


@pytest.mark.parametrize("value, column, text", [
    (1234567, "n", "1,234,567"), (0.6625, "top20_revenue_share", "66.2%"), (0.6625, "silhouette", "0.662"),
    (123456.7, "revenue", "123,457"), (14.0, "days", "14"), (None, "x", "–"), (float("nan"), "x", "–"),
    (True, "x", "yes"), ("text", "x", "text"),
])
def test_format_value(value, column, text):
    assert format_value(value, column) == text


def test_as_table_shapes():
    assert as_table([{"a": 1}, {"a": 2, "b": 3}]) == {"columns": ["a", "b"], "rows": [[1, None], [2, 3]]}
    assert as_table({"m1": {"mae": 1}, "m2": {"mae": 2}}, "model") == {
        "columns": ["model", "mae"], "rows": [["m1", 1], ["m2", 2]]}
    assert as_table({"x": 1, "y": 2}) == {"columns": ["name", "value"], "rows": [["x", 1], ["y", 2]]}
    assert as_table("nope") is None and as_table([]) is None


def test_columns_saved_in_alphabetical_order_are_put_in_reading_order(tmp_path):
    """save_metrics sorts keys; the index still shows the approach first and long prose last."""
    run = tmp_path / "run"
    records = [{"ari_truth": 0.5, "method": "a long description of how the segments were made, in words",
                "n_segments": 4, "segmentation": "rfm", "zeta": 1.0}]
    write_metrics(run, "09_compare_segmentations", {"comparison": json.loads(json.dumps(records, sort_keys=True))})
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": LAYOUT,
                        "notebooks": [nb("09_compare_segmentations")]}, run)
    part = section(html, "segmentations")
    header = [c[0] for c in parse(part).tables[0][0]]
    assert header == ["approach", "segments", "ARI vs truth", "zeta"]
    assert "method:</span> a long description" in part  # prose goes under the table


def test_prose_columns_become_notes_and_signed_errors_are_best_near_zero(tmp_path):
    run = tmp_path / "run"
    holdout = [{"model": "A", "mae": 2.0, "aggregate_error_pct": -0.5,
                "note": "a long explanation of the model that would make the table far too wide"},
               {"model": "B", "mae": 1.0, "aggregate_error_pct": 3.0, "note": "short but still long enough, really"}]
    write_metrics(run, "05_clv_models", {"holdout": holdout})
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": LAYOUT,
                        "notebooks": [nb("05_clv_models")]}, run)
    part = section(html, "clv")
    table = parse(part).tables[0]
    header = [c[0] for c in table[0]]
    assert header == ["model", "MAE", "total error %"]  # the name once, prose out of the table
    rows = {r[0][0]: r for r in table[1:]}
    assert "best" in rows["B"][1][1] and "best" in rows["A"][2][1]  # lowest MAE; total error closest to 0
    assert '<dl class="notes">' in part and "far too wide" in part


def test_the_shipped_notebooks_declare_the_sections_and_the_data_numbers():
    assert [(s["id"], s["notebook"], s["key"]) for s in LAYOUT["sections"]] == [
        ("segmentations", "09_compare_segmentations", "comparison"), ("clv", "05_clv_models", "holdout"),
        ("clv_intervals", "05_clv_models", "holdout_total_interval"),
        ("clv_covariates", "05_clv_models", "covariate_effects"),
        ("relationships", "06_value_segmentation", "relationship_types"), ("campaigns", "08_campaigns", "campaigns"),
        ("defection", "10_defection", "why_customers_leave"),
        ("migration", "11_segment_migration", "migration")]
    assert LAYOUT["numbers"]["notebook"] == "01_data_overview"
    assert {"n_customers", "revenue", "top20_revenue_share"} <= {n["key"] for n in LAYOUT["numbers"]["numbers"]}


def test_index_py_names_no_notebook_and_no_metric_key():
    source = (Path(__file__).resolve().parents[2] / "segwork" / "report" / "index.py").read_text()
    for stem in [p.stem for p in discover_notebooks(Path(__file__).resolve().parents[2] / "notebooks")]:
        assert stem not in source and f'"{stem[:3]}' not in source, stem
    for key in ("comparison", "holdout", "relationship_types", "top20_revenue_share", "n_transactions", "ari_truth"):
        assert f'"{key}"' not in source, key


def test_a_section_declared_by_any_notebook_is_rendered(tmp_path, make_nb):
    """A new notebook adds its own table to the index through its metadata alone."""
    nbs = tmp_path / "nbs"
    make_nb(nbs / "03_churn.ipynb", 'output_dir = "."', "pass", metadata={"segwork": {"index_section": {
        "id": "churn", "heading": "Churn models", "key": "scores", "first_column": "model", "rank": 1,
        "intro": "Churn models compared.", "read": "Higher AUC is better.", "higher_better": ["auc"],
        "labels": {"auc": "AUC"}}}})
    make_nb(nbs / "01_data.ipynb", 'output_dir = "."', "pass", metadata={"segwork": {"index_numbers": {
        "heading": "Data", "numbers": [{"key": "rows", "label": "rows"}, {"key": "sales", "label": "sales",
                                                                           "unit_key": "currency"}]}}})
    run = tmp_path / "run"
    write_metrics(run, "03_churn", {"scores": {"logit": {"auc": 0.71}, "forest": {"auc": 0.78}}})
    write_metrics(run, "01_data", {"rows": 1234, "sales": 99.5, "currency": "CHF"})
    layout = index_layout(discover_notebooks(nbs))
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": layout,
                        "notebooks": [nb("01_data"), nb("03_churn")]}, run)
    table = parse(section(html, "churn")).tables[0]
    assert [c[0] for c in table[0]] == ["model", "AUC"]
    rows = {r[0][0]: r for r in table[1:]}
    assert "best" in rows["forest"][1][1] and "best" not in rows["logit"][1][1]
    data = section(html, "data")
    assert "1,234" in data and "sales (CHF)" in data and 'href="01_data.html"' in data


def test_a_section_without_its_key_is_refused(tmp_path, make_nb):
    from segwork.errors import DataError

    make_nb(tmp_path / "01_x.ipynb", 'output_dir = "."', "pass",
            metadata={"segwork": {"index_section": {"id": "x", "heading": "X"}}})
    with pytest.raises(DataError, match="01_x.ipynb.*needs key"):
        index_layout(discover_notebooks(tmp_path))


def test_clv_sections_show_the_interval_and_the_covariate_effects_or_why_skipped(tmp_path):
    """Notebook 05 declares three sections (index_sections): holdout, its total's interval, channel effects."""
    ids = [s["id"] for s in LAYOUT["sections"] if s["notebook"] == "05_clv_models"]
    assert ids == ["clv", "clv_intervals", "clv_covariates"]
    run = tmp_path / "run"
    interval = {"model": "BG/NBD", "interval": 0.9, "predicted_total": 1653.4, "lower": 1546.2, "upper": 1798.3,
                "actual_total": 1882.0, "covered": False}
    effects = [{"channel": "email", "customers": 272, "purchase_multiplier": 1.0, "new_customer_clv": 760.0},
               {"channel": "tv", "customers": 301, "purchase_multiplier": 0.66, "purchase_multiplier_low": 0.55,
                "purchase_multiplier_high": 0.80, "new_customer_clv": 359.0}]
    write_metrics(run, "05_clv_models", {"holdout": [], "holdout_total_interval": [interval],
                                         "covariate_effects": effects})
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": LAYOUT,
                        "notebooks": [nb("05_clv_models")]}, run)
    rows = parse(section(html, "clv_intervals")).tables[0]
    assert [c[0] for c in rows[0]][:5] == ["model", "predicted total", "90 % low", "90 % high", "actual total"]
    assert [c[0] for c in rows[1]][:6] == ["BG/NBD", "1,653", "1,546", "1,798", "1,882", "no"]
    rows = parse(section(html, "clv_covariates")).tables[0]
    assert [r[0][0] for r in rows[1:]] == ["email", "tv"] and "purchase rate x" in [c[0] for c in rows[0]]
    # CDNOW: no profiles, the section says why instead of a table
    write_metrics(run, "05_clv_models", {"holdout": [], "holdout_total_interval": [interval],
                                         "covariate_effects": {"skipped": "no customer profiles"}})
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": LAYOUT,
                        "notebooks": [nb("05_clv_models")]}, run)
    assert "skipped this analysis: no customer profiles" in section(html, "clv_covariates")


def test_public_command_hides_where_the_files_lay():
    from segwork.report.index import public_command

    assert public_command("segwork report --output /tmp/x/run1 -p n_customers 2000") == \
        "segwork report --output .../run1 -p n_customers 2000"
    assert public_command(["segwork", "report"]) == "segwork report"


def test_the_index_bolds_the_model_notebook_05_chose(tmp_path):
    """Issue 21: the index bolded the lowest MAE (GGom/NBD by 1e-7) while notebook 05 named the Pareto/NBD (a tie
    goes to fewer parameters). The bold now reads compare_models' `best` column, the rule's one home."""
    run = tmp_path / "run"
    holdout = [{"model": "Pareto/NBD", "mae": 0.7000001, "rmse": 1.2, "best": True},
               {"model": "GGom/NBD", "mae": 0.7, "rmse": 1.1, "best": False},
               {"model": "BG/NBD", "mae": 0.8, "rmse": 1.3, "best": False}]
    write_metrics(run, "05_clv_models", {"holdout": holdout})
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": LAYOUT,
                        "notebooks": [nb("05_clv_models")]}, run)
    table = parse(section(html, "clv")).tables[0]
    header = [c[0] for c in table[0]]
    assert "best" not in header  # the choice is shown by the bold, not as a column of True/False
    rows = {r[0][0]: r for r in table[1:]}
    mae = header.index("MAE")
    bold = {name for name, r in rows.items() if "best" in r[mae][1]}
    assert bold == {"Pareto/NBD"} and "best" in rows["Pareto/NBD"][0][1]
    assert "best" not in rows["GGom/NBD"][0][1] and "best" in rows["GGom/NBD"][header.index("RMSE")][1]


def test_the_index_names_the_value_the_page_computed(tmp_path):
    """Issue 21: the index said "mean CLV" for one page's revenue and another's margin. A label may say
    {value_label}; the notebook's metrics fill it (segwork.clv.value_label of the run's margin)."""
    from segwork.clv import value_label

    run = tmp_path / "run"
    write_metrics(run, "06_value_segmentation", {"relationship_types": RELATIONSHIPS + [
        {"type": "other", "customers": 10, "mean_clv": 12.5}], "value_label": value_label(0.3)})
    write_metrics(run, "10_defection", {"why_customers_leave": [{"driver": "complaint", "clv_at_stake": 5.0}],
                                        "value_label": value_label(1.0)})
    html = build_index({"run_id": "r", "status": "ok", "dataset_label": "x", "index": LAYOUT,
                        "notebooks": [nb("06_value_segmentation"), nb("10_defection")]}, run)
    assert "mean CLV (margin 30 %)" in section(html, "relationships")
    assert "expected revenue at stake" in section(html, "defection")
    assert "{value_label}" not in html
