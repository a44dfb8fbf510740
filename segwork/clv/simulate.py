"""Draw RFM summaries (and holdout purchases) from the transaction models (for tests, benchmarks and teaching)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._checks import renamed_keywords
from .beta_geo import BetaGeo

__all__ = ["simulate_bg_nbd", "simulate_one_price_transactions", "simulate_purchase_histories"]


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


def simulate_purchase_histories(
    n_customers: int,
    *,
    model: str,
    params: dict,
    T=52.0,
    holdout: float = 52.0,
    spend: dict | None = None,
    random_state=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate customers' purchases from known parameters through a calibration and a holdout period.

    Written event by event from the models' stories, independently of the
    models' own prediction code, so that intervals can be checked against
    it (``benchmarks/interval_coverage.py``, tests/clv).

    Parameters
    ----------
    model: ``"bg_nbd"`` (``r``, ``alpha``, ``a``, ``b``: dropout after each
        repeat purchase with probability p ~ Beta(a, b)), ``"mbg_nbd"`` (the
        same, and also right after the first purchase) or ``"pareto_nbd"``
        (``r``, ``alpha``, ``s``, ``beta``: exponential lifetime, rate
        mu ~ Gamma(s, beta)). Purchases while alive: Poisson with rate
        lambda ~ Gamma(r, alpha).
    T: each customer's calibration time after the first purchase: a scalar,
        an array or a ``(low, high)`` tuple for a uniform draw.
    holdout: length of the holdout period after each customer's ``T``.
    spend: optional Gamma-Gamma parameters ``p``, ``q``, ``v``: each
        purchase's value is Gamma(p, rate nu), nu ~ Gamma(q, rate v) per customer.
    random_state: seed or numpy Generator (the same one gives the same frames).

    Returns
    -------
    ``(summary, holdout_events)``. ``summary`` indexed by ``customer_id``
    with ``frequency``, ``recency``, ``T`` (as ``rfm_summary`` gives them,
    in the unit of ``alpha``), ``frequency_holdout``, ``duration_holdout``,
    and with ``spend`` also ``monetary_value`` (mean value of the repeat
    purchases in calibration, 0 without one) and ``monetary_value_holdout``.
    ``holdout_events``: one row per holdout purchase with ``customer_id``,
    ``t`` (time after the customer's ``T``, in ``(0, holdout]``) and, with
    ``spend``, ``amount``.
    """
    rng = np.random.default_rng(random_state)
    n = int(n_customers)
    if isinstance(T, tuple):
        T = rng.uniform(T[0], T[1], size=n)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    end = T + float(holdout)
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], size=n)
    if model in ("bg_nbd", "mbg_nbd"):
        p = np.clip(rng.beta(params["a"], params["b"], size=n), 1e-12, 1.0)
        window = end
        count = rng.poisson(lam * window)
        made = np.minimum(count, rng.geometric(p) - (1 if model == "mbg_nbd" else 0))
    elif model == "pareto_nbd":
        mu = rng.gamma(params["s"], 1.0 / params["beta"], size=n)
        window = np.minimum(rng.exponential(1.0 / np.maximum(mu, 1e-300)), end)
        count = made = rng.poisson(lam * window)
    else:
        raise ValueError(f"model must be 'bg_nbd', 'mbg_nbd' or 'pareto_nbd', got {model!r}")
    who = np.repeat(np.arange(n), count)
    when = rng.uniform(0.0, 1.0, size=who.size) * window[who]
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    rank = np.arange(who.size) - np.repeat(np.cumsum(count) - count, count)
    keep = rank < made[who]
    who, when = who[keep], when[keep]
    amount = None
    if spend is not None:
        nu = rng.gamma(spend["q"], 1.0 / spend["v"], size=n)
        amount = rng.gamma(spend["p"], 1.0 / nu[who])
    cal = when <= T[who]
    frequency = np.bincount(who[cal], minlength=n)
    recency = np.zeros(n)
    np.maximum.at(recency, who[cal], when[cal])
    ids = pd.Index([f"S{i:07d}" for i in range(n)], name="customer_id")
    summary = pd.DataFrame({"frequency": frequency.astype(np.int64), "recency": recency, "T": T}, index=ids)
    summary["frequency_holdout"] = np.bincount(who[~cal], minlength=n).astype(np.int64)
    summary["duration_holdout"] = float(holdout)
    events = pd.DataFrame({"customer_id": ids[who[~cal]], "t": when[~cal] - T[who[~cal]]})
    if amount is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            summary["monetary_value"] = np.nan_to_num(np.bincount(who[cal], amount[cal], n) / frequency)
            summary["monetary_value_holdout"] = np.nan_to_num(
                np.bincount(who[~cal], amount[~cal], n) / summary["frequency_holdout"].to_numpy())
        events["amount"] = amount[~cal]
    return summary, events.reset_index(drop=True)
