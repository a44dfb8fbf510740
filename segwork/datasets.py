"""Built-in data: a synthetic CRM data set with ground truth, and CDNOW.

``make_crm`` is segwork's embedded default. It plants customer segments that
differ in how customers buy (a buy-till-you-die process: each customer buys at
an individual Poisson rate and, after each purchase, leaves for good with an
individual probability), how much they spend, what and where they buy, what
they need (a survey) and, weakly, who they are (profile). Because the truth is
known, every method can be checked against it.

``load_cdnow`` reads the CDNOW transaction data used throughout the CLV
literature (Fader, Hardie & Lee 2005), shipped in ``data/``.

:data:`DATASETS` is the one registry of built-in data set names; everything
that accepts a data set name (``load_dataset``, ``segwork report --dataset``,
the notebooks) reads it. :func:`save_prepared` / :func:`load_prepared` write a
resolved :class:`Dataset` (canonical tables, cleaning report) to a folder and
read it back as it was, without reading or cleaning anything again: the
report runner resolves the data set once and every notebook loads that folder.
"""
from __future__ import annotations

import dataclasses
import io as _bytes_io
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from ._checks import renamed_keywords
from ._atomic import atomic_write_bytes, atomic_write_text, read_json_document
from .defection_data import contract_type, simulate_defection
from .io import CleaningReport, CleaningRules, clean_transactions, read_transactions

__all__ = [
    "Dataset",
    "UNSTATED_CURRENCY",
    "SegmentSpec",
    "DEFAULT_SEGMENTS",
    "CATEGORIES",
    "CHANNELS",
    "SURVEY_ITEMS",
    "CATEGORY_AFFINITY",
    "SECONDARY_SHARE",
    "CONTACT_CHANNELS",
    "OPT_IN_RATES",
    "make_crm",
    "CDNOW_RULES",
    "plant_campaign",
    "load_cdnow",
    "load_apparel",
    "ApparelData",
    "APPAREL_RULES",
    "load_dataset",
    "data_dir",
    "BuiltinDataset",
    "DATASETS",
    "builtin_dataset",
    "save_prepared",
    "load_prepared",
    "is_prepared",
    "PREPARED_MANIFEST",
]

CATEGORIES = ("groceries", "electronics", "fashion", "home", "beauty", "gifts")
CHANNELS = ("store", "web", "app", "phone")

#: Cross-category affinity: primary category -> P(a customer's personal secondary category). Each row is an
#: assumption of the simulation, made to look like retail baskets: who buys electronics also furnishes a home and
#: buys gifts; groceries go with household and personal-care goods; fashion with beauty; home with groceries and
#: electronics; beauty with fashion; gifts with fashion and beauty. Rows sum to 1 over the other categories.
CATEGORY_AFFINITY: dict[str, dict[str, float]] = {
    "groceries": {"home": 0.45, "beauty": 0.35, "gifts": 0.10, "fashion": 0.05, "electronics": 0.05},
    "electronics": {"home": 0.40, "gifts": 0.35, "fashion": 0.10, "groceries": 0.10, "beauty": 0.05},
    "fashion": {"beauty": 0.50, "gifts": 0.25, "home": 0.10, "groceries": 0.10, "electronics": 0.05},
    "home": {"groceries": 0.35, "electronics": 0.35, "gifts": 0.15, "fashion": 0.10, "beauty": 0.05},
    "beauty": {"fashion": 0.50, "gifts": 0.25, "groceries": 0.15, "home": 0.05, "electronics": 0.05},
    "gifts": {"fashion": 0.30, "beauty": 0.30, "electronics": 0.20, "home": 0.10, "groceries": 0.10},
}
#: Share of a customer's purchases outside their segment's category that go to their secondary category.
SECONDARY_SHARE = 0.6

#: Contact channels of the profile (``preferred_contact``); each has a ``<channel>_opt_in`` permission flag.
CONTACT_CHANNELS = ("email", "phone", "sms", "post")
#: P(opt-in) per contact channel: (for a customer who prefers another channel, for one who prefers this one).
#: ``email_opt_in`` is 0.6 for everyone (drawn before the other flags existed; kept so frames stay the same).
OPT_IN_RATES: dict[str, tuple[float, float]] = {"sms": (0.25, 0.8), "phone": (0.2, 0.75), "post": (0.4, 0.85)}
NEEDS = ("price_sensitivity", "service_expectation", "convenience", "innovation")

#: Survey items: column -> (latent need it measures, wording shown to customers).
SURVEY_ITEMS: dict[str, tuple[str, str]] = {
    "q01_compare_prices": ("price_sensitivity", "I compare prices before I buy"),
    "q02_discounts_decide": ("price_sensitivity", "Discounts decide where I shop"),
    "q03_cheapest_option": ("price_sensitivity", "I buy the cheapest option that does the job"),
    "q04_personal_advice": ("service_expectation", "Personal advice matters to me"),
    "q05_fast_complaints": ("service_expectation", "I expect complaints to be solved quickly"),
    "q06_pay_for_service": ("service_expectation", "I pay more for good service"),
    "q07_fast_delivery": ("convenience", "Fast delivery matters to me"),
    "q08_shop_anytime": ("convenience", "I shop when and where it suits me"),
    "q09_easy_returns": ("convenience", "Easy returns make me buy"),
    "q10_try_new_first": ("innovation", "I like to be the first to try new products"),
    "q11_follow_tech": ("innovation", "I follow new technology"),
    "q12_newest_models": ("innovation", "I buy the newest models"),
}


@dataclass(frozen=True)
class SegmentSpec:
    """How one planted segment behaves.

    Rates are per week; ``dropout`` is the mean probability of leaving after a
    purchase (BG/NBD's p); ``spend`` is the mean amount per transaction.
    Heterogeneity within the segment: purchase rates are gamma distributed
    with shape ``rate_shape`` around ``rate``; dropout is beta distributed
    with concentration ``dropout_conc``. ``campaign_uplift`` is the true
    added response probability of a contact in the built-in campaign (for
    customers still alive; see :func:`plant_campaign`).
    """

    name: str
    share: float
    rate: float
    dropout: float
    spend: float
    category: str
    channel: str
    needs: tuple[float, float, float, float]  # mean latent needs, in NEEDS order (z units)
    b2b_share: float = 0.1
    rate_shape: float = 4.0
    dropout_conc: float = 20.0
    spend_cv: float = 0.25  # between-customer variation of mean spend
    campaign_uplift: float = 0.05  # true added response probability of the built-in campaign (alive customers)


