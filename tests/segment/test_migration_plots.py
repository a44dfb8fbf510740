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


def test_the_headline_never_says_100_percent_stayed_while_someone_moved():
    """'needs: 100% stayed, 91 customers moved' contradicted itself through rounding."""
    from segwork.plots.migration import migration_headline, nobody_moved_text

    ids = [str(i) for i in range(1000)]
    before = pd.Series("A", index=ids)
    after = before.copy()
    after.iloc[:3] = "B"  # 3 of 1,000 moved: 99.7 % stayed
    m = migration(before, after)
    text = migration_headline(m)
    assert "3 customers moved" in text and "99.7 % stayed" in text and "100" not in text
    assert nobody_moved_text(m) is None


def test_a_segmentation_where_nobody_moved_gets_one_sentence():
    from segwork.plots.migration import migration_headline, nobody_moved_text

    before = pd.Series({"1": "A", "2": "B", "3": "B"})
    after = pd.Series({"1": "A", "2": "B", "3": "B", "4": "A"})  # customer 4 is new
    m = migration(before, after, name="apriori", before_label="2024-09-30", after_label="2024-12-31")
    assert migration_headline(m) == "apriori: 100 % stayed, 0 customers moved"
    text = nobody_moved_text(m)
    assert text.startswith("**apriori**: nobody moved: all 3 customers of both dates kept their segment")
    assert "1 new customer placed" in text and "left out" in text
