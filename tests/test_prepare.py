"""prepare_table: the one prepared customer table (customer table + p_alive + clv) from a data set or transactions."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import segwork
from segwork.clv import bg_nbd_inputs, predict_clv
from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.features import customer_table
from segwork.prepare import prepare_table


@pytest.fixture(scope="module")
def data():
    return make_crm(n_customers=1500, random_state=21)


def test_prepare_table_adds_value_columns_and_measures_at_the_window_end(data):
    table = prepare_table(data)
    assert {"p_alive", "clv"} <= set(table.columns)
    assert table["p_alive"].between(0, 1).all() and np.isfinite(table["clv"]).all()
    last = data.transactions.groupby("customer_id")["date"].max()
    expected = (pd.Timestamp(data.observation_end) - last).dt.days.astype(float)
    assert (table["days_since_last"] == expected.reindex(table.index)).all()
    assert prepare_table(table) is table  # a prepared table is used as it is
    assert segwork.prepare_table is prepare_table


def test_transactions_and_a_customer_table_give_the_same_columns(data):
    tx = data.transactions[data.transactions["date"] <= data.observation_end]
    from_tx = prepare_table(tx, horizon=6, discount_rate=0.02, margin=0.5)
    base = customer_table(tx)
    pd.testing.assert_frame_equal(from_tx.drop(columns=["p_alive", "clv"]), base)
    pd.testing.assert_frame_equal(from_tx[["p_alive", "clv"]],
                                  predict_clv(base, horizon=6, discount_rate=0.02, margin=0.5))
    pd.testing.assert_frame_equal(prepare_table(base, horizon=6, discount_rate=0.02, margin=0.5), from_tx)


def test_refuses_what_it_cannot_prepare(data):
    with pytest.raises(TypeError, match="give a Dataset.*got str"):
        prepare_table("export.csv")
    with pytest.raises(DataError, match="neither canonical transactions .* nor a customer table"):
        prepare_table(pd.DataFrame({"x": [1]}))
    for bad in ({"horizon": 0}, {"horizon": 2.5}, {"discount_rate": -1.0}, {"margin": float("nan")}):
        # DataError, as the CLV functions raise for the same numbers (issue 18); still a ValueError
        with pytest.raises(DataError, match=next(iter(bad))):
            prepare_table(data, **bad)


def test_without_repeat_buyers_the_clv_columns_are_left_out_with_a_warning():
    tx = pd.DataFrame({"customer_id": ["a", "b", "c"], "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                       "amount": [10.0, 20.0, 30.0]})
    with pytest.warns(UserWarning, match="no CLV columns"):
        table = prepare_table(tx)
    assert "clv" not in table.columns and len(table) == 3


def test_prepare_keeps_the_clv_fit_behind_the_table():
    """prepare() is prepare_table() plus the fitted models (issue 18: fitted once, reused downstream)."""
    import warnings

    from segwork.clv import ClvFit
    from segwork.prepare import prepare

    data = make_crm(n_customers=1500, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare(data)
        table = prepare_table(data)
    pd.testing.assert_frame_equal(prepared.table, table)
    fit = prepared.clv
    assert isinstance(fit, ClvFit) and fit.transaction_model_key == "mbgnbd"
    x = bg_nbd_inputs(table)
    np.testing.assert_array_equal(fit.transaction_model.p_alive(x["frequency"], x["recency"], x["T"]),
                                  table["p_alive"].to_numpy())
    assert fit.p_alive_model == table.attrs["p_alive_model"]
    assert prepare(table).clv is None  # a table that has clv already: nothing fitted


# --------------------------------------------------------------------------- saved once, loaded by every notebook


def test_a_saved_table_loads_equal_to_a_fresh_one_and_other_settings_reuse_the_fit(data, tmp_path, monkeypatch):
    from segwork.clv.transaction import TransactionModel
    from segwork.prepare import load_or_prepare, load_prepared_table, prepare, save_prepared_table

    prepared = prepare(data)
    folder = save_prepared_table(prepared, tmp_path / "run" / "table", data=data)
    assert sorted(p.name for p in folder.iterdir()) == ["clv.json", "table.parquet"]
    assert [p.name for p in folder.parent.iterdir()] == ["table"]  # no temporary folder left behind
    fresh_other = prepare(data, horizon=6, discount_rate=0.02, margin=0.3)

    def no_fit(*args, **kwargs):
        raise AssertionError("refitted")

    monkeypatch.setattr(TransactionModel, "fit", no_fit)
    loaded = load_or_prepare(data, folder)
    pd.testing.assert_frame_equal(loaded.table, prepared.table, check_exact=True)
    assert loaded.table.attrs == prepared.table.attrs and loaded.notes == prepared.notes
    assert loaded.clv.transaction_model.params_ == prepared.clv.transaction_model.params_
    other = load_prepared_table(folder, horizon=6, discount_rate=0.02, margin=0.3)
    pd.testing.assert_frame_equal(other.table, fresh_other.table, check_exact=True)
    with pytest.raises(DataError, match="transaction_model='mbgnbd', not 'bgnbd'"):
        load_prepared_table(folder, transaction_model="bgnbd")
    with pytest.raises(DataError, match="horizon"):
        load_prepared_table(folder, horizon=0)
    with pytest.raises(DataError, match="horizon"):
        load_prepared_table(folder, horizon=12.0)  # refused as prepare refuses it, even with the saved value
    with pytest.raises(DataError, match="already holds files"):
        save_prepared_table(prepared, folder)
    with pytest.raises(DataError, match="not a prepared-table folder"):
        load_prepared_table(tmp_path)


def test_without_a_folder_load_or_prepare_prepares(data):
    from segwork.prepare import load_or_prepare, prepare

    for empty in (None, ""):
        pd.testing.assert_frame_equal(load_or_prepare(data, empty).table, prepare(data).table, check_exact=True)


def test_a_fallback_note_is_kept_and_said_again_on_load(tmp_path):
    from segwork.prepare import load_prepared_table, prepare, save_prepared_table

    few = make_crm(n_customers=40, random_state=3)  # both models reach a limit of their parameters: two notes
    with pytest.warns(UserWarning) as said:  # from a model at a limit of its parameters (a usable fit, said)
        prepared = prepare(few)
    assert prepared.notes and set(prepared.notes) <= {str(w.message) for w in said}
    save_prepared_table(prepared, tmp_path / "t", data=few)
    with pytest.warns(UserWarning) as again:
        loaded = load_prepared_table(tmp_path / "t")
    assert loaded.notes == prepared.notes and {str(w.message) for w in again} == set(prepared.notes)


def test_a_table_without_clv_columns_saves_and_loads_with_its_reason(tmp_path):
    from segwork.prepare import load_prepared_table, prepare, save_prepared_table

    tx = pd.DataFrame({"customer_id": ["a", "b", "c"], "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                       "amount": [10.0, 20.0, 30.0]})  # no repeat buyer: no transaction model, no CLV columns, and why
    with pytest.warns(UserWarning, match="no CLV columns"):
        prepared = prepare(tx)
    assert prepared.clv is None and "clv" not in prepared.table.columns and "p_alive" not in prepared.table.columns
    assert prepared.record.model("transaction").status == "failed"
    assert prepared.record.fallback("no p_alive").columns == ("p_alive", "clv")
    assert prepared.table.attrs["clv_record"] == prepared.record.to_dict()
    save_prepared_table(prepared, tmp_path / "t")
    with pytest.warns(UserWarning, match="no CLV columns"):
        loaded = load_prepared_table(tmp_path / "t", margin=0.3)
    assert loaded.clv is None and loaded.record == prepared.record
    pd.testing.assert_frame_equal(loaded.table, prepared.table, check_exact=True)


def test_a_gamma_gamma_at_its_limit_keeps_clv_and_p_alive_with_the_limit_shown(tmp_path):
    """Issue 19: the spend fit ran off to p -> infinity (every purchase of a customer has the same value), became a
    ConvergenceError, and prepare_table dropped clv AND p_alive. Both data sets did so before."""
    from segwork.clv import simulate_one_price_transactions
    from segwork.errors import IdentificationWarning
    from segwork.prepare import clv_record_of, load_prepared_table, prepare, save_prepared_table

    for data in (simulate_one_price_transactions(1000, random_state=0), make_crm(n_customers=60, random_state=0)):
        with pytest.warns(IdentificationWarning, match=r"GammaGamma\.fit: .*not identified"):
            prepared = prepare(data)
        table = prepared.table
        assert table["p_alive"].between(0, 1).all() and np.isfinite(table["clv"]).all()
        spend = prepared.record.model("spend")
        assert spend.status == "at limit" and set(spend.limit) and spend.message
        assert prepared.clv.record == prepared.record and clv_record_of(table) == prepared.record
        shown = prepared.record.to_markdown()
        assert "Gamma-Gamma (spend model): at limit" in shown and ", ".join(spend.limit) in shown
        assert any("not identified" in note for note in prepared.notes)  # the warning is a note of the page too
    folder = save_prepared_table(prepared, tmp_path / "t", data=data)
    with pytest.warns(UserWarning):
        loaded = load_prepared_table(folder, margin=0.5)  # other settings: clv recomputed, the record kept
    assert loaded.record == prepared.record and loaded.clv.record == prepared.record
    assert clv_record_of(loaded.table) == prepared.record


def test_a_plain_fit_records_two_fitted_models_and_no_fallback(data):
    from segwork.prepare import prepare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare(data)
    assert [m.status for m in prepared.record.models] in (["fitted", "fitted"], ["fitted", "at limit"])
    assert [m.role for m in prepared.record.models] == ["transaction", "spend"]
    assert prepared.record.model("transaction").label == prepared.table.attrs["p_alive_model"]
    assert prepared.record.fallbacks == () or all(f.kind == "heavy-tailed spend" for f in prepared.record.fallbacks)
