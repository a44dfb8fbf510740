"""The planted defection world of ``make_crm(defection=True)`` (segwork.defection_data), checked from the raw frames."""
from __future__ import annotations

import hashlib

import pandas as pd

from segwork.datasets import make_crm

# --------------------------------------------------------------------------- defection=False: nothing moved

#: sha256 (first 32 hex digits) of pd.util.hash_pandas_object (values and index) plus the column names and dtypes
#: of each frame of make_crm(2000, random_state=3), computed on the code before the defection world existed
#: (main at 836642e, pandas 3.1.1). They pin "every earlier frame stays byte-identical for a seed"; a pandas
#: upgrade that changes hash_pandas_object would change them too (then recompute them on a commit before
#: this change and check that the frames agree there).
UNCHANGED = {
    "customers": "44f56cfeebdb8a743e4d1103726e28e1",
    "transactions": "166744f15574c0cdc603adc1c11252e3",
    "survey": "b5e6daa13cfeda68ff81feb426a3efe0",
    "truth": "a861316cc617f8b9d04d5ff18ccd8e6d",
    "campaign": "703294874038748dab83fa2780de8f54",
}


def _digest(frame: pd.DataFrame) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    h.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    return h.hexdigest()[:32]


def test_without_defection_every_frame_is_byte_identical_to_before():
    data = make_crm(2000, random_state=3)
    assert {name: _digest(getattr(data, name)) for name in UNCHANGED} == UNCHANGED