DEFAULT_SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec("loyal premium", 0.15, 0.35, 0.02, 140.0, "home", "store",
                (-1.0, 1.5, 0.0, 0.2), b2b_share=0.25, campaign_uplift=0.02),
    SegmentSpec("bargain hunters", 0.25, 0.45, 0.06, 22.0, "groceries", "web",
                (1.6, -0.5, 0.2, -0.5), campaign_uplift=0.08),
    SegmentSpec("convenience seekers", 0.20, 0.25, 0.04, 55.0, "fashion", "app",
                (0.0, 0.0, 1.6, 0.3), campaign_uplift=0.05),
    SegmentSpec("tech enthusiasts", 0.15, 0.15, 0.04, 260.0, "electronics", "web",
                (-0.3, 0.2, 0.2, 1.7), b2b_share=0.3, campaign_uplift=0.04),
    SegmentSpec("occasional gifters", 0.25, 0.08, 0.15, 60.0, "gifts", "phone",
                (0.2, -0.3, -0.8, -0.6), campaign_uplift=0.10),
)


#: The currency label of data whose currency is not known (a user's transaction file).
UNSTATED_CURRENCY = "the file's currency"


@dataclass
class Dataset:
    """A customer data set as the rest of segwork uses it.

    Attributes
    ----------
    transactions: canonical transactions (see :mod:`segwork.io`).
    customers: one row per customer (profile), or ``None``.
    survey: needs survey answers for a sample of customers, or ``None``.
    truth: the planted ground truth indexed by ``customer_id``, or ``None``.
    name: a short name for reports.
    observation_start, observation_end: the observation window (inclusive days).
    currency: the currency of ``amount`` as a label for reports: a code
        (``"EUR"``, ``"USD"``) where it is known, else :data:`UNSTATED_CURRENCY`
        (a transaction file does not say its currency; segwork never guesses one).
    campaign: a past campaign with a random control group, as a CRM exports
        it (one row per customer in it: ``customer_id``, ``campaign_date``,
        ``channel``, ``group`` ``"treatment"``/``"control"``, ``responded``),
        or ``None``. See :func:`plant_campaign`.
    dynamic_covariates: time-varying drivers, one row per customer and week
        (``customer_id``, ``period_start``, ``open_complaint``,
        ``marketing_contact``), or ``None``;
    exit_survey: ``customer_id``, ``exit_date``, ``stated_reason`` for the
        customers who left and answered, or ``None``;
    planted_effects: the planted multipliers (``driver``, ``process``,
        ``multiplier``, ``kind``; ``attrs["heterogeneity"]``), or ``None``.
        The three are set by ``make_crm(..., defection=True)``; see
        :mod:`segwork.defection_data`.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame | None = None
    survey: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    name: str = "data"
    observation_start: pd.Timestamp | None = None
    observation_end: pd.Timestamp | None = None
    currency: str = UNSTATED_CURRENCY
    segments: tuple = field(default=(), repr=False)
    cleaning_report: object = field(default=None, repr=False)
    campaign: pd.DataFrame | None = field(default=None, repr=False)
    dynamic_covariates: pd.DataFrame | None = field(default=None, repr=False)
    exit_survey: pd.DataFrame | None = field(default=None, repr=False)
    planted_effects: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.observation_start is None:
            self.observation_start = self.transactions["date"].min().normalize()
        if self.observation_end is None:
            self.observation_end = self.transactions["date"].max().normalize()

    @property
    def n_customers(self) -> int:
        return int(self.transactions["customer_id"].nunique())


@renamed_keywords(seed="random_state")
def make_crm(
    n_customers: int = 20_000,
    random_state: int = 0,
    *,
    start: str = "2023-01-01",
    end: str = "2024-12-31",
    survey_fraction: float = 0.3,
    segments: tuple[SegmentSpec, ...] = DEFAULT_SEGMENTS,
    separation: float = 1.0,
    defection: bool = False,
) -> Dataset:
    """Generate a synthetic CRM data set with planted segments and ground truth.

    Parameters
    ----------
    n_customers: how many customers (every one buys at least once).
    random_state: seed of the random generator; the same ``random_state`` gives identical frames.
        (``seed``, its old name, still works with a FutureWarning until segwork 0.3.)
    start, end: the observation window (inclusive). Customers are acquired
        over its first 80 %.
    survey_fraction: share of customers who answered the needs survey.
    segments: the planted segments (see :data:`DEFAULT_SEGMENTS`).
    separation: how far apart the planted segments are, in [0, 1]. 1 (the
        default) uses ``segments`` as given (the same frames as before this
        parameter existed, for the same random_state). Below 1 every segment-level
        parameter is pulled toward the share-weighted mean over the segments,
        ``m + separation * (x_s - m)``: the purchase rate and the mean spend on
        the log scale, the dropout probability on the logit scale, the B2B
        share and the mean latent needs on their own scale; the 75 %
        preference for the segment's category and channel moves toward the
        uniform choice, and the lean of age band and acquisition channel with
        the segment shrinks alike. 0 = no segment structure (every customer
        drawn from the same population; ``truth["segment"]`` is then only a
        label). Used to test how methods and the choice of k degrade as
        segments overlap.
    defection: plant the defection world of :mod:`segwork.defection_data`
        (a Pareto/NBD with static and time-varying drivers of purchase and
        dropout, an exit survey); see "Defection" below. False (the default)
        gives the frames of earlier versions.

    Returns
    -------
    Dataset with ``customers``, ``transactions``, ``survey``, ``truth`` and
    ``campaign``. ``truth`` is indexed by ``customer_id`` with columns
    ``segment``, ``purchase_rate`` (per week), ``dropout_prob`` (per
    purchase), ``mean_spend`` (per transaction), ``alive`` (still a customer
    at ``end``), ``dropout_date`` and, for the customers in the campaign
    (NaN for the others), ``campaign_p_control``, ``campaign_p_treatment``
    and ``campaign_true_uplift`` (probabilities of a response in its window).

    Categories: a transaction is in the segment's category with probability
    0.75; otherwise, with probability :data:`SECONDARY_SHARE`, in the
    customer's personal secondary category (drawn once per customer from the
    row of :data:`CATEGORY_AFFINITY` of the segment's category), else in any
    other category uniformly. So customers who share a favourite category
    also share likely second categories: a cross-category affinity that
    association rules and co-occurrence can learn and popularity cannot.

    Permissions: ``customers`` has ``email_opt_in`` (60 % of everyone) and
    ``sms_opt_in``, ``phone_opt_in``, ``post_opt_in`` (likelier for the
    customer's ``preferred_contact``, :data:`OPT_IN_RATES`).

    The campaign: an e-mail campaign on the day at 60 % of the window
    (2024-03-14 for the default window) with a 30-day response window (shorter
    when the window ends earlier), a random 20 % control group and a true
    uplift per segment (``SegmentSpec.campaign_uplift``); see
    :func:`plant_campaign`.

    Reproducibility: the same ``random_state`` gives identical frames. The secondary
    categories, the sms/phone/post permissions and the campaign are drawn
    from a second generator (``default_rng([random_state, 1])``), so adding them left
    every other value as it was, except the ``category`` of the transactions
    outside the segment's category (moved to the secondary one).

    Defection (``defection=True``): purchases and dropout follow
    :func:`segwork.defection_data.simulate_defection` (how they are drawn and
    why: its module docstring) instead of the segments' process; segments
    still set spend, categories, channels, needs and profile; ``customers``
    (plus ``contract``: ``annual`` where ``contract_end`` is known, else
    ``none``) and ``survey`` are those of ``defection=False``. The world, its
    purchases' marks (as above) and the campaign are drawn, in that order,
    from ``default_rng([random_state, 2])``. ``truth``: ``purchase_rate`` is
    lambda0, ``dropout_rate`` (mu0, per week) replaces ``dropout_prob``, and
    ``top_planted_reason`` is added; the campaign's ``p_control`` uses lambda0.
    ``dynamic_covariates``, ``exit_survey`` and ``planted_effects`` are set.
    """
    if n_customers < 1:
        raise DataError(f"make_crm: n_customers={n_customers} must be at least 1")
    rng = np.random.default_rng(random_state)
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    span_days = (end_ts - start_ts).days + 1
    if span_days < 28:
        raise DataError(f"make_crm: the window {start}..{end} must span at least 4 weeks")
    if not 0.0 <= separation <= 1.0:
        raise DataError(f"make_crm: separation={separation!r} must be in [0, 1] "
                        "(1 = the planted segments as given, 0 = no segment structure)")
    if separation != 1.0:
        segments = _shrink_segments(segments, separation)

    shares = np.array([s.share for s in segments], dtype=float)
    seg = rng.choice(len(segments), size=n_customers, p=shares / shares.sum())
    spec = {k: np.array([getattr(s, k) for s in segments]) for k in
            ("rate", "dropout", "spend", "b2b_share", "rate_shape", "dropout_conc", "spend_cv")}

    # Individual parameters: gamma rates, beta dropout, lognormal mean spend.
    shape = spec["rate_shape"][seg]
    lam = rng.gamma(shape, spec["rate"][seg] / shape)  # per week
    conc = spec["dropout_conc"][seg]
    p = rng.beta(spec["dropout"][seg] * conc, (1 - spec["dropout"][seg]) * conc)
    cv = spec["spend_cv"][seg]
    mean_spend = spec["spend"][seg] * rng.lognormal(-0.5 * cv**2, cv)

    # Acquisition: uniform over the first 80 % of the window; first purchase that day.
    first_day = rng.integers(0, int(span_days * 0.8), size=n_customers)

    # Buy till you die: after every purchase the customer leaves with prob p;
    # otherwise the next purchase comes after an exponential gap (rate lam).
    cust_idx = [np.arange(n_customers)]
    days = [first_day.astype(float)]
    t = first_day.astype(float)
    alive_idx = np.arange(n_customers)
    dropout_day = np.full(n_customers, np.inf)
    while alive_idx.size:
        leaves = rng.random(alive_idx.size) < p[alive_idx]
        dropout_day[alive_idx[leaves]] = t[alive_idx[leaves]]
        alive_idx = alive_idx[~leaves]
        gap = rng.exponential(7.0 / lam[alive_idx])
        t[alive_idx] = t[alive_idx] + gap
        in_window = t[alive_idx] < span_days
        alive_idx = alive_idx[in_window]
        cust_idx.append(alive_idx)
        days.append(t[alive_idx].copy())
    cust = np.concatenate(cust_idx)
    day = np.floor(np.concatenate(days)).astype(int)

    # The secondary categories and every draw after the purchase marks come from a second generator (they were
    # added later), so that the frames drawn from `rng` stayed those of earlier versions.
    extra = np.random.default_rng([random_state, 1])
    ids = np.array([f"C{i + 1:06d}" for i in range(n_customers)], dtype=object)
    transactions = _transaction_frame(ids, cust, day, start_ts,
                                      *_draw_marks(rng, extra, cust, seg, mean_spend, segments, separation))

    customers = _make_customers(rng, ids, seg, spec["b2b_share"], start_ts, end_ts, first_day, separation)
    survey = _make_survey(rng, ids, seg, segments, survey_fraction)
    preferred = customers["preferred_contact"].astype(str).to_numpy()
    for ch, (p_other, p_preferred) in OPT_IN_RATES.items():
        customers[f"{ch}_opt_in"] = extra.random(n_customers) < np.where(preferred == ch, p_preferred, p_other)

    drop_date = pd.Series(start_ts + pd.to_timedelta(np.where(np.isfinite(dropout_day), np.floor(dropout_day), 0), unit="D"))
    drop_date[~np.isfinite(dropout_day)] = pd.NaT
    truth = pd.DataFrame({
        "segment": pd.Categorical.from_codes(seg, [s.name for s in segments]),
        "purchase_rate": lam,
        "dropout_prob": p,
        "mean_spend": mean_spend,
        "alive": ~np.isfinite(dropout_day),
        "dropout_date": drop_date.to_numpy(),
    }, index=pd.Index(ids.astype(str), name="customer_id"))
    world = None
    if defection:  # the planted defection world replaces the purchases and the rates, from its own stream
        extra = np.random.default_rng([random_state, 2])
        customers["contract"] = contract_type(customers["contract_end"])
        world = simulate_defection(customers, start=start_ts, end=end_ts, random_state=extra)
        transactions = _transaction_frame(ids, world.customer, world.day, start_ts, *_draw_marks(
            extra, extra, world.customer, seg, mean_spend, segments, separation))
        truth = pd.concat([truth[["segment"]], world.truth[["purchase_rate", "dropout_rate"]], truth[["mean_spend"]],
                           world.truth[["alive", "dropout_date", "top_planted_reason"]]], axis=1)
    campaign_day = start_ts + pd.Timedelta(days=int(0.6 * span_days))
    campaign, planted = plant_campaign(customers, truth, campaign_day, window_days=min(30, (end_ts - campaign_day).days),
                                       uplift={s.name: s.campaign_uplift for s in segments}, random_state=extra)
    truth = truth.join(planted)
    return Dataset(
        transactions=transactions, customers=customers, survey=survey, truth=truth,
        name=f"synthetic CRM (n={n_customers:,}, random_state={random_state}{', defection drivers' * defection})",
        observation_start=start_ts, observation_end=end_ts, segments=tuple(segments), currency="EUR",
        campaign=campaign, **({} if world is None else {
            "dynamic_covariates": world.dynamic_covariates, "exit_survey": world.exit_survey,
            "planted_effects": world.planted_effects}),
    )


@renamed_keywords(seed="random_state")
def plant_campaign(customers: pd.DataFrame, truth: pd.DataFrame, date, *, channel: str = "email",
                   window_days: int = 30, control_share: float = 0.2, uplift: Mapping[str, float] | None = None,
                   random_state: int | np.random.Generator = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A past campaign with a random control group and a known true uplift (what ``make_crm`` builds in).

    Who is in it: every customer acquired before ``date`` (``signup_date <
    date``) with permission for ``channel`` (``<channel>_opt_in`` true);
    the company cannot know who has already left, so lapsed customers are in
    it too. A random ``control_share`` of them is not contacted (control);
    the rest are contacted (treatment). A customer's chance to respond within
    ``window_days`` without a contact is their true chance of buying in that
    time, ``p_control = alive x (1 - exp(-purchase_rate x window_days / 7))``
    (Poisson purchases at the weekly rate; ``alive``: no dropout up to
    ``date``); with a contact ``p_treatment = min(1, p_control + alive x
    uplift[segment])``. The response is the campaign's own record (e.g. a
    redeemed coupon), drawn here; it is not added to the transactions.

    Parameters
    ----------
    customers: profile with ``customer_id``, ``signup_date`` and the
        ``<channel>_opt_in`` flag (``make_crm(...).customers``).
    truth: indexed by customer_id with ``segment``, ``purchase_rate`` (per
        week) and ``dropout_date`` (``make_crm(...).truth``).
    date: the campaign day; window_days: the response window, days >= 1.
    channel: one of :data:`CONTACT_CHANNELS`.
    control_share: share held out as control, in (0, 1).
    uplift: segment -> true added response probability (0..1); segments
        missing from it get 0; default: each planted segment's
        ``SegmentSpec.campaign_uplift`` of :data:`DEFAULT_SEGMENTS`.
    random_state: seed or numpy Generator of the group and response draws (old name ``seed``,
        deprecated until segwork 0.3).

    Returns
    -------
    ``(campaign, planted)``: ``campaign`` has one row per customer in the
    campaign (sorted by id) with ``customer_id``, ``campaign_date``,
    ``channel``, ``group`` (``"treatment"``/``"control"``) and ``responded``
    (bool), what a CRM export holds; ``planted`` is indexed by customer_id
    (the campaign's customers) with ``campaign_p_control``,
    ``campaign_p_treatment`` and ``campaign_true_uplift`` (probabilities
    0..1; the truth, which real data never has).

    Raises
    ------
    DataError: an unknown channel, a missing column, a share outside (0, 1),
        a window < 1 day, or nobody with permission acquired before ``date``.
    """
    if channel not in CONTACT_CHANNELS:
        raise DataError(f"plant_campaign: channel={channel!r} is not one of {', '.join(CONTACT_CHANNELS)}")
    flag = f"{channel}_opt_in"
    for frame, name, cols in ((customers, "customers", ("customer_id", "signup_date", flag)),
                              (truth, "truth", ("segment", "purchase_rate", "dropout_date"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DataError(f"plant_campaign: the {name} table has no column {missing[0]!r} "
                            "(pass make_crm(...).customers and make_crm(...).truth)")
    if not 0 < control_share < 1:
        raise DataError(f"plant_campaign: control_share={control_share!r} must lie strictly between 0 and 1")
    if isinstance(window_days, bool) or int(window_days) != window_days or window_days < 1:
        raise DataError(f"plant_campaign: window_days={window_days!r} must be a whole number of days >= 1")
    day = pd.Timestamp(date).normalize()
    eligible = customers[customers[flag].astype(bool).to_numpy() & (customers["signup_date"] < day).to_numpy()]
    ids = pd.Index(sorted(eligible["customer_id"].astype(str)), name="customer_id")
    if len(ids) == 0:
        raise DataError(f"plant_campaign: no customer acquired before {day.date()} has opted in to {channel}")
    rng = np.random.default_rng(random_state)
    t = truth.set_axis(truth.index.astype(str)).reindex(ids)
    effect = dict((s.name, s.campaign_uplift) for s in DEFAULT_SEGMENTS) if uplift is None else dict(uplift)
    alive = (t["dropout_date"].isna() | (t["dropout_date"] > day)).to_numpy()
    p0 = alive * -np.expm1(-t["purchase_rate"].to_numpy(dtype=float) * int(window_days) / 7.0)
    up = t["segment"].astype(str).map(effect).fillna(0.0).to_numpy(dtype=float)
    p1 = np.minimum(1.0, p0 + alive * up)
    control = rng.random(len(ids)) < control_share
    responded = rng.random(len(ids)) < np.where(control, p0, p1)
    campaign = pd.DataFrame({"customer_id": pd.Series(ids, dtype=str), "campaign_date": day,
                             "channel": channel, "group": np.where(control, "control", "treatment"),
                             "responded": responded})
    planted = pd.DataFrame({"campaign_p_control": p0, "campaign_p_treatment": p1,
                            "campaign_true_uplift": p1 - p0}, index=ids)
    return campaign, planted


def _draw_marks(rng, extra, cust, seg, mean_spend, segments, separation):
    """Amount, quantity, category and channel of the purchases of customers ``cust`` (row positions).

    Amount: gamma around the customer's mean spend (shape 6: coefficient of variation 0.41). Category and
    channel: the segment's with probability 0.75 (toward the uniform choice when ``separation`` < 1), else any
    other; a category outside the segment's goes to the customer's secondary category (drawn from ``extra``,
    one per customer, from :data:`CATEGORY_AFFINITY`) with probability :data:`SECONDARY_SHARE`.
    """
    amount = np.round(rng.gamma(6.0, mean_spend[cust] / 6.0), 2)
    amount = np.maximum(amount, 0.5)
    seg_cat = np.array([CATEGORIES.index(s.category) for s in segments])
    seg_ch = np.array([CHANNELS.index(s.channel) for s in segments])
    if separation == 1.0:
        p_cat = p_ch = 0.75
    else:  # toward the uniform choice among the options
        p_cat = 1 / len(CATEGORIES) + separation * (0.75 - 1 / len(CATEGORIES))
        p_ch = 1 / len(CHANNELS) + separation * (0.75 - 1 / len(CHANNELS))
    category = _preferred_choice(rng, seg_cat[seg[cust]], len(CATEGORIES), p_cat)
    channel = _preferred_choice(rng, seg_ch[seg[cust]], len(CHANNELS), p_ch)
    quantity = 1 + rng.poisson(0.6, size=cust.size)
    affinity = np.array([[CATEGORY_AFFINITY[c].get(o, 0.0) for o in CATEGORIES] for c in CATEGORIES])
    secondary = _vector_choice(extra, affinity[seg_cat[seg]])  # one personal secondary category per customer
    to_secondary = (category != seg_cat[seg[cust]]) & (extra.random(cust.size) < SECONDARY_SHARE)
    category = np.where(to_secondary, secondary[cust], category)
    return amount, quantity, category, channel


def _transaction_frame(ids, cust, day, start_ts, amount, quantity, category, channel) -> pd.DataFrame:
    """The canonical transactions, sorted by customer and date (stable), with invoice ids in that order."""
    transactions = pd.DataFrame({
        "customer_id": pd.Series(ids[cust], dtype=str),
        "date": start_ts + pd.to_timedelta(day, unit="D"),
        "amount": amount,
        "quantity": quantity.astype(float),
        "category": pd.Series(np.array(CATEGORIES, dtype=object)[category], dtype=str),
        "channel": pd.Series(np.array(CHANNELS, dtype=object)[channel], dtype=str),
    })
    transactions = transactions.sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True)
    transactions.insert(0, "invoice_id", pd.Series([f"INV{i + 1:08d}" for i in range(len(transactions))], dtype=str))
    return transactions[["customer_id", "date", "amount", "quantity", "category", "channel", "invoice_id"]]


def _preferred_choice(rng, preferred: np.ndarray, n_options: int, p_pref: float) -> np.ndarray:
    """Pick ``preferred`` with probability ``p_pref``, else any other option uniformly."""
    other = (preferred + rng.integers(1, n_options, size=preferred.size)) % n_options
    return np.where(rng.random(preferred.size) < p_pref, preferred, other)


def _shrink_segments(segments: tuple[SegmentSpec, ...], separation: float) -> tuple[SegmentSpec, ...]:
    """``segments`` pulled toward their share-weighted mean (see ``make_crm(separation=)``)."""
    from dataclasses import replace

    w = np.array([s.share for s in segments], dtype=float)
    w = w / w.sum()

    def pull(values, to=lambda v: v, back=lambda v: v):
        t = to(np.asarray(values, dtype=float))
        m = np.tensordot(w, t, axes=1)
        return back(m + separation * (t - m))

    logit, expit = (lambda v: np.log(v / (1 - v))), (lambda v: 1 / (1 + np.exp(-v)))
    rate = pull([s.rate for s in segments], np.log, np.exp)
    spend = pull([s.spend for s in segments], np.log, np.exp)
    dropout = pull([s.dropout for s in segments], logit, expit)
    b2b = pull([s.b2b_share for s in segments])
    needs = pull([s.needs for s in segments])
    return tuple(replace(s, rate=float(rate[i]), spend=float(spend[i]), dropout=float(dropout[i]),
                         b2b_share=float(b2b[i]), needs=tuple(float(v) for v in needs[i]))
                 for i, s in enumerate(segments))


def _make_customers(rng, ids, seg, b2b_share, start_ts, end_ts, first_day, separation=1.0) -> pd.DataFrame:
    n = ids.size
    is_b2b = rng.random(n) < b2b_share[seg]
    age_bands = np.array(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], dtype=object)
    # Age leans with the segment (weak a priori signal): segment k shifts the band.
    lean = seg if separation == 1.0 else separation * seg + (1 - separation) * seg.mean()
    age_idx = np.clip(np.round(rng.normal(1.2 + 0.6 * lean, 1.3)), 0, 5).astype(int)
    sizes = np.array(["small", "medium", "large"], dtype=object)
    industries = np.array(["retail", "manufacturing", "services", "public sector", "technology"], dtype=object)
    regions = np.array(["north", "south", "east", "west", "central"], dtype=object)
    acq = np.array(["search", "referral", "social", "tv", "email"], dtype=object)
    contact = np.array(["email", "phone", "sms", "post"], dtype=object)
    birthday = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 365 * 55, n), unit="D")
    has_contract = rng.random(n) < 0.3
    contract_end = end_ts + pd.to_timedelta(rng.integers(-180, 365, n), unit="D")
    signup = start_ts + pd.to_timedelta(first_day, unit="D")
    acq_p = np.array([[0.3, 0.3, 0.1, 0.1, 0.2], [0.3, 0.1, 0.3, 0.1, 0.2], [0.2, 0.1, 0.4, 0.1, 0.2],
                      [0.4, 0.2, 0.2, 0.1, 0.1], [0.2, 0.2, 0.1, 0.4, 0.1]])
    if separation != 1.0:  # every row toward the mean row
        acq_p = acq_p.mean(axis=0) + separation * (acq_p - acq_p.mean(axis=0))
    acq_idx = np.array([rng.choice(5, p=acq_p[s % 5]) for s in seg]) if n < 2000 else _vector_choice(rng, acq_p[seg % 5])
    frame = pd.DataFrame({
        "customer_id": pd.Series(ids, dtype=str),
        "signup_date": signup,
        "customer_type": np.where(is_b2b, "B2B", "B2C"),
        "age_band": np.where(is_b2b, None, age_bands[age_idx]),
        "company_size": np.where(is_b2b, sizes[rng.integers(0, 3, n)], None),
        "industry": np.where(is_b2b, industries[rng.integers(0, 5, n)], None),
        "region": regions[rng.integers(0, 5, n)],
        "acquisition_channel": acq[acq_idx],
        "preferred_contact": contact[rng.integers(0, 4, n)],
        "email_opt_in": rng.random(n) < 0.6,
        "birthday": pd.Series(birthday).where(~is_b2b),
        "contract_end": pd.Series(contract_end).where(has_contract),
    })
    for col in ("customer_type", "age_band", "company_size", "industry", "region",
                "acquisition_channel", "preferred_contact"):
        frame[col] = frame[col].astype("category")
    return frame


