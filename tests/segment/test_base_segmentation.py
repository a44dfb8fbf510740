"""The shared Segmentation result: names, sizes, profile, predict, save/load."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork import DataError
from segwork.datasets import make_crm
from segwork.features import customer_table
from segwork.segment import Segmentation, nps, segment_profile


class ByRegion:
    """A picklable segmenter for the tests: the segment is the region."""

    def predict(self, table):
        return table["region"].astype(str).where(table["region"].notna(), "unknown")


@pytest.fixture(scope="module")
def setup():
    data = make_crm(n_customers=1200, random_state=5)
    table = customer_table(data.transactions, data.customers, data.survey)
    labels = table["region"].astype(str)
    return data, table, Segmentation(labels, name="region", method="a priori by region", table=table,
                                     segmenter=ByRegion(), params={"column": "region"})


def test_names_sizes_and_order(setup):
    _, table, seg = setup
    counts = table["region"].astype(str).value_counts()
    assert seg.segments == list(counts.index)  # default order: by size
    assert seg.sizes.to_dict() == counts.to_dict()
    assert seg.shares.sum() == pytest.approx(1.0)
    assert seg.n_segments == table["region"].nunique()
    assert "region" in repr(seg)


def test_profile_sums_to_the_whole(setup):
    _, table, seg = setup
    prof = seg.profile
    assert prof["customers"].sum() == len(table)
    assert prof["share"].sum() == pytest.approx(1.0)
    assert prof["revenue_share"].sum() == pytest.approx(1.0)
    north = table[table["region"] == "north"]
    assert prof.loc["north", "revenue"] == pytest.approx(north["revenue"].mean())
    assert prof.loc["north", "nps"] == pytest.approx(nps(north["recommend"]))
    assert prof.loc["north", "satisfaction"] == pytest.approx(north["satisfaction"].mean())


def test_nps_definition():
    assert nps(pd.Series([10, 9, 8, 7, 0])) == pytest.approx(100 * (2 / 5 - 1 / 5))
    assert np.isnan(nps(pd.Series([np.nan])))


def test_leading_attributes_name_over_represented_values():
    table = pd.DataFrame({"kind": ["B2B"] * 5 + ["B2C"] * 15, "revenue": 1.0},
                         index=[f"c{i}" for i in range(20)])
    labels = pd.Series(["a"] * 5 + ["b"] * 15, index=table.index)
    prof = segment_profile(labels, table)
    assert prof.loc["a", "leading_attributes"].startswith("kind=B2B (100%, x4.0)")


def test_predict_save_and_load_round_trip(setup, tmp_path):
    _, table, seg = setup
    path = seg.save(tmp_path / "seg.pkl")
    again = Segmentation.load(path)
    pd.testing.assert_series_equal(again.labels, seg.labels)
    pd.testing.assert_frame_equal(again.profile, seg.profile)
    new = table.head(10).copy()
    new.index = [f"new{i}" for i in range(10)]
    assert again.predict(new).tolist() == table.head(10)["region"].astype(str).tolist()


def test_bad_labels_and_bad_files(tmp_path):
    with pytest.raises(DataError, match="has no segment"):
        Segmentation(pd.Series(["a", None], index=["x", "y"]), name="s", method="m")
    with pytest.raises(DataError, match="not in the segment order"):
        Segmentation(pd.Series(["a", "b"], index=["x", "y"]), name="s", method="m", order=["a"])
    (tmp_path / "junk.pkl").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a segwork segmentation file"):
        Segmentation.load(tmp_path / "junk.pkl")
    with pytest.raises(DataError, match="without a segmenter"):
        Segmentation(pd.Series(["a"], index=["x"]), name="s", method="m").predict(pd.DataFrame(index=["z"]))
