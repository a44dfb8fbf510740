"""Per-customer features: the RFM summary (``rfm``), the customer table (``table``) and value concentration."""
from .concentration import concentration_curve, top_share
from .rfm import TIME_UNITS, rfm_summary
from .table import BEHAVIOUR_COLUMNS, customer_table

__all__ = ["TIME_UNITS", "rfm_summary", "BEHAVIOUR_COLUMNS", "customer_table", "concentration_curve", "top_share"]
