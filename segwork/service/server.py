"""Run the service: load the model folder once, serve the WSGI app with waitress until stopped.

waitress is a maintained, pure-Python production WSGI server (no C build,
runs on every platform segwork supports). It serves with ``workers`` threads
in one process, so the models are loaded once and shared read-only by all
threads. waitress's own request-size cap is set a little above the app's
limit: bodies between the two get the app's SOAP Fault (413), larger ones
waitress refuses (413) from ``Content-Length`` before reading them.
"""
from __future__ import annotations

import logging
import sys

from .app import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES, SegmentationApp
from .store import load_models

__all__ = ["make_server", "serve"]


def make_server(models, *, host: str = "127.0.0.1", port: int = 8000, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                workers: int = 4, max_batch: int = DEFAULT_MAX_BATCH):
    """A waitress server bound to ``host:port`` (``port`` 0: a free one) serving the models of folder ``models``.

    Returns the server (``server.run()`` serves until stopped, ``server.close()``
    stops; ``server.effective_port`` is the bound port). Raises DataError for a
    model folder that is missing, incomplete, changed or of another version
    (see :func:`segwork.service.store.load_models`).
    """
    from waitress.server import create_server

    store = load_models(models)
    app = SegmentationApp(store, max_body_bytes=max_body_bytes, max_batch=max_batch)
    server = create_server(app, host=host, port=port, threads=workers,
                           max_request_body_size=max_body_bytes + max(1 << 20, max_body_bytes),
                           clear_untrusted_proxy_headers=True, ident="segwork")
    app.endpoint = f"http://{_url_host(host)}:{server.effective_port}/"
    server.segwork_app = app
    return server


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(models, *, host: str = "127.0.0.1", port: int = 8000, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
          workers: int = 4, max_batch: int = DEFAULT_MAX_BATCH) -> None:
    """Serve until interrupted; prints one line to stderr when ready."""
    for name in ("segwork.service", "waitress"):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
    server = make_server(models, host=host, port=port, max_body_bytes=max_body_bytes, workers=workers,
                         max_batch=max_batch)
    app = server.segwork_app
    m = app.store.manifest
    print(f"segwork serve: ready at {app.endpoint} (WSDL {app.endpoint}?wsdl); models from {models} "
          f"(data {m.get('dataset')}, built {m.get('created')}); {workers} worker thread(s); Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        server.run()
    finally:
        server.close()
