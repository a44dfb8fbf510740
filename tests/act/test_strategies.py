"""Relationship-type strategies: every part stated, the assumed effects and how to change them."""
from __future__ import annotations

import pytest

from segwork.act import DEFAULT_STRATEGIES, strategy_table, with_effects


def test_every_strategy_states_its_parts():
    table = strategy_table()
    for col in ("goal", "targeting", "positioning", "offer", "cost_benefit", "communication"):
        assert table[col].str.len().min() > 10, col
    assert set(table.index) == {"Prospective", "Loyal", "Vulnerable", "Win-back", "Other"}


def test_default_effects_are_the_crm_figures_and_marked_as_assumed():
    expected = {"Prospective": (0.03, 0.04), "Vulnerable": (0.15, 0.20), "Win-back": (0.10, 0.20), "Loyal": (0.02, 0.03)}
    for name, (lo, hi) in expected.items():
        s = DEFAULT_STRATEGIES[name]
        assert (s.effect_low, s.effect_high) == (lo, hi)
        assert s.assumed_effect.endswith("(assumed)")
    assert DEFAULT_STRATEGIES["Other"].assumed_effect == "none assumed"
    assert strategy_table().loc["Vulnerable", "assumed_effect"] == "+15-20 % (assumed)"


def test_with_effects_changes_a_copy():
    changed = with_effects(Win_back=(0.02, 0.05), loyal=(0.01, 0.01))
    assert (changed["Win-back"].effect_low, changed["Win-back"].effect_high) == (0.02, 0.05)
    assert changed["Loyal"].assumed_effect == "+1 % (assumed)"
    assert DEFAULT_STRATEGIES["Win-back"].effect_low == 0.10  # the defaults are untouched
    with pytest.raises(ValueError, match="unknown relationship type 'Churners'"):
        with_effects(Churners=(0.1, 0.2))
    with pytest.raises(ValueError, match="low <= high"):
        with_effects(Loyal=(0.3, 0.2))
    with pytest.raises(ValueError, match="pair"):
        with_effects(Loyal=0.3)


def test_with_effects_takes_a_mapping_with_the_type_names():
    changed = with_effects(effects={"Win-back": [0.01, 0.02], "Prospective": (0.05, 0.06)})
    assert (changed["Win-back"].effect_low, changed["Prospective"].effect_high) == (0.01, 0.06)


def test_retention_actions_state_numeric_costs_marked_as_assumed():
    from segwork.act import COST_SOURCE, DEFAULT_RETENTION_ACTIONS, with_costs

    assert set(DEFAULT_RETENTION_ACTIONS) == {"resolve complaint", "renew contract", "change channel",
                                              "win-back contact"}
    for a in DEFAULT_RETENTION_ACTIONS.values():
        assert a.cost >= 0 and len(a.basis) > 10
    assert DEFAULT_RETENTION_ACTIONS["win-back contact"].driver is None
    assert DEFAULT_RETENTION_ACTIONS["resolve complaint"].driver == "open_complaint"
    assert "assumed" in COST_SOURCE and "with_costs" in COST_SOURCE
    changed = with_costs(resolve_complaint=15, costs={"Renew contract": 60})
    assert changed["resolve complaint"].cost == 15.0 and changed["renew contract"].cost == 60.0
    assert DEFAULT_RETENTION_ACTIONS["resolve complaint"].cost == 25.0  # the defaults are untouched
    with pytest.raises(ValueError, match="unknown retention action 'refund'"):
        with_costs(refund=3)
    with pytest.raises(ValueError, match=">= 0"):
        with_costs(change_channel=-1)
