"""Segmentation approaches; each produces a :class:`~segwork.segment.base.Segmentation`."""
from .base import Segmentation, nps, segment_profile

__all__ = ["Segmentation", "nps", "segment_profile"]
