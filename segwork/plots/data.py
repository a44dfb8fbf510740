"""Figures for transaction and customer analysis (notebook 01)."""
__all__: list[str] = []
