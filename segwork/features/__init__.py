"""Per-customer features: the RFM summary (``rfm``) and the customer table (``table``)."""
from .rfm import TIME_UNITS, rfm_summary
from .table import BEHAVIOUR_COLUMNS, customer_table

__all__ = ["TIME_UNITS", "rfm_summary", "BEHAVIOUR_COLUMNS", "customer_table"]
