"""Checks shared by the CLV tests (not collected: no test_ prefix)."""
from __future__ import annotations

import re
import warnings

import pytest

from segwork.errors import ConvergenceError


def the_named_penalizer_works(M, data, msg):
    """A ConvergenceError names a penalizer only after trying it: the named one converges, the smaller ones
    it says failed do fail; or it says that none of the ladder converges, and none does."""
    from segwork.clv.base import PENALIZER_LADDER

    assert "penalizer=0.001) (or larger)" not in msg  # the untried placeholder never reaches a user
    named = re.search(rf"use {M.__name__}\(penalizer=([0-9.e-]+)\), which keeps the parameters finite and converges",
                      msg)
    works = [] if named is None else [float(named.group(1))]
    failed = [p for p in PENALIZER_LADDER if (not works or p < works[0])]
    if named is None:
        assert "no penalizer makes it converge" in msg, msg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for pen in works:
            M(penalizer=pen).fit(*data)  # converges
        for pen in failed:
            with pytest.raises(ConvergenceError):
                M(penalizer=pen).fit(*data)
