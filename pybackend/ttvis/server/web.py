"""``ttvis serve``: the JSON-RPC API over websockets on 127.0.0.1, plus the web page.

One port serves both: HTTP GETs return the page and its assets (from the built webview
bundle when present, else a small placeholder page), and ``/ws`` upgrades to a
websocket that speaks the same pygls JSON-RPC as ``ttvis server`` (one JSON message per
websocket frame). The page and the websocket both require the random access token
printed in the URL; anything else gets HTTP 403.
"""

from __future__ import annotations

import asyncio
import http
import logging
import mimetypes
import posixpath
import secrets
import threading
import webbrowser
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from ttvis.server.api import TtvisApi
from ttvis.server.lsp import Hub, build_server

log = logging.getLogger("ttvis.serve")
STATIC = Path(__file__).resolve().parent.parent / "static"


def _response(status: int, body: bytes, content_type: str):
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    headers = Headers({"Content-Type": content_type, "Content-Length": str(len(body)), "Cache-Control": "no-store",
                       "X-Content-Type-Options": "nosniff"})
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def static_root() -> Path:
    """The folder the page is served from: the built webview bundle if present, else the placeholder."""
    built = STATIC / "webview"
    return built if (built / "index.html").is_file() else STATIC


def normal_path(raw: str) -> str | None:
    """The path of a request target as the server will use it: percent-decoded, ``//`` and
    ``/./`` collapsed (``posixpath.normpath``), always starting with one ``/``; None for a
    path that tries to climb (a ``..`` segment, in any encoding), holds a backslash or a NUL,
    or is not UTF-8. Deciding on this one form keeps what the token check sees and what is
    served the same (``/assets/../index.html`` is not an asset)."""
    try:
        path = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\\" in path or "\x00" in path or ".." in path.split("/"):
        return None
    return "/" + posixpath.normpath("/" + path).lstrip("/") if path.strip("/") else "/"


def make_request_handler(token: str) -> Callable:
    """``process_request`` hook: token check for the page and ``/ws``, static files for GETs.

    The path is normalised first (:func:`normal_path`); only an existing file below
    ``/assets/`` is served without the token, everything else needs it."""

    def process_request(connection, request):
        url = urlsplit(request.path)
        path = normal_path(url.path)
        if path is None:
            return _response(400, b"400 Bad Request: the path climbs out of the page's folder\n", "text/plain")
        given = parse_qs(url.query).get("token", [""])[0]
        root = static_root()
        asset = (root / path.lstrip("/")).resolve() if path.startswith("/assets/") else None
        is_asset = asset is not None and asset.is_relative_to(root / "assets") and asset.is_file()
        if not is_asset and not secrets.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode()):  # str: ASCII only
            return _response(403, b"403 Forbidden: a valid ?token= is required (use the URL ttvis serve printed)\n", "text/plain")
        if path == "/ws":
            return None  # proceed with the websocket handshake
        rel = "index.html" if path == "/" else path.lstrip("/")
        f = (root / rel).resolve()
        if not f.is_relative_to(root) or not f.is_file():
            return _response(404, b"404 Not Found\n", "text/plain")
        ctype = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        return _response(200, f.read_bytes(), ctype)

    return process_request


async def serve_async(paths: list[str], port: int = 0, host: str = "127.0.0.1", token: str | None = None,
                      on_ready: Callable[[str, int, str], None] | None = None, stop: asyncio.Event | None = None,
                      trust: bool = False) -> None:
    """Run the server until ``stop`` is set (or forever).

    Args:
        paths: roots: folders that requests may touch.
        port: TCP port, 0 for a free one.
        host: bind address; 127.0.0.1 only by design.
        token: access token (default: 32 random URL-safe characters).
        on_ready: ``on_ready(url, port, token)`` once listening.
        stop: set it to stop serving.
        trust: allow training and evaluating runs whose ``model.py`` must be imported.
    """
    from pygls.io_ import run_websocket
    from websockets.asyncio.server import serve as ws_serve

    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()

    def quiet_closed(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        # pygls sends each message in a task of its own; one that finds the tab already closed is not an error
        if not isinstance(context.get("exception"), ConnectionClosed):
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet_closed)
    token = token or secrets.token_urlsafe(24)
    hub = Hub()
    api = TtvisApi(paths, notify=hub.broadcast, trusted=trust)

    async def connection(websocket):
        server = build_server(api, hub, roots_from_client=False)
        hub.attach(asyncio.get_running_loop(), server.protocol)
        try:
            await run_websocket(websocket=websocket, stop_event=threading.Event(), protocol=server.protocol, logger=log,
                                error_handler=server.report_server_error)  # an unreadable frame is answered
        finally:
            hub.detach(server.protocol)

    # compression=None: base64 arrays barely compress, and deflate costs ~30 ms per 50k-sample epoch
    async with ws_serve(connection, host, port, process_request=make_request_handler(token), max_size=2**26,
                        compression=None) as server:
        bound = server.sockets[0].getsockname()[1]
        url = f"http://{host}:{bound}/?token={token}"
        if on_ready:
            on_ready(url, bound, token)
        await (stop.wait() if stop else asyncio.Future())


def model_sources(paths: list[str]) -> list[Path]:
    """The ``model.py`` files of the runs below ``paths`` (what training would import)."""
    from ttvis.dynamics.errors import DynamicsError
    from ttvis.dynamics.layouts import open_layout
    from ttvis.server.discover import find_runs

    out = []
    for run in find_runs([Path(p).expanduser().resolve() for p in paths]):
        try:
            src = open_layout(run).model_source
        except DynamicsError:
            continue
        if src is not None:
            out.append(src)
    return out


def ask_trust(paths: list[str], ask: Callable[[str], str] = input) -> bool:
    """Ask on the terminal whether the served runs' ``model.py`` files may be imported.

    Returns:
        True when there is none, or the answer starts with ``y``.
    """
    sources = model_sources(paths)
    if not sources:
        return True
    shown = "\n".join(f"  {p}" for p in sources[:10]) + (f"\n  ... and {len(sources) - 10} more" if len(sources) > 10 else "")
    answer = ask(f"Training or evaluating these runs imports and runs their model.py (Python code):\n{shown}\n"
                 "Allow it? [y/N] ")
    return answer.strip().lower().startswith("y")


def serve(paths: list[str], port: int = 0, host: str = "127.0.0.1", open_browser: bool = False,
          trust: bool | None = None) -> None:
    """``ttvis serve``: print the URL (with its token), optionally open a browser, serve until Ctrl-C.

    Args:
        trust: allow importing runs' ``model.py``; None: ask on the terminal when stdin is
            one (no, when it is not).
    """
    import os
    import sys

    from ttvis.server.lsp import configure_logging

    configure_logging(os.environ.get("TTVIS_LOG_LEVEL", "WARNING"))
    if trust is None:
        trust = ask_trust(paths) if sys.stdin.isatty() else False
    if not trust:
        print("ttvis serve: runs' model.py will not be imported: training or evaluating a run that has one is refused "
              "(restart with --trust to allow it)", flush=True)

    def ready(url: str, bound: int, token: str) -> None:
        print(f"ttvis serve: {url}", flush=True)
        print(f"  websocket: ws://{host}:{bound}/ws?token={token}   roots: {', '.join(paths)}", flush=True)
        if open_browser:
            webbrowser.open(url)

    try:
        asyncio.run(serve_async(paths, port, host, on_ready=ready, trust=trust))
    except KeyboardInterrupt:
        print("ttvis serve: stopped", flush=True)
