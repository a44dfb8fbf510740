"""segwork.plots.migration: the Sankey carries every flow of the migration; the heatmap shows the row shares."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segwork.errors import DataError  # noqa: E402
from segwork.plots.migration import plot_migration_shares, sankey  # noqa: E402
from segwork.segment.migration import migration  # noqa: E402


@pytest.fixture
def moves():
    before = pd.Series({"1": "A", "2": "A", "3": "B", "4": "B"})
    after = pd.Series({"1": "A", "2": "B", "3": "B", "4": "A", "5": "B"})
    return migration(before, after, value_after=pd.Series({k: 10.0 * int(k) for k in after.index}),
                     before_label="2024-09-30", after_label="2024-12-31")


def test_sankey_has_one_band_per_flow_and_the_customers_add_up(moves):
    fig = sankey(moves, currency="EUR")
    trace = fig.data[0]
    assert len(trace.node.label) == len(moves.counts.index) + len(moves.counts.columns)
    assert sum(trace.link.value) == moves.counts.to_numpy().sum() == 5
    assert any("50 EUR" in text for text in trace.link.customdata)  # the new customer's value on hover
    by_value = sankey(moves, by="value_after").data[0]
    assert sum(by_value.link.value) == pytest.approx(moves.value_after.to_numpy().sum())
    with pytest.raises(DataError, match="no values"):
        sankey(moves, by="value_before")


def test_heatmap_annotates_the_row_shares(moves):
    ax = plot_migration_shares(moves)
    texts = {t.get_text() for t in ax.texts}
    assert {"50%", "100%"} <= texts
    plt.close(ax.figure)
