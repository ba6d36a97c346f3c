"""JSON-RPC 2.0 front end built on pygls (2.x): the ``ttvis/*`` methods of :mod:`ttvis.server.api`.

The same :func:`build_server` serves stdio with LSP base-protocol framing (``ttvis
server``, started by the VS Code extension through vscode-languageclient) and each
websocket connection (``ttvis serve``). Requests run in worker threads so one slow
request never blocks another client; notifications from training threads are
scheduled onto each connection's event loop. Training reports through standard
``$/progress`` work-done progress (the client's ``workDoneToken``, or a server-created
token via ``window/workDoneProgress/create``) and is cancellable with
``window/workDoneProgress/cancel`` or ``ttvis/cancel``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from concurrent.futures import Future
from typing import Any, Callable

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from ttvis import __version__
from ttvis.server.api import ApiError, TtvisApi

log = logging.getLogger("ttvis.server")

REQUESTS = ["discover", "describe", "epoch", "sample", "neighbors", "metrics", "evaluate", "methods", "cancel", "samples",
            "events", "search", "similar"]


def plain(obj: Any) -> Any:
    """pygls hands custom params over as namedtuples; turn them back into dicts/lists."""
    if hasattr(obj, "_asdict"):
        return {k: plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return obj


class TtvisProtocol(LanguageServerProtocol):
    """pygls's protocol, answering requests that leave ``params`` out.

    JSON-RPC allows a request without ``params`` (``vscode-jsonrpc`` omits undefined
    params), but pygls's generic request type requires the field, so such a request
    failed to deserialize and got no response at all: the client hung. Here an absent
    ``params`` of a method pygls has no type for becomes ``null`` (our handlers read it as
    ``{}``).
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        """Deserialize one incoming message (pygls calls it for every JSON object, innermost first).

        Raises:
            TooDeep: the message nests deeper than :data:`MAX_DEPTH` (answered -32600 by
                :meth:`TtvisServer.report_server_error`, with the request's id).
        """
        if "jsonrpc" in data and _deeper_than(data, MAX_DEPTH):
            raise TooDeep(data.get("id") if isinstance(data.get("id"), (int, str)) and not isinstance(data.get("id"), bool) else None)
        if "jsonrpc" in data and "method" in data and "params" not in data and self.get_message_type(data["method"]) is None:
            data = {**data, "params": None}
        return super().structure_message(data)


MAX_DEPTH = 64  # JSON nesting a message may have (ttvis's own params nest 3 deep)


class TooDeep(Exception):
    """An incoming JSON-RPC message nests deeper than :data:`MAX_DEPTH`; ``msg_id``: its id, if any."""

    def __init__(self, msg_id: int | str | None):
        super().__init__(f"a JSON-RPC message nested deeper than {MAX_DEPTH} levels")
        self.msg_id = msg_id


def _deeper_than(obj: Any, limit: int) -> bool:
    """Whether the JSON value ``obj`` (dicts and lists) nests deeper than ``limit``, without recursion."""
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            return True
        if isinstance(o, dict):
            stack += [(v, d + 1) for v in o.values() if isinstance(v, (dict, list))]
        elif isinstance(o, list):
            stack += [(v, d + 1) for v in o if isinstance(v, (dict, list))]
    return False


class TtvisServer(LanguageServer):
    """pygls's LanguageServer, answering a message it cannot read.

    pygls logs a traceback for a body that is not JSON (or nests past the parser's recursion
    limit, about 1,000 levels) and answers nothing: the client waits for ever. Here such a
    message gets the JSON-RPC answer, ``-32700`` parse error or ``-32600`` invalid request,
    with id null (the request's id where it could be read), a one-line log entry and no
    traceback; the connection goes on serving the next message.
    """

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls's error hook (a message the read loop could not handle, and other out-of-band errors)."""
        if source is not JsonRpcException:
            return super().report_server_error(error, source)
        if isinstance(error, (ValueError, RecursionError)) and not isinstance(error, JsonRpcException):
            code, text, msg_id = -32700, f"Parse error: not a JSON message ({type(error).__name__}: {error})", None
        elif isinstance(error, TooDeep):
            code, text, msg_id = -32600, f"Invalid Request: {error}", error.msg_id
        else:
            code, text, msg_id = -32600, f"Invalid Request: not a JSON-RPC 2.0 message ({type(error).__name__}: {error})", None
        log.info("unreadable message answered (%d): %s", code, _short(text, 300))
        try:
            self.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": _short(text, 300)}})
        except Exception:  # the client is gone
            log.debug("error answer dropped", exc_info=True)


