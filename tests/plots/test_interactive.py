"""Plotly builders (segwork.plots.interactive), the page block with its static twin (plots.embed) and the shared
plotly.js of the rendered page (report.render): values on hover, aggregates only, nothing from the web."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly  # noqa: E402
import pytest  # noqa: E402

from segwork.act import gains_curve  # noqa: E402
from segwork.plots import clv as cplots  # noqa: E402
from segwork.plots import embed, interactive  # noqa: E402
from segwork.report.render import extract_figures, render_html  # noqa: E402
from segwork.segment import segment_grid  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def curves():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.random(5000) < 0.2).astype(int)
    scores = {"good": y + rng.random(5000), "noise": pd.Series(rng.random(5000))}
    return pd.concat({n: gains_curve(y, s) for n, s in scores.items()}, names=["model"]).reset_index("model")


def test_rfm_map_cells_are_shares_with_segment_and_count_on_hover():
    rng = np.random.default_rng(1)
    scores = pd.DataFrame({"R": rng.integers(1, 6, 1000), "FM": rng.integers(1, 6, 1000)})
    fig = interactive.rfm_map(scores, segment_grid())
    heat = fig.data[0]
    z = np.array(heat.z)
    assert z.shape == (5, 5) and z.sum() == pytest.approx(1.0)
    assert list(heat.y) == ["R 5", "R 4", "R 3", "R 2", "R 1"] and list(heat.x) == [f"FM {i}" for i in range(1, 6)]
    # the top-right cell: R 5, FM 5, its count and segment on hover
    n = int(((scores["R"] == 5) & (scores["FM"] == 5)).sum())
    assert heat.customdata[0][4][0] == n and z[0][4] == pytest.approx(n / 1000)
    assert heat.customdata[0][4][1] == segment_grid().loc[5, 5]
    assert "segment" in heat.hovertemplate and "customers" in heat.hovertemplate


def test_clv_distribution_counts_every_customer_once_and_no_pile_at_the_floor():
    rng = np.random.default_rng(2)
    values = pd.Series(np.r_[np.full(740, 1e-6), rng.lognormal(5, 1.2, 20000)])
    fig = interactive.clv_distribution(values, currency="EUR")
    hist, apart = fig.data[0], fig.data[1]
    assert sum(hist.y) + sum(apart.y) == len(values)
    assert list(apart.y) == [740] and "below 0.01 EUR" in apart.name
    assert hist.y[0] < 10  # the first bin holds its own values, not the 740
    assert len(hist.y) == 40 and "customers" in hist.hovertemplate  # aggregates: 40 bars for 20,740 customers
    assert {t.name.split()[0] for t in fig.data[2:]} == {"mean", "median"}
    named = interactive.clv_distribution(values, currency="EUR", label="CLV (margin 30 %)")  # the run's margin
    assert named.layout.title.text == "Distribution of CLV (margin 30 %)"
    assert named.layout.xaxis.title.text.startswith("CLV (margin 30 %) (EUR)")


def test_gains_and_lift_lines_match_the_curves_and_are_thinned(curves):
    fig = interactive.gains(curves, max_points=50)
    names = [t.name for t in fig.data]
    assert names == ["good", "noise", "random", "perfect"]
    good = curves[curves["model"] == "good"]
    x, y = np.array(fig.data[0].x), np.array(fig.data[0].y)
    assert len(x) <= 51 and x[-1] == 1.0
    np.testing.assert_allclose(y, np.interp(x, good["share_contacted"], good["gain"]))
    assert "contacted" in fig.data[0].hovertemplate
    lift = interactive.lift(curves)
    assert [t.name for t in lift.data] == ["good", "noise", "perfect", "random (lift 1)"]
    np.testing.assert_allclose(lift.data[0].y, good["lift"].to_numpy())
    assert set(lift.data[-1].y) == {1.0}


def test_tracking_drops_the_partial_period_like_the_static_figure():
    dates = pd.date_range("2024-01-07", periods=10, freq="7D")
    end = dates[-1] + pd.Timedelta(days=2)
    table = pd.DataFrame({"period_start": list(dates - pd.Timedelta(days=7))[1:] + [dates[-1]],
                          "date": list(dates[1:]) + [end], "length": [1.0] * 9 + [2 / 7],
                          "actual": [100.0] * 9 + [28.0], "predicted": [98.0] * 9 + [29.0],
                          "period": ["calibration"] * 5 + ["holdout"] * 5})
    fig = interactive.tracking(table, cumulative=False, time_unit="weeks")
    assert [len(t.y) for t in fig.data] == [9, 9] and min(fig.data[0].y) == 100.0
    assert cplots.partial_period_note(table) in fig.layout.title.text
    assert any(s.line.dash == "dot" for s in fig.layout.shapes)  # the calibration end


def test_bundle_has_plotly_for_jupyterlab_and_a_block_with_the_static_image_for_the_page(curves):
    fig = interactive.gains(curves)
    _f, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    bundle = embed.figure_bundle(fig, ax)
    assert set(bundle) == {"application/vnd.plotly.v1+json", "text/html", "image/png", "text/plain"}
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["name"] == "good"
    page = bundle["text/html"]
    assert page.count('class="plotly-graph-div"') == 1 and 'class="segwork-static"' in page
    assert "data:image/png;base64," + bundle["image/png"] in page
    assert "@media print" in page and "cdn.plot.ly" not in page and 'src="http' not in page  # nothing from the web
    assert "<script src" not in page  # plotly.js itself comes once per page from the renderer
    assert not plt.get_fignums()  # the static figure was closed: the inline backend does not show it again


def test_rendered_page_loads_plotly_js_once_from_the_run_folder(tmp_path, curves):
    nb = nbformat.v4.new_notebook()
    outputs = []
    for fig in (interactive.gains(curves), interactive.lift(curves)):
        _f, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        outputs.append(nbformat.v4.new_output("display_data", data=embed.figure_bundle(fig, ax)))
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = outputs
    nb.cells = [nbformat.v4.new_markdown_cell("# Page"), cell, nbformat.v4.new_markdown_cell("*Figure 1.* text")]
    info = render_html(nb, tmp_path / "page.html", title="page")
    body = (tmp_path / "page.html").read_text()
    src = f"assets/plotly-{plotly.__version__}.min.js"
    assert body.count(f'src="{src}"') == 1 and body.index(src) < body.index("</head>")
    assert (tmp_path / src).stat().st_size > 1_000_000 and info["plotly_figures"] == 2
    assert body.count("Plotly.newPlot") == 2 and "cdn.plot.ly" not in body
    assert extract_figures(nb, tmp_path / "figures") == ["fig-01.png", "fig-02.png"]  # the static twins
    # a page without Plotly figures gets no script and no asset
    render_html(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("x")]), tmp_path / "sub" / "p.html",
                title="p")
    assert "plotly" not in (tmp_path / "sub" / "p.html").read_text() and not (tmp_path / "sub" / "assets").exists()
    json.dumps(nb)  # the notebook stays plain JSON
