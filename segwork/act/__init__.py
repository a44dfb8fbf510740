"""Acting on segments: relationship-type strategies, purchase propensity and its evaluation, campaign targeting,
why customers leave (defection drivers, per-customer reasons) and the retention list."""
from .campaign import campaign_results, planted_uplift
from .channels import channel_effectiveness, opt_in_column, permitted, preferred_contact
from .defection import DEFAULT_STATIC_DRIVERS, DEFAULT_TIME_VARYING_DRIVERS, DefectionFit, FuturePaths, fit_defection
from .drivers import DRIVERS_COLUMNS, PlantedCoverage, drivers_table, planted_coverage, restricted_statistics
from .crosssell import (RECOMMEND_METHODS, HitRate, association_rules_table, basket_matrix, hit_rate_at_k, recommend,
                        upsell)
from .lapse import DEFAULT_THRESHOLD_WEEKS, LapseCheck, lapse_check, lapse_intervals
from .explain import DefectionExplanation, explain_defection, retention_frame
from .export import EXPORT_KINDS, EXPORT_SCHEMAS, export_frame, write_export
from .evaluation import (evaluate_scores, gains_curve, lift_at, oracle_propensity, precision_at_k,
                         segment_response)
from .propensity import (DEFAULT_HORIZON_DAYS, PropensityClassifier, clv_propensity, propensity_features,
                         purchase_labels)
from .retention import (AT_RISK_TYPES, RETENTION_SCHEMA, CustomerReasons, ReasonAgreement, customer_reasons,
                        driver_words, reason_agreement, retention_list)
from .strategies import (COST_SOURCE, DEFAULT_RETENTION_ACTIONS, DEFAULT_STRATEGIES, EFFECT_SOURCE, RetentionAction,
                         Strategy, relationship_summary, strategy_table, with_costs, with_effects)
from .targeting import select_targets
from .triggers import EVENT_ACTIONS, SEASONAL_EVENTS, labelled_triggers, triggers
from .view import CustomerView, customer_view

__all__ = ["Strategy", "DEFAULT_STRATEGIES", "EFFECT_SOURCE", "strategy_table", "with_effects", "relationship_summary",
           "select_targets", "DEFAULT_HORIZON_DAYS", "purchase_labels", "clv_propensity", "propensity_features",
           "PropensityClassifier", "gains_curve", "lift_at", "precision_at_k", "evaluate_scores", "segment_response",
           "oracle_propensity", "basket_matrix", "association_rules_table", "recommend", "hit_rate_at_k", "HitRate", "upsell",
           "RECOMMEND_METHODS", "EVENT_ACTIONS", "SEASONAL_EVENTS", "triggers", "labelled_triggers", "channel_effectiveness",
           "preferred_contact", "opt_in_column", "permitted", "planted_uplift", "campaign_results",
           "CustomerView", "customer_view", "EXPORT_KINDS", "EXPORT_SCHEMAS", "export_frame", "write_export",
           "RetentionAction", "DEFAULT_RETENTION_ACTIONS", "COST_SOURCE", "with_costs",
           "DefectionFit", "FuturePaths", "fit_defection", "DEFAULT_STATIC_DRIVERS", "DEFAULT_TIME_VARYING_DRIVERS",
           "drivers_table", "restricted_statistics", "planted_coverage", "PlantedCoverage", "DRIVERS_COLUMNS",
           "customer_reasons", "retention_list", "reason_agreement", "CustomerReasons", "ReasonAgreement",
           "AT_RISK_TYPES", "RETENTION_SCHEMA", "driver_words",
           "DEFAULT_THRESHOLD_WEEKS", "LapseCheck", "lapse_check", "lapse_intervals",
           "DefectionExplanation", "explain_defection", "retention_frame"]
