"""Draw RFM summaries from the transaction models (for tests, benchmarks and teaching)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import renamed_keywords
from .beta_geo import BetaGeo

__all__ = ["simulate_bg_nbd", "simulate_one_price_transactions"]


@renamed_keywords(seed="random_state")
def simulate_bg_nbd(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T=39.0,
    random_state=None,
    round_to: float | None = 1 / 7,
) -> pd.DataFrame:
    """Simulate ``(frequency, recency, T)`` of ``n_customers`` from a BG/NBD population.

    Parameters
    ----------
    r, alpha, a, b: BG/NBD parameters (``alpha`` in the unit of ``T``).
    T: observation time per customer after the first purchase: a scalar, an
        array of length ``n_customers``, or a ``(low, high)`` tuple for a
        uniform draw (e.g. customers acquired over a quarter).
    random_state: seed or numpy Generator (same seed -> same table). Old name ``seed``,
        deprecated: it still works with a FutureWarning until segwork 0.3.
    round_to: round recency and T down to multiples of this (default one day
        in weeks, as ``rfm_summary`` produces); ``None`` keeps exact times.

    Returns
    -------
    DataFrame indexed by ``customer_id`` with ``frequency``, ``recency``, ``T``
    and the latent ``alive`` (True if not dropped out by ``T``).

    Given ``N`` purchase events in ``(0, T]`` the event times are uniform order
    statistics, so the time of the ``k``-th is ``T * Beta(k, N - k + 1)``:
    no event-by-event loop is needed.
    """
    rng = np.random.default_rng(random_state)
    if isinstance(T, tuple):
        T = rng.uniform(T[0], T[1], size=n_customers)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n_customers,)).copy()
    if round_to:
        T = np.floor(T / round_to + 1e-9) * round_to
    model = BetaGeo()
    model.params_ = {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}
    n, last = model._sample_latent(T, rng)  # the model's own draws: purchases if alive, dropout point
    x = np.minimum(n, last)
    alive = n < last
    rec = np.zeros(n_customers)
    pos = x > 0
    rec[pos] = T[pos] * rng.beta(x[pos], n[pos] - x[pos] + 1)
    if round_to:
        rec = np.floor(rec / round_to) * round_to
        # a repeat purchase is on a later day than the first one
        rec[pos] = np.clip(np.maximum(rec[pos], round_to), 0, T[pos])
    return pd.DataFrame(
        {"frequency": x.astype(np.int64), "recency": rec, "T": T, "alive": alive},
        index=pd.Index([f"S{i:07d}" for i in range(n_customers)], name="customer_id"),
    )


def simulate_one_price_transactions(n_customers: int, *, random_state=None, mean_price: float = 60.0, price_shape: float = 4.0,
                                    end: str = "2024-12-31", r: float = 0.5, alpha: float = 8.0, a: float = 0.8,
                                    b: float = 2.5) -> pd.DataFrame:
    """Canonical transactions of a BG/NBD population in which every purchase of a customer has the same value.

    The purchase histories are :func:`simulate_bg_nbd` draws (``r``,
    ``alpha`` per week, ``a``, ``b``; each customer observed 52 to 104 weeks
    up to ``end``, in whole days); customer ``i`` pays ``price_i`` (rounded to
    cents) at every purchase, with ``price_i = mean_price (price_shape - 1) /
    G_i``, ``G_i ~ Gamma(price_shape, 1)``: inverse-gamma prices, the
    Gamma-Gamma spend model's own limit p -> infinity (every purchase of a
    customer has the same value), where its fit runs off along a flat ridge.
    For tests of that limit (issue 19). Returns a DataFrame with
    ``customer_id``, ``date``, ``amount``; the same ``random_state`` gives the same frame.
    """
    s = simulate_bg_nbd(n_customers, r=r, alpha=alpha, a=a, b=b, T=(52.0, 104.0), random_state=random_state)
    rng = np.random.default_rng(None if random_state is None else [int(random_state), 19])
    price = np.round(mean_price * (price_shape - 1.0) / rng.gamma(price_shape, 1.0, n_customers), 2)
    end_ = pd.Timestamp(end)
    first = end_ - pd.to_timedelta(np.round(s["T"].to_numpy() * 7).astype(int), unit="D")
    last = np.round(s["recency"].to_numpy() * 7).astype(int)
    ids, days = [], []
    for i, x in enumerate(s["frequency"].to_numpy()):
        between = rng.choice(np.arange(1, last[i]), size=min(int(x) - 1, last[i] - 1), replace=False) if x > 1 else []
        offsets = [0, *sorted(int(d) for d in between), *([int(last[i])] if x > 0 else [])]
        ids += [i] * len(offsets)
        days += offsets
    ids = np.asarray(ids)
    return pd.DataFrame({"customer_id": s.index.to_numpy()[ids],
                         "date": first.to_numpy()[ids] + pd.to_timedelta(np.asarray(days), unit="D").to_numpy(),
                         "amount": price[ids]})
