"""The model folder the segmentation service serves: build it, write it atomically, load it verified.

``segwork models build`` calls :func:`build_models`; ``segwork serve`` calls
:func:`load_models` once per worker. A model folder holds

=======================  ==========================================================  ===========
file                     content                                                     format
=======================  ==========================================================  ===========
``table.parquet``        the prepared customer table (:func:`segwork.prepare_table`)  Parquet
``clv.json``             the fitted CLV models: the transaction model's and the      JSON
                         Gamma-Gamma's ``params_``, horizon, discount rate, margin
``segmentations/*.pkl``  the default segmentations (:meth:`Segmentation.save`)        pickle
``defection/``           why customers may leave (ExplainDefection): the time-varying    JSON,
                         Pareto/NBD and the known customers' reasons and actions when    Parquet
                         the data has drivers, else only P(alive), relationship and
                         value at risk (:mod:`segwork.models.defection`)
``manifest.json``        segwork version, data set, its date range, creation time,   JSON
                         the SHA-256 of every file above
=======================  ==========================================================  ===========

Safe formats where they exist: tables in Parquet and model parameters in JSON
load without running code. The segmentations hold fitted scikit-learn
estimators, for which pickle is the only complete format; unpickling runs
code, so :func:`load_models` checks every file's SHA-256 against the manifest
*before* it unpickles anything, and refuses a folder whose files do not match.
(The hash protects against a damaged or edited file, not against someone who
can rewrite the manifest as well: serve only folders you built.)
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..clv.margin import DEFAULT_MARGIN
from .. import __version__
from .._checks import renamed_keywords
from ..clv.document import clv_document, clv_models_from_document
from ..clv.predict import DEFAULT_TRANSACTION_MODEL
from ..errors import DataError
from ..clv.record import FitRecord
from ..prepare import CLV_RECORD_ATTR, prepare
from ..segment.base import Segmentation
from ..segment.defaults import default_segmentations
from .defection import StoredDefection, read_defection, write_defection

__all__ = ["build_models", "load_models", "ModelStore", "FORMAT", "FORMAT_VERSION", "file_sha256"]

#: What a manifest says it is, and the version of the folder layout this code reads.
FORMAT = "segwork-models"
FORMAT_VERSION = 1
_TABLE = "table.parquet"
_CLV = "clv.json"
_SEGMENTATIONS = "segmentations"
_MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _major_minor(version: str) -> tuple[str, ...]:
    return tuple(str(version).split(".")[:2])


@dataclass
class ModelStore:
    """A loaded, verified model folder (what the service answers from).

    Attributes
    ----------
    folder: where it was loaded from.
    manifest: the manifest (dict, as written by :func:`build_models`).
    table: the prepared customer table, indexed by ``customer_id`` (string).
    segmentations: name -> :class:`~segwork.segment.base.Segmentation`.
    transaction_model: the fitted transaction model (time unit weeks).
    spend_model: the fitted :class:`~segwork.clv.GammaGamma`, or a number
        (a constant spend per purchase when Gamma-Gamma could not be fitted).
    clv_settings: ``horizon`` (months), ``discount_rate`` (per month),
        ``margin`` the table's ``clv`` was computed with.
    clv_record: the :class:`~segwork.clv.record.FitRecord` of the fit (which
        models were fitted, at which limits, which fallbacks were taken); an
        empty record for a folder built before it was kept.
    defection: the defection part (:class:`segwork.models.defection.StoredDefection`);
        None for a folder built without it.
    """

    folder: Path
    manifest: dict
    table: pd.DataFrame
    segmentations: dict[str, Segmentation]
    transaction_model: object
    spend_model: object
    clv_settings: dict = field(default_factory=dict)
    clv_record: FitRecord = field(default_factory=FitRecord)
    defection: StoredDefection | None = None

    @property
    def margin(self) -> float:
        """The profit share of revenue the table's ``clv`` was computed with (``clv_settings["margin"]``)."""
        return float(self.clv_settings["margin"])


def _date_range(dataset) -> list[str]:
    start = getattr(dataset, "observation_start", None)
    end = getattr(dataset, "observation_end", None)
    return [pd.Timestamp(start).date().isoformat() if start is not None else None,
            pd.Timestamp(end).date().isoformat() if end is not None else None]


