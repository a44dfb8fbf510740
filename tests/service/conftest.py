"""Fixtures of the service tests: the real server serving the model folder of ``models_dir`` (tests/conftest.py).

The server is ``segwork serve`` in a subprocess on 127.0.0.1 and a free port, started once per session
and stopped at the end; it is ready when it prints its one ready line.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_BODY = 200_000
MAX_BATCH = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(folder):
    """``segwork serve`` of ``folder`` on 127.0.0.1 and a free port (max body 200,000 bytes, batches of 50, 4
    workers): yields ``http://127.0.0.1:PORT/`` once it printed its ready line, stops it after."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "segwork.cli", "serve", "--models", str(folder), "--host", "127.0.0.1",
         "--port", str(port), "--max-body-bytes", str(MAX_BODY), "--max-batch", str(MAX_BATCH), "--workers", "4"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    drain = None
    try:
        line = proc.stderr.readline()
        if "ready" not in line:
            proc.kill()
            pytest.fail(f"segwork serve did not start: {line}{proc.stderr.read()}")
        url = f"http://127.0.0.1:{port}/"
        assert line.count("\n") == 1 and url in line
        # keep reading the server's stderr so that a full pipe can never block it
        drain = threading.Thread(target=proc.stderr.read, daemon=True)
        drain.start()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait(timeout=10)
        if drain is not None:
            drain.join(timeout=10)
        proc.stderr.close()


@pytest.fixture(scope="session")
def serve_folder():
    """``serve_folder(folder)``: a context manager serving another model folder (see :func:`running_server`)."""
    return running_server


@pytest.fixture(scope="session")
def server(models_dir):
    """``http://127.0.0.1:PORT/`` of a running ``segwork serve`` (max body 200,000 bytes, batches of 50)."""
    with running_server(models_dir) as url:
        yield url


@pytest.fixture(scope="session")
def client(server):
    zeep = pytest.importorskip("zeep")
    return zeep.Client(f"{server}?wsdl")
