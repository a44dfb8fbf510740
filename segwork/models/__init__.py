"""The saved-model folder and bulk scoring: models fitted once, then used by the service, ``segwork score`` and notebooks.

Modules, one job each:

* :mod:`~segwork.models.store`: build, write and load-with-verification the model folder
  (``segwork models build``);
* :mod:`~segwork.models.value`: the value columns of histories (P(alive), expected purchases and spend, CLV,
  purchase propensity) from the stored models, the one function the SOAP service and bulk scoring call;
* :mod:`~segwork.models.score`: the scores of one chunk of customers from their customer table;
* :mod:`~segwork.models.bulk`: every customer of a transaction log scored chunk by chunk on an engine
  (``segwork score``);
* :mod:`~segwork.models.reading`: the reading options each engine honours, the files to score;
* :mod:`~segwork.models.output`: the Parquet output written atomically, temporaries of dead runs removed.
"""
from .bulk import DEFAULT_CHUNK_SIZE, ScoreResult, score_transactions
from .score import PROPENSITY_DAYS, score_table
from .store import ModelStore, build_models, file_sha256, load_models
from .value import value_columns

__all__ = ["ModelStore", "build_models", "load_models", "file_sha256", "value_columns", "score_table",
           "score_transactions", "ScoreResult", "DEFAULT_CHUNK_SIZE", "PROPENSITY_DAYS"]