@renamed_keywords(seed="random_state")
def build_models(dataset, output: str | Path, *, random_state: int = 0, source: str | None = None,
                 horizon: int = 12, discount_rate: float = 0.01, margin: float = DEFAULT_MARGIN,
                 transaction_model: str = DEFAULT_TRANSACTION_MODEL, defection: bool = True,
                 progress=None) -> Path:
    """Build the model folder the service serves, and write it atomically.

    Parameters
    ----------
    dataset: a :class:`segwork.datasets.Dataset` (``load_dataset(name)``).
    output: the folder to write. Written to a temporary folder beside it and
        renamed into place; an existing model folder (one with a manifest) is
        replaced, any other non-empty folder is refused.
    random_state: random state of the segmentations that draw random numbers; recorded in
        the manifest as ``random_state`` (folders built before segwork 0.2 say ``seed``:
        :func:`load_models` reads them as ``random_state``). Old keyword ``seed``,
        deprecated: it still works with a FutureWarning until segwork 0.3.
    source: how the data set was named (recorded in the manifest; default
        ``dataset.name``).
    horizon, discount_rate, margin, transaction_model: as for
        :func:`segwork.prepare_table`.
    defection: build the defection part (``defection/``) with
        :func:`segwork.act.explain.explain_defection` on the same prepared table and relationship
        segmentation (default True; with drivers in the data this fits the time-varying Pareto/NBD). False
        leaves it out: ExplainDefection then refuses with the fix (rebuild).
    progress: called with one line of text before each long step (fitting the CLV models, the segmentations,
        the defection part, writing the folder); ``None`` (default): silent. ``segwork models build`` prints them.

    Returns the folder. Raises DataError when ``output`` is a non-empty
    folder that is not a model folder, and the data errors of
    :func:`segwork.prepare_table` / :func:`segwork.segment.default_segmentations` /
    :func:`segwork.act.explain.explain_defection`.
    """
    output = Path(output)
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not (output / _MANIFEST).exists())):
        raise DataError(f"{output}: exists and is not a segwork model folder; choose a new --output folder")
    say = progress or (lambda _line: None)
    say(f"fitting the CLV models (purchases and spend) on {len(dataset.transactions):,} transactions ...")
    prepared = prepare(dataset, horizon=horizon, discount_rate=discount_rate, margin=margin,
                       transaction_model=transaction_model)
    table = prepared.table
    if prepared.clv is None or prepared.clv.spend_model is None:
        why = "; ".join(prepared.record.lines()) or "no repeat buyers"
        raise DataError(f"{source or dataset.name}: the CLV models cannot be fitted on this data set ({why}), so "
                        "there is nothing to serve for PredictCustomerValue; use data with repeat buyers")
    # the CLV models are fitted once, in prepare: the relationship typer and the saved models reuse that fit
    model, spend = prepared.clv.transaction_model, prepared.clv.spend_model
    say(f"building the default segmentations of {len(table):,} customers ...")
    segmentations = default_segmentations(table, random_state=random_state, model=model)
    explanation = None
    if defection:
        from ..act.explain import explain_defection

        say("explaining defection (the time-varying Pareto/NBD and each customer's reasons) ...")

        explanation = explain_defection(dataset, prepared=prepared, relationship=segmentations["relationship"],
                                        horizon=horizon, discount_rate=discount_rate, margin=margin)

    say(f"writing the model folder {output} ...")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        table.to_parquet(tmp / _TABLE)
        (tmp / _CLV).write_text(json.dumps(clv_document(prepared.clv), indent=2))
        (tmp / _SEGMENTATIONS).mkdir()
        for name, seg in segmentations.items():
            seg.save(tmp / _SEGMENTATIONS / f"{name}.pkl")
        defection_entry = write_defection(tmp, explanation) if explanation is not None else None
        files = {p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "segwork_version": __version__,
            "dataset": source or dataset.name, "dataset_name": dataset.name,
            "date_range": _date_range(dataset), "currency": getattr(dataset, "currency", None),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "random_state": random_state,
            "n_customers": int(len(table)),
            # the CLV record stays a JSON object (what was fitted, at which limits, which fallbacks); the rest text
            "table_attrs": {k: (v if k == CLV_RECORD_ATTR else str(v)) for k, v in table.attrs.items()},
            "clv_record": prepared.record.to_dict(),
            "segmentations": list(segmentations), "files": files,
            **({"defection": defection_entry} if defection_entry is not None else {}),
            "note": "segmentations/*.pkl are pickles (fitted scikit-learn estimators); load_models checks "
                    "their SHA-256 here before unpickling",
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2))
        os.chmod(tmp, 0o755)
        if output.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".old", dir=output.parent))
            os.rename(output, old / "x")
            os.rename(tmp, output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output


def read_manifest(folder: str | Path) -> dict:
    """The manifest of a model folder (dict, as :func:`build_models` wrote it; ``clv_record`` is the
    :meth:`segwork.clv.record.FitRecord.to_dict` of the fit), checked for its format and version.

    Raises DataError naming the folder and the fix for a missing folder or manifest, a manifest that is not
    JSON, or another format or version."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such model folder; build one with 'segwork models build --dataset NAME "
                        f"--output {folder}'")
    path = folder / _MANIFEST
    if not path.is_file():
        raise DataError(f"{folder}: not a model folder (no {_MANIFEST}); build one with 'segwork models build'")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        raise DataError(f"{path}: not valid JSON; rebuild the folder with 'segwork models build'") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path}: not a segwork model manifest; rebuild the folder with 'segwork models build'")
    if manifest.get("format_version") != FORMAT_VERSION or \
            _major_minor(manifest.get("segwork_version", "")) != _major_minor(__version__):
        raise DataError(f"{folder}: built by segwork {manifest.get('segwork_version')!r} (layout "
                        f"{manifest.get('format_version')!r}); this is segwork {__version__} (layout "
                        f"{FORMAT_VERSION}): rebuild it with 'segwork models build'")
    files = manifest.get("files")
    if not isinstance(files, dict) or _TABLE not in files or _CLV not in files or not manifest.get("segmentations"):
        raise DataError(f"{path}: incomplete manifest (no file list, table, CLV models or segmentations); "
                        "rebuild the folder with 'segwork models build'")
    if "seed" in manifest and "random_state" not in manifest:  # written before the rename (issue 18)
        manifest["random_state"] = manifest.pop("seed")
    return manifest


def load_models(folder: str | Path) -> ModelStore:
    """Load a model folder written by :func:`build_models`, after checking it.

    Checks, in this order, before anything is unpickled: the manifest is
    there and of this layout and segwork version (same major.minor); every
    file it lists is there (incomplete folder) with the SHA-256 it records
    (tampered or damaged file). Then reads the Parquet table, the JSON model
    parameters and the pickled segmentations.

    Raises DataError with one line naming the folder, what is wrong and the
    fix (rebuild with ``segwork models build``).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    files = manifest["files"]
    for rel, digest in files.items():
        path = folder / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not path.is_file():
            raise DataError(f"{folder}: incomplete model folder, {rel} is missing; rebuild it with "
                            "'segwork models build'")
        if file_sha256(path) != digest:
            raise DataError(f"{folder}: {rel} does not match the SHA-256 in the manifest (changed or damaged "
                            "after it was built); not loaded. Rebuild the folder with 'segwork models build'")
    for name in manifest["segmentations"]:
        if f"{_SEGMENTATIONS}/{name}.pkl" not in files:
            raise DataError(f"{folder}: incomplete model folder, segmentation {name!r} is not in the manifest; "
                            "rebuild it with 'segwork models build'")
    table = pd.read_parquet(folder / _TABLE)  # ids as prepare_table wrote them (strings): trusted
    table.attrs = dict(manifest.get("table_attrs") or {})
    models = clv_models_from_document(json.loads((folder / _CLV).read_text()), where=str(folder),
                                      fix="rebuild the folder with 'segwork models build'")
    model, spend = models.transaction_model, models.spend_model
    settings = {"horizon": models.horizon, "discount_rate": models.discount_rate, "margin": models.margin}
    segmentations = {name: Segmentation.load(folder / _SEGMENTATIONS / f"{name}.pkl")
                     for name in manifest["segmentations"]}
    return ModelStore(folder=folder, manifest=manifest, table=table, segmentations=segmentations,
                      clv_record=models.record or FitRecord(),
                      transaction_model=model, spend_model=spend, clv_settings=settings,
                      defection=read_defection(folder, manifest))


