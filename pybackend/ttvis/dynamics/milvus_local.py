"""One Milvus Lite server per ``vectors.db``, shared by every process on the machine.

Milvus Lite (the pure-Python ``milvus_lite`` 3.x engine) holds an advisory ``flock`` on
``vectors.db/LOCK`` while a process has the data directory open, so a second process cannot
open it (``DataDirLockedError``). pymilvus's own ``.db`` handling (``milvus_lite.server_manager``)
then fails with "Open local milvus failed". Here the first process that needs the index opens it
and serves it over gRPC on a loopback port (``127.0.0.1``, as milvus_lite's own server manager
does), and writes ``vectors.db.addr.json`` (``{"pid", "port", "token"}``, atomically, mode 0600)
beside it. A process
that finds the directory locked reads that file and connects to the owner's port as a client;
when the owner exits, the kernel drops its lock, and the next call of a client opens the
directory itself. Only the port is taken from the file; the host is always ``127.0.0.1``.

The server is built like ``milvus_lite.adapter.grpc.server.start_server_in_thread`` with one
change: it accepts pymilvus's keepalive pings (every 10 s, also without calls). With gRPC's
default server settings those pings earn a GOAWAY "too_many_pings" after ~30 s of idling, which
gRPC logs on stderr on every reconnect.

Access: the port is reachable by every local user, so the owner makes a random token
(:func:`secrets.token_urlsafe`) and the server refuses (gRPC ``UNAUTHENTICATED``) every call whose
``authorization`` metadata is not that token as pymilvus sends it (``MilvusClient(uri, token=T)``
sends ``base64(T)``). The token is only in the address file, readable by its owner alone.

A folder held by a process that serves nothing (:class:`StoreBusy`) is remembered for
``BUSY_MEMORY`` seconds: requests in that time give up at once instead of waiting again.
"""

from __future__ import annotations

import atexit
import base64
import hmac
import os
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

from ttvis.dynamics import atomic

_MAX_MESSAGE = 256 * 1024 * 1024
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    # pymilvus pings every 10 s (grpc.keepalive_time_ms 10000, permit_without_calls): allow it
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5000),
    ("grpc.http2.max_ping_strikes", 0),
]
_owned: dict[str, tuple[Any, Any, int, str]] = {}  # path -> (server, db, port, token)
_busy: dict[str, float] = {}  # path -> when it was last found held by a process that serves nothing
BUSY_MEMORY = 30.0
_guard = threading.RLock()


class StoreBusy(RuntimeError):
    """Another process holds the ``vectors.db`` lock and does not answer on the port it published."""


class StoreUnusable(RuntimeError):
    """The ``vectors.db`` directory cannot be opened (not a directory, no permission, ...)."""


def address_file(db_path: str | os.PathLike) -> Path:
    """Where the owner of ``db_path`` publishes its port: ``<db_path>.addr.json``."""
    p = Path(db_path)
    return p.with_name(p.name + ".addr.json")


def _token_check(token: str) -> Any:
    """A ``grpc.ServerInterceptor`` that aborts every call with ``UNAUTHENTICATED`` unless its
    ``authorization`` metadata is ``base64(token)`` (what pymilvus's ``token=`` sends)."""
    import grpc

    want = base64.b64encode(token.encode()).decode()

    def deny(request: Any, context: Any) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "ttvis vector index: missing or wrong token")

    class TokenCheck(grpc.ServerInterceptor):
        refused = grpc.unary_unary_rpc_method_handler(deny)

        def intercept_service(self, continuation: Any, details: Any) -> Any:
            got = dict(details.invocation_metadata or ()).get("authorization", "")
            if isinstance(got, bytes):
                got = got.decode(errors="replace")
            return continuation(details) if hmac.compare_digest(str(got), want) else self.refused

    return TokenCheck()


def _start(db_path: str) -> tuple[Any, Any, int, str]:
    """Open ``db_path`` (takes its LOCK) and serve it on a free loopback port with a fresh
    random token; (server, db, port, token)."""
    from concurrent import futures

    import grpc
    from milvus_lite import MilvusLite
    from milvus_lite.adapter.grpc.servicer import MilvusServicer
    from pymilvus.grpc_gen import milvus_pb2_grpc

    db = MilvusLite(db_path)
    token = secrets.token_urlsafe(32)
    try:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=SERVER_OPTIONS,
                             interceptors=[_token_check(token)])
        milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
        port = server.add_insecure_port("127.0.0.1:0")
        if not port:
            raise OSError("could not bind a loopback port")
        server.start()
    except BaseException:
        db.close()
        raise
    return server, db, port, token


