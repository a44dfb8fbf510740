"""segwork.plots.history: P(alive) over time agrees with the prepared table at the end; heterogeneity plots."""
from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segwork.datasets import make_crm  # noqa: E402
from segwork.errors import DataError  # noqa: E402
from segwork.plots.history import p_alive_history, plot_heterogeneity, plot_history_alive  # noqa: E402
from segwork.prepare import prepare  # noqa: E402


@pytest.fixture(scope="module")
def prepared():
    data = make_crm(n_customers=800, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data, prepare(data)


def test_history_ends_at_the_tables_p_alive_and_is_nan_before_the_first_purchase(prepared):
    data, p = prepared
    ids = list(p.table.index[:25])
    dates = pd.date_range(end=data.observation_end, periods=30, freq="14D")
    h = p_alive_history(p.clv.transaction_model, data.transactions, ids, dates)
    assert h.shape == (25, 30) and list(h.index) == [str(i) for i in ids]
    np.testing.assert_allclose(h.iloc[:, -1].to_numpy(), p.table.loc[ids, "p_alive"].to_numpy(), rtol=1e-9)
    first = h.attrs["first_purchase"]
    for cid in h.index:
        before = h.columns < first[cid]
        assert h.loc[cid, before].isna().all() and h.loc[cid, ~before].between(0, 1).all()


def test_p_alive_only_falls_after_the_last_purchase(prepared):
    """Between purchases P(alive) only falls: each step without a purchase lowers it (MBG/NBD)."""
    data, p = prepared
    cid = p.table.index[p.table["frequency"] >= 3][0]
    own = pd.to_datetime(data.transactions.loc[data.transactions["customer_id"].astype(str) == str(cid), "date"])
    last = own.max().normalize()
    dates = pd.date_range(last, data.observation_end, freq="7D")
    h = p_alive_history(p.clv.transaction_model, data.transactions, [cid], dates).iloc[0].to_numpy()
    assert np.all(np.diff(h) <= 1e-12)


def test_plots_and_errors(prepared):
    data, p = prepared
    ids = list(p.table.index[:3])
    h = p_alive_history(p.clv.transaction_model, data.transactions, ids,
                        pd.date_range(end=data.observation_end, periods=10, freq="30D"))
    ax = plot_history_alive(h, data.transactions)
    assert len(ax.lines) == 3
    axs = plot_heterogeneity(p.clv.transaction_model)
    assert "gamma" in axs[0].get_title() and "beta" in axs[1].get_title()
    plt.close("all")
    with pytest.raises(DataError, match="no purchase"):
        p_alive_history(p.clv.transaction_model, data.transactions, ["nobody"], h.columns)
