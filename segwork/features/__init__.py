"""Per-customer features: the RFM summary (``rfm``) and the customer table (``table``)."""
from .rfm import TIME_UNITS, rfm_summary

__all__ = ["TIME_UNITS", "rfm_summary"]