def _publish(db_path: str, port: int, token: str) -> None:
    """Write the address file atomically, readable by this user only (it holds the token)."""
    import json

    with atomic.atomic_open(address_file(db_path), "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(json.dumps({"pid": os.getpid(), "port": port, "token": token}) + "\n")


def answers(port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``127.0.0.1:port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def published(db_path: str | os.PathLike) -> tuple[int, int, str] | None:
    """(pid, port, token) from ``db_path``'s address file when that process (not this one) is
    alive and the port answers; else None (no file, a bad or unreadable file, a dead owner)."""
    import json

    try:
        note = json.loads(address_file(db_path).read_text())
        pid, port, token = int(note["pid"]), int(note["port"]), str(note["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid() or not 0 < port < 65536 or not _alive(pid) or not answers(port):
        return None
    return pid, port, token


def connect(db_path: str | os.PathLike, wait: float = 8.0) -> tuple[str, bool, str]:
    """The ``http://127.0.0.1:PORT`` uri serving ``db_path``, whether this process owns it, and
    the token its server wants (``MilvusClient(uri, token=token)``).

    Opens and serves ``db_path`` here when no other process holds it, else returns the owner's
    published port (waiting up to ``wait`` seconds for an owner that is starting or exiting; not
    at all when the folder was found held without a server in the last ``BUSY_MEMORY`` seconds).

    Raises:
        StoreBusy: the directory stays locked by a process that publishes no answering port.
        StoreUnusable: the directory cannot be opened (the message names it and the OS error).
    """
    from milvus_lite import DataDirLockedError, MilvusLiteError

    db_path = os.path.abspath(db_path)
    deadline = time.monotonic() + wait
    with _guard:
        if time.monotonic() - _busy.get(db_path, -BUSY_MEMORY) < BUSY_MEMORY:
            deadline = 0.0  # one look, no wait
    while True:
        with _guard:
            if db_path in _owned:
                return f"http://127.0.0.1:{_owned[db_path][2]}", True, _owned[db_path][3]
            try:
                _owned[db_path] = _start(db_path)
            except DataDirLockedError:
                pass
            except (OSError, MilvusLiteError) as exc:
                raise StoreUnusable(f"{db_path}: cannot open the vector index ({type(exc).__name__}: {exc})") from None
            else:
                _busy.pop(db_path, None)
                _publish(db_path, _owned[db_path][2], _owned[db_path][3])
                return f"http://127.0.0.1:{_owned[db_path][2]}", True, _owned[db_path][3]
        found = published(db_path)
        if found:
            _busy.pop(db_path, None)
            return f"http://127.0.0.1:{found[1]}", False, found[2]
        if time.monotonic() > deadline:
            with _guard:
                _busy[db_path] = time.monotonic()
            raise StoreBusy(f"{db_path} is held by another process that does not serve it "
                            f"(no answering port in {address_file(db_path).name})")
        time.sleep(0.2)


def held_by_other(db_path: str | os.PathLike) -> bool:
    """Whether another process (or another open of this one) holds ``db_path``'s ``LOCK``."""
    import fcntl

    lock = Path(db_path) / "LOCK"
    if os.path.abspath(db_path) in _owned or not lock.is_file():
        return os.path.abspath(db_path) in _owned
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def owns(db_path: str | os.PathLike) -> bool:
    """Whether this process has ``db_path`` open (and serves it)."""
    with _guard:
        return os.path.abspath(db_path) in _owned


def release(db_path: str | os.PathLike) -> None:
    """Stop serving ``db_path`` and close it (drops its LOCK); removes the address file if ours."""
    db_path = os.path.abspath(db_path)
    with _guard:
        entry = _owned.pop(db_path, None)
    if entry is None:
        return
    server, db, port, _token = entry
    for step in (lambda: server.stop(grace=1).wait(5), db.close):
        try:
            step()
        except Exception:  # noqa: BLE001 - closing at exit or before a reset: nothing to add
            pass
    try:
        import json

        if json.loads(address_file(db_path).read_text()).get("pid") == os.getpid():
            address_file(db_path).unlink()
    except (OSError, ValueError, AttributeError):
        pass


def reset(db_path: str | os.PathLike) -> None:
    """Delete ``db_path`` (a damaged index; every collection is rebuilt on demand) and open it anew.

    Only the owner (or a process when nobody holds it) may reset: callers check :func:`owns`.

    Raises:
        OSError: the directory could not be removed.
    """
    db_path = os.path.abspath(db_path)
    with _guard:
        release(db_path)
        if os.path.isdir(db_path) and not os.path.islink(db_path):
            shutil.rmtree(db_path)
        elif os.path.lexists(db_path):
            os.unlink(db_path)


@atexit.register
def release_all() -> None:
    """Stop every server of this process (at exit)."""
    for path in list(_owned):
        release(path)