class Hub:
    """The connected clients: (event loop, protocol) pairs that notifications fan out to."""

    def __init__(self) -> None:
        self._peers: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}
        self._lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop, protocol: Any) -> None:
        """Register a connection (idempotent)."""
        with self._lock:
            self._peers[id(protocol)] = (loop, protocol)

    def detach(self, protocol: Any) -> None:
        """Forget a closed connection."""
        with self._lock:
            self._peers.pop(id(protocol), None)

    def broadcast(self, method: str, params: dict) -> None:
        """Send a notification to every client, from any thread."""
        with self._lock:
            peers = list(self._peers.values())
        for loop, protocol in peers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_safe_notify, protocol, method, params)


def _safe_notify(protocol: Any, method: str, params: dict) -> None:
    try:
        if method == lsp.WINDOW_SHOW_MESSAGE:  # an LSP method: pygls wants its typed params
            params = lsp.ShowMessageParams(type=lsp.MessageType(params.get("type", 3)), message=str(params.get("message", "")))
        protocol.notify(method, params)
    except Exception:  # a client gone mid-notification must not stop the others
        log.debug("notification %s dropped", method, exc_info=True)


class _LspProgress:
    """A :class:`~ttvis.server.api.ProgressSink` over pygls's work-done progress, thread-safe."""

    def __init__(self, ls: LanguageServer, loop: asyncio.AbstractEventLoop, token: str):
        self.ls, self.loop, self.token = ls, loop, token

    def _post(self, fn: Callable, value: Any) -> None:
        self.loop.call_soon_threadsafe(fn, self.token, value)

    def begin(self, title: str, message: str) -> None:
        self._post(self.ls.work_done_progress.begin,
                   lsp.WorkDoneProgressBegin(title=title, message=message, percentage=0, cancellable=True))

    def report(self, percentage: int, message: str) -> None:
        self._post(self.ls.work_done_progress.report, lsp.WorkDoneProgressReport(message=message, percentage=percentage))

    def end(self, message: str) -> None:
        self._post(self.ls.work_done_progress.end, lsp.WorkDoneProgressEnd(message=message))


