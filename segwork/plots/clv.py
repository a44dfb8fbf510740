"""Figures for clv (one function per figure; each returns the Axes)."""
__all__: list[str] = []
