"""Numerically careful special-function helpers shared by the models."""
from __future__ import annotations

import numpy as np
from scipy.special import hyp2f1

__all__ = ["hyp2f1_safe"]


def hyp2f1_safe(a, b, c, z):
    """Gauss 2F1(a, b; c; z) for 0 <= z < 1, falling back to Euler's transform where scipy overflows.

    Euler: 2F1(a, b; c; z) = (1 - z)^(c - a - b) 2F1(c - a, c - b; c; z).
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    with np.errstate(all="ignore"):
        out = np.asarray(hyp2f1(a, b, c, z), dtype=np.float64)
        bad = ~np.isfinite(out)
        if bad.any():
            ab, bb, cb, zb = a[bad], b[bad], c[bad], z[bad]
            alt = np.exp((cb - ab - bb) * np.log1p(-zb)) * hyp2f1(cb - ab, cb - bb, cb, zb)
            out = out.copy()
            out[bad] = alt
    return out