def build_server(api: TtvisApi, hub: Hub, roots_from_client: bool = True, editor: bool = False) -> LanguageServer:
    """A pygls LanguageServer exposing ``ttvis/*`` (see :mod:`ttvis.server.api`).

    Args:
        api: the shared API (jobs and caches shared by all connections).
        hub: where notifications fan out.
        roots_from_client: take the allowed roots from the client's workspace folders.
        editor: the one client is the editor over stdio: whether the workspace is trusted
            comes from its ``initializationOptions.trusted`` and later ``ttvis/setTrust``
            notifications; on ``shutdown`` the running jobs are cancelled and joined, and on
            ``exit`` the process ends at once (its life is the client's session).
    """
    ls = TtvisServer("ttvis", __version__, protocol_cls=TtvisProtocol)

    async def call(fn: Callable[[dict], dict], params: Any) -> dict:
        hub.attach(asyncio.get_running_loop(), ls.protocol)
        p = plain(params) if params is not None else {}
        if not isinstance(p, dict):
            raise JsonRpcException(message="params: expected a JSON object", code=-32602)
        try:
            return await asyncio.get_running_loop().run_in_executor(None, fn, p)
        except ApiError as exc:  # a user error: one line at INFO, never a traceback
            log.info("%s refused (%d): %s", getattr(fn, "__name__", "request"), exc.code, exc.message)
            raise JsonRpcException(message=exc.message, code=exc.code) from None
        except JsonRpcException:
            raise
        except Exception as exc:  # a bad request never kills the server
            log.exception("ttvis request failed")
            raise JsonRpcException(message=_short(f"internal error: {type(exc).__name__}: {exc}"), code=-32603) from None

    for name in REQUESTS:
        fn = getattr(api, name)

        async def handler(params: Any, fn=fn) -> dict:
            return await call(fn, params)

        ls.feature(f"ttvis/{name}")(handler)

    def _job_feature(name: str, start: Callable[[dict, Any], dict]) -> None:
        """A request that starts a job with work-done progress: the client's ``workDoneToken``, or one
        created with ``window/workDoneProgress/create``; cancelling that progress cancels the job."""

        @ls.feature(name)
        async def handler(params: Any) -> dict:
            loop = asyncio.get_running_loop()
            hub.attach(loop, ls.protocol)
            p = plain(params) if params is not None else {}
            token = p.pop("workDoneToken", None) if isinstance(p, dict) else None
            if token is None:
                token = f"ttvis-job-{uuid.uuid4().hex[:8]}"
                try:
                    await asyncio.wait_for(ls.work_done_progress.create_async(token), timeout=5)
                except Exception:  # a client without server-initiated progress still gets notifications
                    log.info("client did not accept window/workDoneProgress/create; continuing")
            fut = ls.work_done_progress.tokens.setdefault(token, Future())
            result = await call(lambda q: start(q, _LspProgress(ls, loop, token)), p)
            job = result["job"]
            fut.add_done_callback(lambda f: api.cancel({"job": job}) if f.cancelled() else None)
            return {**result, "workDoneToken": token}

    _job_feature("ttvis/train", api.train)
    _job_feature("ttvis/watch", api.watch)

    def _roots_from_workspace() -> None:
        folders = [f.uri for f in (ls.workspace.folders or {}).values()] if ls.workspace else []
        paths = [_uri_to_path(u) for u in folders]
        if not paths and ls.workspace and ls.workspace.root_path:
            paths = [ls.workspace.root_path]
        if paths:
            api.set_roots(paths)
            log.info("workspace roots: %s", paths)

    if editor:
        @ls.feature(lsp.INITIALIZE)
        def initialize(params: lsp.InitializeParams) -> None:
            opts = params.initialization_options
            opts = plain(opts) if opts is not None else {}
            api.set_trust(bool(opts.get("trusted", api.trusted)) if isinstance(opts, dict) else api.trusted)
            if isinstance(opts, dict) and isinstance(opts.get("vectorUri"), str):
                api.vector_uri = opts["vectorUri"] or None
            if isinstance(opts, dict) and isinstance(opts.get("ray"), (bool, str)):  # the user's setting, for resumed jobs
                api.ray = (True if opts["ray"] in (True, "local") else opts["ray"]) or None
            level = opts.get("logLevel") if isinstance(opts, dict) else None
            if isinstance(level, str) and level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"):
                _set_level(level.upper())
            log.info("workspace %s", "trusted: model.py may be imported" if api.trusted else
                     "not trusted: requests that would import a run's model.py are refused")

        @ls.feature("ttvis/setTrust")
        def set_trust(params: Any) -> None:
            p = plain(params) if params is not None else {}
            api.set_trust(bool(p.get("trusted")) if isinstance(p, dict) else False)
            log.info("workspace trust changed: %s", api.trusted)
            if api.trusted:  # the jobs a stopped server left, held back while the workspace was not trusted
                asyncio.get_event_loop().run_in_executor(None, api.resume_jobs)

    if roots_from_client:
        @ls.feature(lsp.INITIALIZED)
        def initialized(params: lsp.InitializedParams) -> None:
            hub.attach(asyncio.get_event_loop(), ls.protocol)
            _roots_from_workspace()
            if editor:  # a server restarted by the editor picks up the jobs its predecessor left unfinished
                asyncio.get_event_loop().run_in_executor(None, api.resume_jobs)

        @ls.feature(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
        def folders_changed(params: lsp.DidChangeWorkspaceFoldersParams) -> None:
            _roots_from_workspace()

    if editor:
        @ls.feature(lsp.SHUTDOWN)
        def shutdown(params: Any) -> None:
            stopped = api.stop_jobs(timeout=1.5)
            if stopped:
                log.info("shutdown: stopped %d training job(s); finished epochs are kept", stopped)

        @ls.feature(lsp.EXIT)
        def exit_(params: Any) -> None:
            # a job thread still inside native code (torch, numba) must not meet the
            # interpreter's teardown (that aborts the process): leave at once; every
            # finished epoch is already on disk, written atomically
            api.stop_jobs(timeout=0.5)
            try:  # os._exit skips atexit: stop serving vectors.db and drop its address file
                from ttvis.dynamics import milvus_local

                milvus_local.release_all()
            except Exception:  # noqa: BLE001 - leaving anyway; the kernel drops the folder's lock
                pass
            logging.shutdown()
            os._exit(0 if ls.protocol._shutdown else 1)

    return ls


def _short(text: str, limit: int = 2000) -> str:
    """``text`` cut to ``limit`` characters (a request's payload never floods a message or the log)."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


class _ShortRecords(logging.Filter):
    """Cuts every log record's message (and its exception text) to a few thousand characters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _short(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _short(logging.Formatter().formatException(record.exc_info), 8000)
            record.exc_info = None
        return True


class _HandledErrors(logging.Filter):
    """Drops pygls's "Exception occurred for message" records for the JSON-RPC errors our handlers
    raise on purpose: a user error is already logged in one line at INFO, an internal one with its
    traceback by ttvis itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        from websockets.exceptions import ConnectionClosed

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (JsonRpcException, ConnectionClosed)):  # a browser tab closing is not an error
            return False
        # an unreadable message is answered (TtvisServer.report_server_error) and logged there in one line
        return not (record.getMessage() == "Unable to handle message" and isinstance(exc, (TooDeep, ValueError, RecursionError, AttributeError)))


def _set_level(level: str) -> None:
    logging.getLogger("ttvis").setLevel(level)
    logging.getLogger("pygls").setLevel("DEBUG" if level == "DEBUG" else "WARNING")


def configure_logging(level: str = "INFO") -> None:
    """The servers' log on stderr: ttvis's lines at ``level`` (DEBUG, INFO, WARNING, ERROR; default
    INFO), pygls's per-message log only at DEBUG, every record cut to a few thousand characters,
    and no second traceback for the errors our handlers answer on purpose."""
    level = level.upper() if level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO"
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for h in logging.getLogger().handlers:
        h.addFilter(_ShortRecords())
    for name in ("pygls.protocol.json_rpc", "pygls.io_", "pygls.server", "ttvis.serve"):
        logging.getLogger(name).addFilter(_HandledErrors())
    _set_level(level)


def _uri_to_path(uri: str) -> str:
    from pygls.uris import to_fs_path

    return to_fs_path(uri) or uri


def run_stdio(roots: list[str] | None = None, trust: bool = False) -> None:
    """Serve ``ttvis/*`` on stdin/stdout with LSP framing until the client exits.

    Logging goes to stderr: ``TTVIS_LOG_LEVEL`` (default INFO) for ttvis's own lines;
    pygls's per-message log (with whole payloads) shows only at DEBUG.

    Args:
        roots: folders the server may read; None: the client's workspace folders
            (the current folder until the client says).
        trust: allow importing runs' ``model.py`` from the start (the client's
            ``initializationOptions.trusted`` decides otherwise).
    """
    configure_logging(os.environ.get("TTVIS_LOG_LEVEL", "INFO"))
    hub = Hub()
    api = TtvisApi(roots, notify=hub.broadcast, trusted=trust)
    server = build_server(api, hub, roots_from_client=not roots, editor=True)
    log.info("ttvis %s JSON-RPC server on stdio; roots %s", __version__, [str(r) for r in api.roots])
    server.start_io()
