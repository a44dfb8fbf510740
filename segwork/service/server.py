"""Run the service: load the model folder once, serve the WSGI app with waitress until stopped.

waitress is a maintained, pure-Python production WSGI server (no C build,
runs on every platform segwork supports). It serves with ``workers`` threads
in one process, so the models are loaded once and shared read-only by all
threads. waitress's own request-size cap is set a little above the app's
limit: bodies between the two get the app's SOAP Fault (413), larger ones
waitress refuses (413) from ``Content-Length`` before reading them.

Connections (the settings are chosen, not waitress's defaults; see
``segwork/service/README.md``, "Server settings"): waitress reads requests
asynchronously in one thread and hands only complete requests to the
``workers`` threads, so a slow client never holds a worker, but every open
connection counts against ``connection_limit``; past it waitress stops
accepting. So the limit is high (:data:`DEFAULT_CONNECTION_LIMIT`, with
``poll`` instead of ``select``, which fails above 1024 descriptors), an idle
connection is closed after ``channel_timeout`` seconds, and a request still
arriving ``request_timeout`` seconds after its first byte is dropped (a
client trickling a byte a second would otherwise hold its connection for
hours). waitress checks both every ``cleanup_interval`` seconds.
"""
from __future__ import annotations

import errno
import logging
import socket
import sys

import numpy as np

from ..errors import DataError
from .app import DEFAULT_MAX_BATCH, DEFAULT_MAX_BODY_BYTES, SegmentationApp
from ..models.store import load_models

__all__ = ["make_server", "serve", "public_host", "WILDCARD_HOSTS", "DEFAULT_CONNECTION_LIMIT", "DEFAULT_CHANNEL_TIMEOUT", "DEFAULT_REQUEST_TIMEOUT",
           "DEFAULT_WORKERS", "MAX_HEADER_BYTES"]

#: Open connections served at once (waitress's default is 100); beyond it new clients wait in the backlog.
DEFAULT_CONNECTION_LIMIT = 500
#: Seconds without any byte after which an idle (keep-alive or stalled) connection is closed (waitress: 120).
DEFAULT_CHANNEL_TIMEOUT = 30
#: Seconds a request may take to arrive, from its first byte to its last (waitress has no such limit).
DEFAULT_REQUEST_TIMEOUT = 60
#: Worker threads answering complete requests.
DEFAULT_WORKERS = 4
#: Largest request head (request line and headers), bytes (waitress: 256 KiB; a SOAP request's is < 1 KiB).
MAX_HEADER_BYTES = 64 * 1024

log = logging.getLogger("segwork.service")


