"""MBG/NBD: the modified BG/NBD model (Batislam, Denizel & Filiztekin 2007).

The same story as the BG/NBD (:mod:`segwork.clv.beta_geo`) with one change: a
customer may also leave right after the *first* purchase, not only after
repeat purchases. So a customer who never came back is not assumed to be
alive (in the BG/NBD, P(alive) = 1 for every one-time buyer, which
overstates the value of the many customers who bought once).

Reference: E. P. Batislam, M. Denizel and A. Filiztekin (2007), "Empirical
validation and comparison of models for customer base analysis",
*International Journal of Research in Marketing* 24(3), 201-209; the
conditional expectation from U. Wagner and D. Hoppe (2008).
"""
from __future__ import annotations

import numpy as np

from .beta_geo import BetaGeo

__all__ = ["ModifiedBetaGeo"]


class ModifiedBetaGeo(BetaGeo):
    """MBG/NBD model of repeat purchases and dropout (non-contractual, continuous time).

    Parameters and attributes as :class:`BetaGeo`: ``params_`` with ``r``,
    ``alpha`` (gamma purchase rates), ``a``, ``b`` (beta dropout probability
    per purchase, the first one included).
    """

    #: Dropout may follow the first purchase too: P(alive), the conditional
    #: expectation and the simulation follow from this in :class:`BetaGeo`.
    _shift = 1
    #: Covariates are offered on the BG/NBD and Pareto/NBD only (the MBG/NBD form is untested).
    _covariate_links = ()
    _covariate_groups = ()

    def _unconditional_expected(self, t):
        # b / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b + 1; a + b; t / (alpha + t))]
        r, alpha, a, b = self._params()
        value = b * self._bracket(a, r, b + 1.0, t / (alpha + t))
        return np.where(t > 0, value, 0.0)
