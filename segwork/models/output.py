"""Bulk scoring output: Parquet written chunk by chunk and renamed into place; temporaries of dead runs removed.

A reader never sees a half-written score file, and a failure leaves an existing one as it was. Temporary
files and folders carry this process's tag (:data:`TMP_TAG`), so that a later run on the same machine can
remove those whose process is gone (:func:`remove_stale_temporaries`).
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from .._atomic import new_file_mode

__all__ = ["ParquetOutput", "Progress", "remove_stale_temporaries", "TMP_TAG", "HOST_TAG"]


class ParquetOutput:
    """Parquet written chunk by chunk to a temporary file beside ``path``; :meth:`commit` renames it into place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{TMP_TAG}", suffix=".tmp", dir=path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.writer = None
        self.schema = None
        self.rows = 0

    def write(self, scores: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = scores.reset_index()
        if self.writer is None:
            self.schema = pa.Schema.from_pandas(frame, preserve_index=False)
            # strings as strings whatever pandas inferred for the first chunk
            self.schema = pa.schema([pa.field(f.name, pa.string()) if f.name == "customer_id" or
                                     pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                                     or pa.types.is_null(f.type) else f for f in self.schema]).remove_metadata()
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False))
        self.rows += len(frame)

    def commit(self, empty: pd.DataFrame) -> None:
        if self.writer is None:
            self.write(empty)
        self.writer.close()
        os.chmod(self.tmp, new_file_mode())
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # noqa: BLE001 - the write already failed; the temp file goes anyway
                pass
        self.tmp.unlink(missing_ok=True)


#: This machine, in temporary names: a process id says nothing about another machine's processes (a shared folder).
HOST_TAG = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
#: The tag of this process's temporary files and folders (``.scores.parquet.pid123-1a2b3c4d.xxxx.tmp``,
#: ``.score-parts.pid123-1a2b3c4d.xxxx/``): a later run on the same machine removes those whose process is gone
#: (see remove_stale_temporaries).
TMP_TAG = f"pid{os.getpid()}-{HOST_TAG}."
_TAGGED = re.compile(r"^pid(\d+)-([0-9a-f]{8})\.")
#: Leftovers of versions before the tag (no pid) are removed when they have not changed for this long (seconds).
_UNTAGGED_AGE = 3600


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (PermissionError), or no way to tell: keep its files
        pass
    return True


def remove_stale_temporaries(folder, output_name: str) -> list[Path]:
    """Remove the temporary files of score runs that died (e.g. ``kill -9``) before they could clean up.

    In ``folder``: ``.<output_name>.pid<N>-<host>.*.tmp`` (the output being
    written) and ``.score-parts.pid<N>-<host>.*/`` (the DuckDB engine's
    parts) written on this machine (``<host>``: a hash of its name) whose
    process ``N`` no longer runs; leftovers without a pid (written by earlier
    versions) when unchanged for an hour. Files of running processes, and of
    other machines sharing the folder, are kept. Returns the paths removed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith(f".{output_name}.") and name.endswith(".tmp") and entry.is_file():
            rest = name[len(output_name) + 2:]
        elif name.startswith(".score-parts.") and entry.is_dir():
            rest = name[len(".score-parts."):]
        else:
            continue
        tagged = _TAGGED.match(rest)
        if tagged and tagged.group(2) != HOST_TAG:
            continue  # another machine's: its processes cannot be checked from here
        try:
            stale = (not _pid_alive(int(tagged.group(1))) if tagged
                     else now - entry.stat().st_mtime > _UNTAGGED_AGE)
            if stale:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed.append(entry)
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
    return removed



class Progress:
    """One line per chunk on stderr (tqdm when it is installed and stderr is a terminal)."""

    def __init__(self, total: int, enabled: bool, what: str = "chunk") -> None:
        self.enabled, self.total, self.done, self.what, self.t0 = enabled, total, 0, what, time.perf_counter()
        self.bar = None
        if enabled and sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit=what, file=sys.stderr)
            except ImportError:  # pragma: no cover - tqdm comes with papermill
                self.bar = None

    def step(self, customers: int) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(customers=customers)
        else:
            print(f"score: {self.what} {self.done}/{self.total}: {customers:,} customers "
                  f"({time.perf_counter() - self.t0:.1f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
