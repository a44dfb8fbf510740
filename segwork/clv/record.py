"""What the CLV step did: which models were fitted, at which limits, and which fallbacks changed a column.

No silent fallback (DESIGN.md): a fallback that changes what a number means
is recorded in the result, shown on the page and tested. :class:`FitRecord`
is that record. :func:`segwork.clv.fit_clv` fills it (:attr:`ClvFit.record`),
:func:`segwork.prepare.prepare` carries it (``Prepared.record``, and
``table.attrs["clv_record"]`` as its :meth:`FitRecord.to_dict`), the
prepared-table folder and the CLV document save it, value tiers that fall back
to revenue add theirs, and :meth:`FitRecord.to_markdown` is the line a page
shows. Everything is JSON-able (:meth:`FitRecord.to_dict` /
:meth:`FitRecord.from_dict`) for the saved-model folder and the service.

A model's ``status``:

* ``"fitted"``: the maximum-likelihood fit converged with the parameters identified;
* ``"at limit"``: it converged to a usable limit of the model (an
  :class:`~segwork.errors.IdentificationWarning`; ``limit`` names the
  parameters with no standard errors, ``message`` says what the limit means,
  e.g. Gamma-Gamma's p -> infinity: every purchase of a customer has the same
  value); its predictions are those of that limit and are used as they are;
* ``"penalized"``: only a fit with a penalizer converged (``penalizer``); its
  numbers are those of a (slightly) different model: a fallback;
* ``"failed"``: no fit; ``message`` says why, and a fallback stands in (or the
  columns it would give are missing, also a fallback).
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ModelStatus", "Fallback", "FitRecord", "STATUSES", "FALLBACK_KINDS"]

#: The states of a model in a :class:`FitRecord` (see the module docs).
STATUSES = ("fitted", "at limit", "penalized", "failed")

#: The fallbacks segwork can take, key -> what it changes (for :class:`Fallback.kind`).
FALLBACK_KINDS = {
    "penalized transaction model": "p_alive and clv come from a transaction model fitted with a penalizer",
    "penalized spend model": "clv comes from a Gamma-Gamma spend model fitted with a penalizer",
    "constant spend": "clv uses one expected spend per purchase for every customer, not the Gamma-Gamma's",
    "heavy-tailed spend": "clv of the customers whose Gamma-Gamma expected spend is undefined (q <= 1) uses an "
                          "observed spend",
    "no clv": "the table has no clv column (p_alive is kept when the transaction model fitted)",
    "no p_alive": "the table has neither p_alive nor clv",
    "value on revenue": "value tiers rank customers by revenue to date, not by predicted CLV",
}


@dataclass(frozen=True)
class ModelStatus:
    """One model of the CLV step and how its fit ended.

    ``role``: ``"transaction"`` (behind ``p_alive`` and the expected
    purchases) or ``"spend"`` (behind the spend per purchase in ``clv``);
    ``model``: its key (``"mbgnbd"``, ``"gamma_gamma"``); ``label``: its name
    for a page (``"MBG/NBD"``, ``"Gamma-Gamma"``); ``status``: one of
    :data:`STATUSES`; ``limit``: the parameters at a usable limit (no standard
    errors), empty otherwise; ``penalizer``: the penalizer of the fit used
    (0 without); ``message``: the warning or error that says what happened
    ("" for a plain fit).
    """

    role: str
    model: str
    label: str
    status: str
    limit: tuple[str, ...] = ()
    penalizer: float = 0.0
    message: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"ModelStatus: status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        object.__setattr__(self, "limit", tuple(str(p) for p in self.limit))
        object.__setattr__(self, "penalizer", float(self.penalizer))

    def sentence(self) -> str:
        """One line for a page, e.g. ``"Gamma-Gamma (spend): at limit (p, v not identified; ...)"``."""
        what = f"{self.label} ({self.role} model): {self.status}"
        if self.status == "at limit":
            what += f" ({', '.join(self.limit)} at a usable limit of the model, without standard errors)"
        elif self.status == "penalized":
            what += f" (penalizer {self.penalizer:g})"
        if self.status == "at limit" and "); the fit is that limit" in self.message:
            return f"{what}. {self.message.split('); the fit is that limit')[0]})."
        return what + (f". {_first_sentence(self.message)}" if self.message and self.status != "fitted" else "")


@dataclass(frozen=True)
class Fallback:
    """A fallback that changes what a column means.

    ``kind``: a key of :data:`FALLBACK_KINDS` (``"constant spend"``,
    ``"value on revenue"``, ...); ``detail``: what was done and why, with the
    numbers (e.g. the constant spend used); ``columns``: the columns whose
    meaning it changes (``("clv",)``; ``("value",)`` for value tiers).
    """

    kind: str
    detail: str
    columns: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in FALLBACK_KINDS:
            raise ValueError(f"Fallback: kind must be one of {', '.join(map(repr, FALLBACK_KINDS))}, got {self.kind!r}")
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))

    def sentence(self) -> str:
        """One line for a page: the kind, the columns it changes and the detail."""
        cols = f" (changes {', '.join(self.columns)})" if self.columns else ""
        return f"Fallback, {self.kind}{cols}: {self.detail}"


@dataclass(frozen=True)
class FitRecord:
    """Which CLV models were fitted, at which limits, and which fallbacks were taken.

    ``models``: a :class:`ModelStatus` per model (transaction first, then
    spend); ``fallbacks``: the :class:`Fallback` s taken, in order. An empty
    record (the default) says nothing was fitted here (e.g. a table given
    with its ``clv``).
    """

    models: tuple[ModelStatus, ...] = ()
    fallbacks: tuple[Fallback, ...] = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "fallbacks", tuple(self.fallbacks))

    # ----------------------------------------------------------------- questions
    def model(self, role: str) -> ModelStatus | None:
        """The status of the ``"transaction"`` or ``"spend"`` model, None when the record has none."""
        return next((m for m in self.models if m.role == role), None)

    @property
    def at_limit(self) -> tuple[ModelStatus, ...]:
        """The models at a usable limit."""
        return tuple(m for m in self.models if m.status == "at limit")

    @property
    def plain(self) -> bool:
        """True when every model was fitted as it is (no limit, no penalizer) and no fallback was taken."""
        return not self.fallbacks and all(m.status == "fitted" for m in self.models)

    def fallback(self, kind: str) -> Fallback | None:
        """The fallback of ``kind`` (a key of :data:`FALLBACK_KINDS`), None when it was not taken."""
        return next((f for f in self.fallbacks if f.kind == kind), None)

    def with_fallbacks(self, *fallbacks: Fallback) -> "FitRecord":
        """This record with ``fallbacks`` added (those of a kind already recorded replace it)."""
        kinds = {f.kind for f in fallbacks}
        return FitRecord(self.models, tuple(f for f in self.fallbacks if f.kind not in kinds) + tuple(fallbacks))

    # ----------------------------------------------------------------- shown
    def lines(self) -> list[str]:
        """One sentence per model and per fallback, for a page, a log or a service answer."""
        return [m.sentence() for m in self.models] + [f.sentence() for f in self.fallbacks]

    def to_markdown(self) -> str:
        """The record as a short Markdown paragraph for a notebook page (bold lead, one bullet per line).

        A plain record gives one line naming the models; a limit or a fallback
        leads with "**Models at a limit / fallbacks taken:**" so a reader sees
        what the numbers rest on. An empty record gives "".
        """
        if not self.models and not self.fallbacks:
            return ""
        if self.plain:
            return ("**CLV models:** " + "; ".join(f"{m.label} ({m.role}) fitted" for m in self.models)
                    + "; no fallback taken.")
        lead = "**CLV models: limits and fallbacks.** What the numbers of this page rest on:"
        return lead + "\n" + "\n".join(f"* {line}" for line in self.lines())

    # ----------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        """A JSON-able dict: ``{"models": [{role, model, label, status, limit, penalizer, message}, ...],
        "fallbacks": [{kind, detail, columns}, ...], "lines": [...]}`` (``lines`` for readers; ignored by
        :meth:`from_dict`)."""
        return {"models": [{"role": m.role, "model": m.model, "label": m.label, "status": m.status,
                            "limit": list(m.limit), "penalizer": m.penalizer, "message": m.message}
                           for m in self.models],
                "fallbacks": [{"kind": f.kind, "detail": f.detail, "columns": list(f.columns)} for f in self.fallbacks],
                "lines": self.lines()}

    @classmethod
    def from_dict(cls, doc: dict | None) -> "FitRecord":
        """The record of :meth:`to_dict` (None or {} -> an empty record). ValueError for an unknown status or kind,
        KeyError or TypeError for a document of another shape."""
        if not doc:
            return cls()
        models = tuple(ModelStatus(m["role"], m["model"], m["label"], m["status"], tuple(m.get("limit") or ()),
                                   float(m.get("penalizer") or 0.0), str(m.get("message") or ""))
                       for m in doc.get("models") or ())
        fallbacks = tuple(Fallback(f["kind"], str(f.get("detail") or ""), tuple(f.get("columns") or ()))
                          for f in doc.get("fallbacks") or ())
        return cls(models, fallbacks)


def _first_sentence(message: str) -> str:
    """A warning or error message up to its first ';' (the rest is advice for a programmer), ending with '.'."""
    text = str(message).split(";")[0].strip()
    return text if text.endswith(".") else text + "."