def _cleanup_interval(channel_timeout: int, request_timeout: int) -> int:
    """How often (seconds) waitress looks for connections to close: a third of the shorter timeout, 1 to 10 s."""
    return max(1, min(10, min(channel_timeout, request_timeout) // 3))


def _raise_open_files_limit(needed: int) -> int:
    """Raise the soft limit of open files towards ``needed`` (up to the hard limit); return the soft limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: no such limit to raise
        return needed
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # pragma: no cover
            pass
    return needed if soft == resource.RLIM_INFINITY else soft


def _add_request_deadline(server, request_timeout: int) -> None:
    """Make waitress's periodic maintenance also close connections whose request has been arriving for more
    than ``request_timeout`` seconds (waitress closes only idle ones): the slow-client defence."""
    original = server.maintenance
    partial: dict[tuple[int, int], float] = {}

    def maintenance(now):
        original(now)
        seen = {}
        for channel in list(server.active_channels.values()):
            request = getattr(channel, "request", None)
            if request is None or channel.requests or getattr(request, "completed", False):
                continue
            key = (id(channel), id(request))
            since = seen[key] = partial.get(key, now)
            if now - since > request_timeout:
                channel.will_close = True
        partial.clear()
        partial.update(seen)

    server.maintenance = maintenance


def make_server(models, *, host: str = "127.0.0.1", port: int = 8000, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                workers: int = DEFAULT_WORKERS, max_batch: int = DEFAULT_MAX_BATCH, public_url: str | None = None,
                connection_limit: int = DEFAULT_CONNECTION_LIMIT, channel_timeout: int = DEFAULT_CHANNEL_TIMEOUT,
                request_timeout: int = DEFAULT_REQUEST_TIMEOUT):
    """A waitress server bound to ``host:port`` (``port`` 0: a free one) serving the models of folder ``models``.

    ``public_url`` is the address the served WSDL names (default: the
    request's Host header, else the bound address). ``connection_limit``
    (open connections), ``channel_timeout`` (seconds idle) and
    ``request_timeout`` (seconds for one request to arrive) bound what slow
    clients can hold (module docs).

    Returns the server (``server.run()`` serves until stopped, ``server.close()``
    stops; ``server.effective_port`` is the bound port). Raises DataError for a
    model folder that is missing, incomplete, changed or of another version
    (see :func:`segwork.models.store.load_models`), and for an address that
    cannot be listened on (e.g. the port is in use).
    """
    from waitress.server import create_server

    if isinstance(port, bool) or not isinstance(port, (int, np.integer)) or not 0 <= int(port) <= 65535:
        # the socket layer would wrap 99999 to 34463 (modulo 65536) and waitress take 65536 as "any port"
        raise DataError(f"serve: --port must be a port number from 0 to 65535 (0: a free one), got {port!r}")
    store = load_models(models)
    app = SegmentationApp(store, max_body_bytes=max_body_bytes, max_batch=max_batch, public_url=public_url)
    limit = min(int(connection_limit), max(8, _raise_open_files_limit(int(connection_limit) + 64) - 64))
    if limit < connection_limit:
        log.warning("segwork serve: the open-files limit allows %d connections, not %d", limit, connection_limit)
    try:
        server = create_server(app, host=host, port=port, threads=workers,
                               max_request_body_size=max_body_bytes + max(1 << 20, max_body_bytes),
                               max_request_header_size=MAX_HEADER_BYTES,
                               connection_limit=limit, channel_timeout=int(channel_timeout),
                               cleanup_interval=_cleanup_interval(int(channel_timeout), int(request_timeout)),
                               asyncore_use_poll=True,
                               clear_untrusted_proxy_headers=True, ident="segwork")
    except ValueError:  # waitress: "Invalid host/port specified." (an address getaddrinfo does not take)
        raise DataError(f"serve: --host {host!r} is not an address this machine can listen on; give an IPv4 address "
                        "(e.g. 127.0.0.1, 0.0.0.0 = all interfaces), an IPv6 address (::1, :: = all interfaces) or "
                        "a host name of this machine") from None
    except OSError as exc:
        if isinstance(exc, socket.gaierror):
            raise DataError(f"serve: --host {host!r} is not an address this machine can listen on "
                            f"({exc.strerror or exc}); give an IPv4 address (e.g. 127.0.0.1, 0.0.0.0 = all "
                            "interfaces), an IPv6 address (::1, :: = all interfaces) or a host name of this "
                            "machine") from None
        why = ("the address is already in use (is another server running there?); choose another --port or stop "
               "the other server" if exc.errno == errno.EADDRINUSE else (exc.strerror or type(exc).__name__))
        raise DataError(f"serve: cannot listen on {host}:{port}: {why}") from None
    _add_request_deadline(server, int(request_timeout))
    app.endpoint = f"http://{_url_host(public_host(host))}:{server.effective_port}/"
    server.segwork_app = app
    return server


#: Bind addresses that mean "every interface": no client can reach the service at them.
WILDCARD_HOSTS = ("0.0.0.0", "::", "", "*")


def public_host(host: str) -> str:
    """The host a remote client can use for the bound address ``host``: the machine's name for a wildcard
    address (0.0.0.0, ::), whose literal is unusable from elsewhere (``http://0.0.0.0:8000/``); else ``host``."""
    if host.strip("[]") not in WILDCARD_HOSTS:
        return host
    name = socket.getfqdn()
    if not name or name.startswith("localhost") or name in WILDCARD_HOSTS:
        name = socket.gethostname()
    return name or "localhost"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(models, *, host: str = "127.0.0.1", port: int = 8000, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
          workers: int = DEFAULT_WORKERS, max_batch: int = DEFAULT_MAX_BATCH, public_url: str | None = None,
          connection_limit: int = DEFAULT_CONNECTION_LIMIT, channel_timeout: int = DEFAULT_CHANNEL_TIMEOUT,
          request_timeout: int = DEFAULT_REQUEST_TIMEOUT) -> None:
    """Serve until interrupted; prints one line to stderr when ready. Raises DataError as :func:`make_server`."""
    for name in ("segwork.service", "waitress"):
        logger = logging.getLogger(name)
        logger.propagate = False
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
    server = make_server(models, host=host, port=port, max_body_bytes=max_body_bytes, workers=workers,
                         max_batch=max_batch, public_url=public_url, connection_limit=connection_limit,
                         channel_timeout=channel_timeout, request_timeout=request_timeout)
    app = server.segwork_app
    m = app.store.manifest
    shown = public_url or app.endpoint
    everywhere = host.strip("[]") in WILDCARD_HOSTS
    where = (f"{app.endpoint} (listening on all interfaces, {_url_host(host)}:{server.effective_port}; WSDL "
             f"{shown}?wsdl)" if everywhere else f"{app.endpoint} (WSDL {shown}?wsdl)")
    print(f"segwork serve: ready at {where}; models from {models} "
          f"(data {m.get('dataset')}, built {m.get('created')}); {workers} worker thread(s); Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        server.run()
    finally:
        server.close()
