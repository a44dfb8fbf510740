"""Atomic file output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and a failure leaves the previous
version of the target intact.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_write_bytes", "new_file_mode", "read_json_document"]


def new_file_mode() -> int:
    """The permissions of a new file: 0o666 less the process's umask (what ``open`` would give)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (same-folder temp file + ``os.replace``).

    The file gets the usual permissions of a new file (0o666 less the umask),
    not the owner-only mode of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def read_json_document(path: Path, *, format: str, version: int, folder: str, what: str, fix: str) -> dict:
    """The JSON object at ``path`` (a folder's manifest that segwork wrote), checked for its ``format`` and
    ``version``.

    ``folder`` names the kind of folder, ``what`` the kind of document and ``fix`` says what to do, in the
    messages. Raises DataError naming the
    folder when the file cannot be read or is no JSON, and naming the file when it is JSON of another kind
    (not an object, another format or version).
    """
    from .errors import DataError

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path.parent}: not a {folder} folder ({path.name} unreadable: {exc}); {fix}") from None
    if not isinstance(doc, dict) or doc.get("format") != format or doc.get("version") != version:
        raise DataError(f"{path}: not a segwork {what} of version {version}; {fix}")
    return doc
