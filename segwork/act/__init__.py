"""Acting on segments: relationship-type strategies (with assumed profit effects) and campaign targeting."""
from .strategies import (DEFAULT_STRATEGIES, EFFECT_SOURCE, Strategy, relationship_summary, strategy_table,
                         with_effects)
from .targeting import select_targets

__all__ = ["Strategy", "DEFAULT_STRATEGIES", "EFFECT_SOURCE", "strategy_table", "with_effects", "relationship_summary",
           "select_targets"]