def _vector_choice(rng, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1)."""
    cum = probs.cumsum(axis=1)
    u = rng.random(probs.shape[0])[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _make_survey(rng, ids, seg, segments, fraction) -> pd.DataFrame:
    n = ids.size
    m = int(round(n * fraction))
    who = np.sort(rng.choice(n, size=m, replace=False)) if m else np.array([], dtype=int)
    need_means = np.array([s.needs for s in segments])
    latent = need_means[seg[who]] + rng.normal(0, 0.6, size=(m, len(NEEDS)))
    cols = {"customer_id": pd.Series(ids[who], dtype=str)}
    for item, (need, _text) in SURVEY_ITEMS.items():
        k = NEEDS.index(need)
        score = 3 + 0.9 * latent[:, k] + rng.normal(0, 0.6, m)
        cols[item] = np.clip(np.round(score), 1, 5).astype(int)
    # Satisfaction (1-5) and likelihood to recommend (0-10) follow service fit.
    base = 3.4 + 0.3 * latent[:, 1] - 0.2 * latent[:, 0] + rng.normal(0, 0.8, m)
    cols["satisfaction"] = np.clip(np.round(base), 1, 5).astype(int)
    cols["recommend"] = np.clip(np.round(2 * base + 0.5 + rng.normal(0, 1.0, m)), 0, 10).astype(int)
    return pd.DataFrame(cols)


# --------------------------------------------------------------------------- CDNOW


def data_dir() -> Path:
    """The folder with the shipped data (``$SEGWORK_DATA`` overrides it)."""
    env = os.environ.get("SEGWORK_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "data"


_CDNOW_FILES = {"master": "CDNOW_master.txt", "sample": "CDNOW_sample.txt"}

#: The cleaning rules CDNOW is analysed under, as published (Fader, Hardie & Lee 2005 count every record):
#: the records of $0 (80 in the master file, 8 in the sample; 8 sample customers have no other) and the
#: identical records of one customer and day (255; 21) are purchases there. Give them to
#: ``rfm_summary(load_cdnow(...), rules=CDNOW_RULES)`` to reproduce the published summaries and estimates;
#: ``load_dataset("cdnow")`` passes its transactions through the gate under them.
CDNOW_RULES = CleaningRules(non_positive_amount="keep", duplicates="keep")


def load_cdnow(kind: str = "master") -> pd.DataFrame:
    """Load the CDNOW transactions (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    kind: ``"master"`` (23,570 customers who first bought in 1997-Q1, 69,659
        transactions, 1997-01-01..1998-06-30) or ``"sample"`` (the 1/10
        sample of 2,357 customers used in the BG/NBD papers).

    Returns
    -------
    DataFrame with columns ``customer_id`` (string, the master id), ``date``,
    ``quantity`` (CDs bought) and ``amount`` (US dollars), one row per
    transaction record as in the file (no cleaning: the files are clean).
    """
    if kind not in _CDNOW_FILES:
        raise ValueError(f"load_cdnow: kind={kind!r}; use 'master' or 'sample'")
    path = data_dir() / _CDNOW_FILES[kind]
    if not path.exists():
        raise DataError(f"{path}: CDNOW {kind} file not found; see data/README.md for where it comes from")
    names = (["customer_id", "sample_id", "date", "quantity", "amount"] if kind == "sample"
             else ["customer_id", "date", "quantity", "amount"])
    df = pd.read_csv(path, sep=r"\s+", header=None if kind == "sample" else 0, names=names,
                     dtype={"customer_id": str, "sample_id": str, "date": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    df["quantity"] = df["quantity"].astype(float)
    df["amount"] = df["amount"].astype(float)
    df["customer_id"] = df["customer_id"].astype(str)
    return df[["customer_id", "date", "quantity", "amount"]]


# --------------------------------------------------------------------------- CLVTools' apparel data


@dataclass(frozen=True)
class ApparelData:
    """CLVTools' simulated apparel retailer data (:func:`load_apparel`), in segwork's conventions.

    transactions: ``customer_id`` (str), ``date``, ``amount`` (CLVTools' ``Price``); 600 customers, all
        acquired on 2005-01-02, 3,187 transactions through 2010-12-20.
    static_covariates: indexed by ``customer_id``: ``gender`` (0 = male, 1 = female), ``channel``
        (acquisition channel, 0 = online, 1 = offline), floats.
    dynamic_covariates: the long weekly table ``customer_id``, ``period_start`` (Sundays, 2005-01-02 ..
        2010-12-26, 313 weeks), ``high_season`` (1 in weeks considered high season), ``gender``, ``channel``.
    dynamic_covariates_future: the same columns for the 94 weeks from 2011-01-02.
    estimation_end: 2006-12-31, the split of CLVTools' examples (``estimation.split = 104`` weeks).
    """

    transactions: pd.DataFrame
    static_covariates: pd.DataFrame
    dynamic_covariates: pd.DataFrame
    dynamic_covariates_future: pd.DataFrame
    estimation_end: pd.Timestamp = pd.Timestamp("2006-12-31")


#: The cleaning rules of the apparel data: every record counts, as in CLVTools (4 records have Price 0).
APPAREL_RULES = CleaningRules(non_positive_amount="keep", duplicates="keep")


def load_apparel() -> ApparelData:
    """Load CLVTools' apparel data (``apparelTrans``, ``apparelStaticCov``, ``apparelDynCov``,
    ``apparelDynCovFuture``) shipped verbatim in ``data/apparel/`` (GPL-3, simulated data; see data/README.md),
    read with pyreadr. The transactions pass segwork's gate under :data:`APPAREL_RULES` (nothing dropped). Columns
    renamed to segwork's names (``Id`` -> ``customer_id``, ``Date`` -> ``date``,
    ``Price`` -> ``amount``, ``Cov.Date`` -> ``period_start``, ``High.Season`` -> ``high_season``, ``Gender``
    -> ``gender``, ``Channel`` -> ``channel``); no row is changed. Raises DataError when a file is missing.
    """
    import pyreadr  # imported here, not at the top: only this loader reads R files

    folder = data_dir() / "apparel"
    frames = {}
    for name in ("apparelTrans", "apparelStaticCov", "apparelDynCov", "apparelDynCovFuture"):
        path = folder / f"{name}.rda"
        if not path.exists():
            raise DataError(f"{path}: CLVTools' apparel file not found; see data/README.md for where it comes from")
        frames[name] = next(iter(pyreadr.read_r(str(path)).values()))
    names = {"Id": "customer_id", "Date": "date", "Price": "amount", "Cov.Date": "period_start",
             "High.Season": "high_season", "Gender": "gender", "Channel": "channel"}

    def tidy(frame, date_col=None):
        out = frame.rename(columns=names)
        out["customer_id"] = out["customer_id"].astype(str)
        if date_col:
            out[date_col] = pd.to_datetime(out[date_col])
        return out

    # through the one gate, keeping every record as CLVTools counts them (4 have Price 0, one of them a first
    # purchase; CLVTools aggregates records of one customer and day, as rfm_summary counts purchase days)
    tx, _ = clean_transactions(tidy(frames["apparelTrans"], "date"), rules=APPAREL_RULES,
                               source="CLVTools apparelTrans")
    return ApparelData(
        transactions=tx,
        static_covariates=tidy(frames["apparelStaticCov"]).set_index("customer_id"),
        dynamic_covariates=tidy(frames["apparelDynCov"], "period_start"),
        dynamic_covariates_future=tidy(frames["apparelDynCovFuture"], "period_start"))


# --------------------------------------------------------------------------- the registry


def _load_cdnow_dataset(kind: str) -> Dataset:
    # through the one gate, under the rules of the published analyses (every record counts)
    tx, report = clean_transactions(load_cdnow(kind), rules=CDNOW_RULES, source=f"CDNOW {kind}")
    return Dataset(
        transactions=tx, name=f"CDNOW {kind}", currency="USD",
        observation_start=pd.Timestamp("1997-01-01"), observation_end=pd.Timestamp("1998-06-30"),
        cleaning_report=report,
    )


def _synthetic_label(n_customers: int | None = None, random_state: int | None = None, defection: bool = False) -> str:
    extra = ", ".join(x for x in (f"{n_customers:,} customers" if isinstance(n_customers, int) else "",
                                  f"random_state {random_state}" if random_state is not None else "",
                                  "defection drivers" if defection else "") if x)
    return f"synthetic CRM data ({extra})" if extra else "synthetic CRM data"


@dataclass(frozen=True)
class BuiltinDataset:
    """One built-in data set of :data:`DATASETS`.

    Attributes
    ----------
    name: the name users type (``--dataset NAME``, ``load_dataset(NAME)``).
    load: builds the :class:`Dataset`; takes the keywords named in ``parameters``.
    parameters: the :func:`load_dataset` keywords this data set uses
        (``n_customers``, ``random_state`` and ``defection`` for the synthetic data; none for CDNOW).
    label: a one-line description for reports; takes the same keywords.
    listed: shown in the lists of names in messages (aliases are not).
    """

    name: str
    load: Callable[..., Dataset]
    label: Callable[..., str]
    parameters: tuple[str, ...] = ()
    listed: bool = True

    def describe(self, **values) -> str:
        """The label, given the values of (some of) ``parameters``; others are ignored."""
        return self.label(**{k: v for k, v in values.items() if k in self.parameters})


#: The built-in data sets by name: the one list every part of segwork reads.
DATASETS: Mapping[str, BuiltinDataset] = {d.name: d for d in (
    BuiltinDataset("synthetic", lambda n_customers=20_000, random_state=0, defection=False: make_crm(
        n_customers=n_customers, random_state=random_state, defection=defection),
                   _synthetic_label, ("n_customers", "random_state", "defection")),
    BuiltinDataset("cdnow", lambda: _load_cdnow_dataset("master"), lambda: "CDNOW (master, 23,570 customers)"),
    BuiltinDataset("cdnow_master", lambda: _load_cdnow_dataset("master"),
                   lambda: "CDNOW (master, 23,570 customers)", listed=False),
    BuiltinDataset("cdnow_sample", lambda: _load_cdnow_dataset("sample"),
                   lambda: "CDNOW (1/10 sample, 2,357 customers)"),
)}


def builtin_dataset(name: object) -> BuiltinDataset | None:
    """The :data:`DATASETS` entry called ``name``, or ``None`` (a path, or not a name)."""
    return DATASETS.get(name) if isinstance(name, str) else None


def _names() -> str:
    return ", ".join(d.name for d in DATASETS.values() if d.listed)


# --------------------------------------------------------------------------- prepared data

#: The file that marks a prepared-data folder and holds what is not a table.
PREPARED_MANIFEST = "dataset.json"
_PREPARED_FORMAT = "segwork-prepared-dataset"
_PREPARED_VERSION = 1
_TABLES = ("transactions", "customers", "survey", "truth", "campaign", "dynamic_covariates", "exit_survey",
           "planted_effects")


def save_prepared(dataset: Dataset, folder: str | Path) -> Path:
    """Write ``dataset`` to ``folder`` so that :func:`load_prepared` gives it back unchanged.

    Writes ``transactions.parquet`` (and ``customers``, ``survey``, ``truth``,
    ``campaign``, ``dynamic_covariates``, ``exit_survey``, ``planted_effects``
    when present; a frame's ``attrs`` travel in its Parquet metadata) and ``dataset.json``: the name, observation window,
    currency, planted segment specs and the cleaning report of the original
    source. Each file is written atomically; the manifest last, so a folder
    with a manifest is complete. Returns ``folder``.
    """
    folder = Path(folder)
    files = {}
    for table in _TABLES:
        frame = getattr(dataset, table)
        if frame is None:
            continue
        buffer = _bytes_io.BytesIO()
        frame.to_parquet(buffer, index=table == "truth")
        atomic_write_bytes(folder / f"{table}.parquet", buffer.getvalue())
        files[table] = f"{table}.parquet"
    report = dataset.cleaning_report
    manifest = {
        "format": _PREPARED_FORMAT, "version": _PREPARED_VERSION, "name": dataset.name,
        "observation_start": str(pd.Timestamp(dataset.observation_start)),
        "observation_end": str(pd.Timestamp(dataset.observation_end)),
        "currency": dataset.currency, "tables": files,
        "segments": [dataclasses.asdict(s) for s in dataset.segments],
        "cleaning_report": None if report is None else report.to_dict(),
    }
    atomic_write_text(folder / PREPARED_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return folder


def is_prepared(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by :func:`save_prepared`."""
    return (Path(path) / PREPARED_MANIFEST).is_file()


def load_prepared(folder: str | Path) -> Dataset:
    """The :class:`Dataset` saved in ``folder`` by :func:`save_prepared`, as it was saved.

    The tables are read as they are (they were validated and cleaned before
    they were saved); the cleaning report comes back in
    ``dataset.cleaning_report``.

    Raises
    ------
    DataError: ``folder`` holds no ``dataset.json`` of this format, or a table is missing.
    """
    folder = Path(folder)
    manifest = read_json_document(folder / PREPARED_MANIFEST, format=_PREPARED_FORMAT, version=_PREPARED_VERSION,
                                  folder="prepared data", what="prepared data set", fix="write it with segwork.datasets.save_prepared")
    tables = {}
    for table, name in manifest["tables"].items():
        try:
            tables[table] = pd.read_parquet(folder / name)
        except OSError as exc:
            raise DataError(f"{folder / name}: the {table} table of this prepared data set cannot be read "
                            f"({exc}); prepare it again") from None
    report = manifest.get("cleaning_report")
    return Dataset(
        **tables, name=manifest["name"], currency=manifest["currency"],
        observation_start=pd.Timestamp(manifest["observation_start"]),
        observation_end=pd.Timestamp(manifest["observation_end"]),
        segments=tuple(SegmentSpec(**{**s, "needs": tuple(s["needs"])}) for s in manifest["segments"]),
        cleaning_report=None if report is None else CleaningReport.from_dict(report),
    )


# --------------------------------------------------------------------------- by name


@renamed_keywords(seed="random_state")
def load_dataset(name: str = "synthetic", *, n_customers: int = 20_000, random_state: int = 0,
                 defection: bool = False, **read_kwargs) -> Dataset:
    """A :class:`Dataset` by name (see :data:`DATASETS`), a prepared folder, or a transaction file.

    - a name of :data:`DATASETS`: ``"synthetic"`` (``make_crm(n_customers, random_state,
      defection=defection)``), ``"cdnow"``, ``"cdnow_sample"``;
    - a folder written by :func:`save_prepared` (what ``segwork report``
      puts in ``<run>/data/``): loaded as saved by :func:`load_prepared`,
      without reading or cleaning again; the folder's data is what it is;
    - a file: read, validated and cleaned by :func:`segwork.io.read_transactions`
      (``read_kwargs`` are passed on); its cleaning report is kept in
      ``dataset.cleaning_report``.

    ``n_customers``, ``random_state`` and ``defection`` apply to the synthetic data only; elsewhere they
    are not used (so one notebook call serves every data set): a data set without the planted defection
    world has ``planted_effects``, ``dynamic_covariates`` and ``exit_survey`` ``None``.

    Raises
    ------
    DataError: neither a built-in name nor an existing file or prepared folder.
    """
    entry = builtin_dataset(name)
    if entry is not None:
        values = {"n_customers": n_customers, "random_state": random_state, "defection": defection}
        return entry.load(**{k: values[k] for k in entry.parameters})
    path = Path(name)
    if path.is_dir() and is_prepared(path):
        return load_prepared(path)
    if not path.exists():
        raise DataError(f"{name}: not a built-in data set ({_names()}) and no such file")
    tx, report = read_transactions(path, **read_kwargs)
    return Dataset(transactions=tx, name=path.name, cleaning_report=report)
