"""notebooks/11_segment_migration.ipynb runs on small data and its index table agrees with its matrices."""
from __future__ import annotations

import pytest


def test_migration_notebook_runs_and_its_numbers_add_up(run_notebook):
    m = run_notebook("11_segment_migration", n_customers=1500, approaches=["rfm", "value", "relationship"])
    rows = {r["segmentation"]: r for r in m["migration"]}
    assert set(rows) == {"rfm", "value", "relationship"}
    for name, row in rows.items():
        counts = m["transition_counts"][name]
        # one record per earlier segment: its label (text) and the customers per later segment (integers)
        total = sum(v for rec in counts for v in rec.values() if isinstance(v, int))
        assert row["customers"] == total == m["n_customers"]
        assert 0.0 <= row["stayed_share"] <= 1.0 and row["moved"] <= total
        profile = m["profiles"][name]
        assert sum(p["customers"] for p in profile) == m["n_customers"]
        for p in profile:
            if p["customers"] >= 2 and p["clv_lower"] is not None:
                assert p["clv_lower"] <= p["clv"] <= p["clv_upper"]
    assert m["days_apart"] == 91 and m["margin"] == pytest.approx(0.3)
