"""Needs-based segmentation: factors recover the survey's latent needs; names; non-respondents; errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segwork.datasets import SURVEY_ITEMS, make_crm
from segwork.errors import DataError
from segwork.features import customer_table
from segwork.segment.base import Segmentation
from segwork.segment.needs import UNKNOWN, NeedsSegmenter, kaiser_n_factors, name_factors, needs_segmentation, survey_items

ITEMS = list(SURVEY_ITEMS)


@pytest.fixture(scope="module")
def crm_size():
    return 3000, 5  # customers, seed: the `data` and `table` fixtures (tests/conftest.py) are made at this size


@pytest.fixture(scope="module")
def needs(table):
    return needs_segmentation(table, n_resamples=2)


def test_items_found(table):
    assert survey_items(table) == ITEMS
    renamed = table.rename(columns={"q01_compare_prices": "q1_price", "q02_discounts_decide": "q2_deals"})
    found = survey_items(renamed.drop(columns=[c for c in ITEMS if c in renamed.columns]))
    assert found == ["q1_price", "q2_deals"]


def test_kaiser_counts_eigenvalues_above_one(table):
    answers = table.loc[table["has_survey"], ITEMS].to_numpy(dtype=float)
    eig = np.linalg.eigvalsh(np.corrcoef(answers, rowvar=False))
    assert kaiser_n_factors(answers) == int((eig > 1).sum()) == 4


def test_factors_recover_the_latent_needs(needs):
    loadings = needs.params["loadings"]
    assert loadings.shape == (12, 4)
    # every item loads most on the factor of its own need, and the factor is named after that need
    for item, (need, _) in SURVEY_ITEMS.items():
        assert loadings.loc[item].idxmax() == need.replace("_", " "), item
        assert loadings.loc[item].max() > 0.6
    # the other loadings are small (simple structure after varimax)
    for factor in loadings.columns:
        own = [i for i, (n, _) in SURVEY_ITEMS.items() if n.replace("_", " ") == factor]
        assert loadings.loc[[i for i in ITEMS if i not in own], factor].abs().max() < 0.35


def test_factor_names_fall_back_to_wording_and_columns():
    mixed = pd.DataFrame({"f1": [0.8, 0.7, 0.1], "f2": [0.1, 0.2, 0.9]},
                         index=["q01_compare_prices", "q04_personal_advice", "q99_likes_ads"])
    assert name_factors(mixed) == ["I compare prices before I buy", "likes ads"]


def test_segments_named_by_dominant_needs_and_match_truth(needs, data, table):
    r = table["has_survey"]
    truth = data.truth["segment"].reindex(table.index)
    assert needs.assessment.k == 5
    assert adjusted_rand_score(truth[r], needs.labels[r]) > 0.4  # needs overlap between planted segments
    # the planted 'bargain hunters' (price sensitivity +1.6) sit mostly in a price-sensitive segment
    top = needs.labels[r & (truth == "bargain hunters")].value_counts().idxmax()
    assert "high price sensitivity" in top or "very high price sensitivity" in top
    top = needs.labels[r & (truth == "tech enthusiasts")].value_counts().idxmax()
    assert "innovation" in top and "low innovation" not in top
    desc = needs.description
    assert desc["respondents"].sum() == r.sum()
    assert {"price sensitivity", "q01_compare_prices"} <= set(desc.columns)
    assert desc.loc[top, "q11_follow_tech"] > table.loc[r, "q11_follow_tech"].mean()


def test_nonrespondents_assigned_from_behaviour_with_cv_accuracy(needs, table):
    p = needs.params
    assert p["nonrespondents"] == "behaviour"
    assert p["cv_accuracy"] > p["baseline_accuracy"] and 0 < p["cv_accuracy"] <= 1
    assert p["n_respondents"] == int(table["has_survey"].sum())
    assert p["n_assigned_from_behaviour"] == int((~table["has_survey"]).sum()) and p["n_unknown"] == 0
    assert "cross-validated accuracy" in p["nonrespondent_note"] and "from behaviour" in needs.method
    assert set(needs.labels) <= set(needs.description.index)


def test_nonrespondents_unknown_when_asked(table):
    seg = needs_segmentation(table, k=4, nonrespondents="unknown", n_resamples=0)
    non = ~table["has_survey"]
    assert (seg.labels[non] == UNKNOWN).all() and (seg.labels[~non] != UNKNOWN).all()
    assert seg.params["n_unknown"] == int(non.sum()) and seg.segments[-1] == UNKNOWN
    assert seg.params["nonrespondents"] == "unknown"


def test_nonrespondents_unknown_without_behaviour_columns(table):
    survey_only = table[ITEMS + ["has_survey", "satisfaction", "recommend"]]
    seg = needs_segmentation(survey_only, k=4, n_resamples=0)
    assert seg.params["nonrespondents"] == "unknown"
    assert "no behaviour columns" in seg.params["nonrespondent_note"]


def test_profile_has_satisfaction_and_nps(needs):
    assert {"satisfaction", "nps"} <= set(needs.profile.columns)
    service = [s for s in needs.segments if "high service expectation" in s]
    assert service and needs.profile.loc[service[0], "nps"] > needs.profile["nps"].min()


def test_predict_new_customers(needs, table):
    sample = table.sample(300, random_state=2)
    assert (needs.predict(sample) == needs.labels.loc[sample.index].astype(object)).all()
    other = make_crm(n_customers=500, random_state=9)
    new = customer_table(other.transactions, other.customers, other.survey)
    out = needs.predict(new)
    assert set(out) <= set(needs.segments)
    # a customer who answered is scored from the answers, even with no behaviour column
    answered = new[new["has_survey"]][ITEMS].head(5)
    assert (needs.predict(answered) == out.loc[answered.index]).all()


def test_save_load(needs, table, tmp_path):
    back = Segmentation.load(needs.save(tmp_path / "needs.pkl"))
    assert back.labels.equals(needs.labels)
    assert (back.predict(table.head(40)) == needs.predict(table.head(40))).all()


def test_deterministic(table):
    a = needs_segmentation(table, k=4, random_state=3, n_resamples=2)
    b = needs_segmentation(table, k=4, random_state=3, n_resamples=2)
    assert a.labels.equals(b.labels)
    pd.testing.assert_frame_equal(a.params["loadings"], b.params["loadings"])
    assert a.params["cv_accuracy"] == b.params["cv_accuracy"]


def test_errors(table):
    with pytest.raises(DataError, match=r"no survey item columns.*customer_table\(..., survey=...\)"):
        needs_segmentation(table.drop(columns=ITEMS))
    with pytest.raises(DataError, match=r"survey item 'q13_x' is not in the table"):
        needs_segmentation(table, items=ITEMS + ["q13_x"])
    with pytest.raises(DataError, match=r"item 'q01_compare_prices' is constant"):
        needs_segmentation(table.assign(q01_compare_prices=3.0), k=3)
    few = table[table["has_survey"]].head(3)
    with pytest.raises(DataError, match=r"3 respondents but k=5"):
        needs_segmentation(few, k=5)
    with pytest.raises(DataError, match=r"nonrespondents='guess'"):
        needs_segmentation(table, nonrespondents="guess")
    with pytest.raises(DataError, match=r"lack column\(s\) \['q02_discounts_decide'\]"):
        needs_segmentation(table, k=3, n_resamples=0).predict(table.drop(columns=["q02_discounts_decide"]).head())


def test_segmenter_on_array_and_partial_answers():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(400, 2))
    X = np.column_stack([latent[:, 0] + rng.normal(0, 0.3, 400) for _ in range(3)]
                        + [latent[:, 1] + rng.normal(0, 0.3, 400) for _ in range(3)])
    X[:5, 0] = np.nan
    est = NeedsSegmenter(3).fit(X)
    assert est.n_factors_ == 2 and est.labels_.shape == (400,)
    assert np.isfinite(est.factor_scores(X).to_numpy()).all()


def test_segmenter_leaves_rows_without_any_answer_unplaced():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=(300, 2))
    X = np.column_stack([latent[:, j // 3] + rng.normal(0, 0.3, 300) for j in range(6)])
    est = NeedsSegmenter(3).fit(X)
    new = X[:4].copy()
    new[1] = np.nan  # no answer at all
    new[2, :3] = np.nan  # partly answered: still scored
    codes = est.predict(new)
    assert codes[1] == -1 and set(codes[[0, 2, 3]]) <= {0, 1, 2}
    assert codes[0] == est.predict(X[:1])[0]
