"""Similar samples: the nearest samples in representation space (Euclidean, as the kNN graph)
at one epoch, served from a vector index built once per epoch and reused.

The index lives in Milvus: by default Milvus Lite in ``RUN/visualize/vectors.db`` (a folder), or
a Milvus server or cluster when ``uri`` points at one (``http://host:19530``; the setting
``ttvis.vectorStore.uri``, the CLI's ``--vector-uri``). One collection per epoch
(``ttvis_<run>_e<E>``), fields ``id`` (the sample index) and ``vector`` (float32 ``[D]``), metric
L2. The index type fits the size unless given: FLAT (exact) below 20,000 samples, HNSW above. A
collection is rebuilt when the epoch's representation file changed (its size and mtime are kept
in ``visualize/vectors.json``).

Several processes at once (the editor's server, a second server, the CLI): Milvus Lite lets one
process open ``vectors.db``. The first process that needs it opens it and serves it over gRPC on
a loopback port, publishing the port in ``vectors.db.addr.json``; the others connect to that port
as clients, and take over when the owner exits (:mod:`ttvis.dynamics.milvus_local`). Should the
folder stay locked by a process that serves nothing (an older ttvis, another tool), or be
unwritable, the neighbours are computed exactly with numpy from the epoch's representation (a
one-line note says so): the same answer as FLAT, without an index.

Damage: a collection is checked when a process first uses it (its row count must equal the run's
samples), and every answer must hold ``k`` neighbours. A wrong row count, a short answer, or a
Milvus error that means a missing or corrupt collection (:func:`is_damage`) drops and rebuilds
that epoch's collection (one line says so); if that fails too, the owner deletes the whole
``vectors.db`` and rebuilds; if it still fails (or another process owns the folder), one error
says which folder to delete. "No neighbours" is never an answer. Any other error (a gRPC
transport error, a timeout, a refused token, an invalid parameter) touches nothing: one
RuntimeError names the run's index and the error.

Large selections: Milvus caps a search's ``limit`` (topk, ``TOPK_CAP``) and HNSW's ``ef``
(``EF_CAP``); a query whose ``k`` plus the selection's size would pass them is answered exactly
with numpy (:func:`exact_similar`), as without an index.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ttvis.dynamics import atomic, milvus_local
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import load_json
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.dynamics.lock import LockedError

FLAT_LIMIT = 20_000
TOPK_CAP = 16_384  # Milvus's maximum search limit (quotaAndLimits / proxy.maxTopK)
EF_CAP = 32_768  # knowhere's maximum HNSW ef
DAMAGE_CODES = {100, 700}  # pymilvus ErrorCode COLLECTION_NOT_FOUND, INDEX_NOT_FOUND
DAMAGE_LEGACY_CODES = {4, 11, 101}  # common_pb2.ErrorCode CollectionNotExists, IndexNotExist, CollectionNotLoaded
INDEX_TYPES = ("auto", "FLAT", "HNSW", "IVF_FLAT")
_clients: dict[tuple[str, str], Any] = {}  # (uri, token) -> MilvusClient
_guard = threading.Lock()


def _client(uri: str, token: str = "") -> Any:
    """One ``MilvusClient`` per uri per process (``http://...``: a Milvus server, or the shared
    Milvus Lite server of :mod:`ttvis.dynamics.milvus_local` with its ``token``)."""
    import logging

    from pymilvus import MilvusClient

    for name in ("pymilvus", "milvus_lite", "grpc", "grpc._server"):  # their RPC errors come back to us as exceptions: no tracebacks on stderr
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with _guard:
        if (uri, token) not in _clients:
            _clients[(uri, token)] = MilvusClient(uri, token=token) if token else MilvusClient(uri)
        return _clients[(uri, token)]


def _forget(uri: str) -> None:
    """Drop the cached client of ``uri`` (its server went away or was reset)."""
    with _guard:
        gone = [_clients.pop(key) for key in list(_clients) if key[0] == uri]
    for client in gone:
        with contextlib.suppress(Exception):
            client.close()


def _say(on_message: Any, msg: str) -> None:
    """``on_message(msg)``, or a ``note:`` line on stderr without one (the server's output channel)."""
    if on_message:
        on_message(msg)
    else:
        print(f"note: {msg}", file=sys.stderr, flush=True)


class _Damaged(RuntimeError):
    """The index answered wrongly (a wrong row count, a short answer)."""


class _Unreachable(RuntimeError):
    """The vector store cannot be reached or opened (not damage: no rebuild helps)."""


def is_damage(exc: BaseException, local: bool, folder: str = "") -> bool:
    """Whether ``exc`` (from pymilvus or :class:`_Damaged`) means a missing or corrupt collection.

    Damage: ``_Damaged``; a ``MilvusException`` answered by the server (no ``grpc.RpcError`` or
    timeout behind it, not a client-side ``ParamError``/connection error) whose code is
    ``COLLECTION_NOT_FOUND``/``INDEX_NOT_FOUND`` (legacy ``CollectionNotExists``,
    ``IndexNotExist``, ``CollectionNotLoaded``); from Milvus Lite (``local``) also its
    ``UNEXPECTED_ERROR`` (how its storage errors arrive: a bad manifest, a truncated parquet file)
    and any error naming a file in the index ``folder`` (a garbled ``schema.json``).
    """
    import grpc
    from pymilvus import exceptions as mx

    if isinstance(exc, _Damaged):
        return True
    if not isinstance(exc, mx.MilvusException) or isinstance(exc, (mx.ParamError, mx.ConnectError, mx.MilvusUnavailableException,
                                                                     mx.ConnectionNotExistException, mx.ConnectionConfigException)):
        return False
    cause: BaseException | None = exc
    for _ in range(8):  # a transport error or a timeout wrapped by pymilvus's retry decorator
        cause = cause.__cause__ or cause.__context__
        if cause is None:
            break
        if isinstance(cause, (grpc.RpcError, TimeoutError)):
            return False
    if not isinstance(exc.code, int):  # a grpc.StatusCode: a transport error
        return False
    if exc.code in DAMAGE_CODES or exc.compatible_code in DAMAGE_LEGACY_CODES:
        return True
    return local and (exc.code == 1 or bool(folder) and folder in str(exc.message))


_verified: set[tuple[str, str, str]] = set()  # (address, collection, stamp) checked by this process
_build_locks: dict[str, threading.Lock] = {}


def _build_lock(key: str) -> threading.Lock:
    """One lock per collection in this process: a second request waits for the first's build."""
    with _guard:
        return _build_locks.setdefault(key, threading.Lock())


@contextlib.contextmanager
def _waiting_lock(run_path: Path, timeout: float = 600.0) -> Iterator[None]:
    """The run's ``vectors`` lock (:mod:`ttvis.dynamics.lock`), waited for: another process may be
    building an index of the same run.

    Raises:
        LockedError: still held after ``timeout`` seconds.
    """
    import time

    from ttvis.dynamics.lock import method_lock

    deadline = time.monotonic() + timeout
    while True:
        try:
            with method_lock(run_path, "vectors", command="a vector index build"):
                yield
            return
        except LockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class VectorIndex:
    """The similar-samples index of one run.

    Args:
        run: the opened run.
        uri: a Milvus server (``http://host:19530``); None: Milvus Lite in ``RUN/visualize/vectors.db``,
            shared between processes (see the module docstring).
        index_type: ``auto`` (FLAT below 20,000 samples, else HNSW), ``FLAT``, ``HNSW`` or ``IVF_FLAT``.

    Raises:
        ValueError: an unknown index type.
    """

    def __init__(self, run: TrainingDynamics, uri: str | None = None, index_type: str = "auto"):
        if index_type not in INDEX_TYPES:
            raise ValueError(f"index type: expected one of {', '.join(INDEX_TYPES)}, found {index_type!r}")
        self.run = run
        self.local = uri is None
        self.uri = str(run.path / "visualize" / "vectors.db") if uri is None else uri
        self.address = self.uri  # what the client talks to: a local owner's http://127.0.0.1:PORT
        self.token = ""  # the local owner's token (milvus_local)
        self.on_message: Any = None  # where repair notes go (None: stderr); set by similar()
        self.kind = ("FLAT" if run.n_samples < FLAT_LIMIT else "HNSW") if index_type == "auto" else index_type
        self.prefix = "ttvis_" + hashlib.sha1(str(run.path).encode()).hexdigest()[:10]
        self.sidecar = run.path / "visualize" / "vectors.json"

    def collection(self, epoch: int) -> str:
        """The collection of ``epoch``."""
        return f"{self.prefix}_e{epoch}"

    def _stamp(self, epoch: int) -> list:
        parts = self.run.source.representation_parts(epoch)
        return [[p.stat().st_size, p.stat().st_mtime_ns] for p in parts] + [self.kind]

    def _notes(self) -> dict:
        """``vectors.json``'s stamps; an unreadable file (a cache) counts as empty: everything is rebuilt."""
        try:
            notes = load_json(self.sidecar, "the vector index's stamps") if self.sidecar.exists() else {}
        except DynamicsError:
            return {}
        return notes if isinstance(notes, dict) else {}

    def _check(self, client: Any, name: str, stamp: list) -> None:
        """Raise :class:`_Damaged` unless ``name`` holds one row per sample (once per process)."""
        seen = (self.address, name, repr(stamp))
        if seen in _verified:
            return
        rows = int(client.get_collection_stats(name).get("row_count", -1))
        if rows != self.run.n_samples:
            raise _Damaged(f"collection {name} has {rows} rows, the run {self.run.n_samples} samples")
        _verified.add(seen)

    def ensure(self, epoch: int, on_message: Any = None) -> str:
        """Build ``epoch``'s collection unless an up-to-date one exists; returns its name.

        Raises:
            DynamicsError: an unknown epoch or a bad representation file; RuntimeError: Milvus
            refused (the message says which uri); ``_Damaged``: the collection has the wrong rows.
        """
        name = self.collection(epoch)
        key = f"{self.uri}::{name}"
        stamp = self._stamp(epoch)
        client = self._open()
        if self._notes().get(key) == stamp and client.has_collection(name):
            client.load_collection(name)  # a collection built by another process starts released
            self._check(client, name, stamp)
            return name
        with _build_lock(key), _waiting_lock(self.run.path):
            notes = self._notes()
            if notes.get(key) == stamp and client.has_collection(name):  # built while we waited
                client.load_collection(name)
                self._check(client, name, stamp)
                return name
            if on_message:
                on_message(f"building the {self.kind} vector index of epoch {epoch} ({self.run.n_samples} samples) in {self.uri}")
            x = self.run.representation(epoch)
            if client.has_collection(name):
                client.drop_collection(name)
            from pymilvus import DataType, MilvusClient

            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(x.shape[1]))
            index = client.prepare_index_params()
            extra = {"HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": int(4 * np.sqrt(len(x)))}}.get(self.kind, {})
            index.add_index(field_name="vector", index_type=self.kind, metric_type="L2", params=extra)
            client.create_collection(name, schema=schema, index_params=index)
            for s in range(0, len(x), 5000):
                block = np.asarray(x[s : s + 5000], np.float32)
                client.insert(name, [{"id": s + i, "vector": v} for i, v in enumerate(block.tolist())])
            client.flush(name) if hasattr(client, "flush") else None
            client.load_collection(name)
            self._check(client, name, stamp)
            notes[key] = stamp
            atomic.save_json(self.sidecar, notes)
        return name

    def _open(self) -> Any:
        """The client; for Milvus Lite, of the process that serves ``vectors.db`` (maybe this one).

        Raises:
            RuntimeError: cannot connect; milvus_local.StoreBusy / PermissionError: Milvus Lite
            cannot be used here (the caller computes exact neighbours instead).
        """
        if self.local:
            db = Path(self.uri)
            db.parent.mkdir(parents=True, exist_ok=True)
            for attempt in (0, 1):
                try:
                    self.address, _, self.token = milvus_local.connect(db)
                    break
                except milvus_local.StoreUnusable as exc:
                    if not os.access(db.parent, os.W_OK) or (db.is_dir() and not os.access(db, os.W_OK)):
                        raise PermissionError(str(exc)) from None
                    if attempt or milvus_local.held_by_other(db):  # another process has it open: not ours to delete
                        raise _Unreachable(self._fix_hint(str(exc).removeprefix(f"{db}: "))) from None
                    _say(self.on_message, f"{exc}: deleting it (it is rebuilt from the run)")
                    with contextlib.suppress(FileNotFoundError):  # another process may have deleted it first
                        milvus_local.reset(db)
        try:
            return _client(self.address, self.token if self.local else "")
        except Exception as exc:  # pymilvus raises many kinds
            raise _Unreachable(f"vector store {self.uri}: cannot connect ({type(exc).__name__}: {str(exc)[:200]})") from None

    def _owner_left(self) -> bool:
        """A client of another process's Milvus Lite whose owner no longer answers (forgets it)."""
        if not self.local or milvus_local.owns(self.uri) or self.address == self.uri:
            return False
        port = int(self.address.rsplit(":", 1)[1])
        if milvus_local.answers(port):
            return False
        _forget(self.address)
        return True

    def _repair(self, epoch: int, reason: str, level: int, on_message: Any) -> None:
        """Rebuild after damage: level 0 drops ``epoch``'s collection; level 1 deletes the whole
        Milvus Lite folder when this process owns it (or nobody does).

        Raises:
            RuntimeError: the damage cannot be repaired from here; the message says what to delete.
        """
        name = self.collection(epoch)
        with _build_lock(f"{self.uri}::{name}"), _waiting_lock(self.run.path):
            notes = self._notes()
            gone = [k for k in notes if k.startswith(f"{self.uri}::") and (level or k.endswith(f"::{name}"))]
            _verified.difference_update({v for v in _verified if v[1] == name or level})
            if level == 0:
                _say(on_message, f"the vector index of epoch {epoch} in {self.uri} is damaged ({reason}): rebuilding it")
                with contextlib.suppress(Exception):  # a collection too damaged to drop: the next attempt goes further
                    self._open().drop_collection(name)
            elif self.local and (milvus_local.owns(self.uri) or not self._owner_alive()):
                _say(on_message, f"the vector index {self.uri} is still damaged ({reason}): deleting it and rebuilding")
                _forget(self.address)
                try:
                    milvus_local.reset(self.uri)
                except OSError as exc:
                    raise RuntimeError(self._fix_hint(f"{reason}; deleting it failed: {exc}")) from None
            else:
                raise RuntimeError(self._fix_hint(reason))
            for k in gone:
                notes.pop(k, None)
            atomic.save_json(self.sidecar, notes)

    def _owner_alive(self) -> bool:
        return milvus_local.published(os.path.abspath(self.uri)) is not None

    def _fix_hint(self, reason: str) -> str:
        if not self.local:
            return (f"vector store {self.uri}: the index of this run is damaged ({reason}) and could not be rebuilt; "
                    f"drop the collections {self.prefix}_e* on that server and try again")
        return (f"the vector index {self.uri} is damaged ({reason}) and could not be rebuilt: stop the processes that use it "
                f"(the editor's ttvis server, `ttvis serve`), delete the folder {self.uri}, and try again "
                f"(it is rebuilt from the run's representations)")

    def similar(self, epoch: int, indices: list[int], k: int = 10, on_message: Any = None) -> list[dict[str, float]]:
        """The ``k`` samples nearest to sample ``indices[0]`` (or to the mean of the selection
        ``indices``) at ``epoch``, nearest first, the query samples themselves excluded.

        Returns:
            ``[{"index": int, "distance": float (Euclidean, representation units)}]``, ``k`` of them.

        Raises:
            ValueError: no indices, an index out of range or a bad ``k``; DynamicsError: a bad
            representation file; RuntimeError: a damaged index that could not be rebuilt (the
            message says which folder to delete) or an unreachable Milvus server.
        """
        n = self.run.n_samples
        self.on_message = on_message
        if not indices or any(not 0 <= int(i) < n for i in indices):
            raise ValueError(f"indices: expected sample indices in 0..{n - 1}, found {indices[:5]!r}")
        if not 1 <= k <= n - len(set(indices)):
            raise ValueError(f"k: expected 1..{n - len(set(indices))}, found {k}")
        x = self.run.representation(epoch)
        query = np.asarray(x[np.asarray(indices, np.int64)], np.float64).mean(0).astype(np.float32)
        skip = {int(i) for i in indices}
        # ef 256: on 50,000 x 512 (benchmarks/similar.py) ef 64 gave recall@10 0.91 with some queries at 0,
        # ef 256 gave 0.99 (min 0.8) at the same latency (~24 ms)
        params = {"HNSW": {"ef": max(256, 4 * (k + len(skip)))}, "IVF_FLAT": {"nprobe": 32}}.get(self.kind, {})
        if k + len(skip) > TOPK_CAP or params.get("ef", 0) > EF_CAP:  # beyond what Milvus searches: exact
            return exact_similar(x, query, k, skip)
        level, moves = 0, 0
        while True:
            try:
                name = self.ensure(epoch, on_message)
                hits = self._open().search(name, data=[query.tolist()], limit=k + len(skip), search_params={"params": params},
                                           output_fields=[])[0]
                out = [{"index": int(h["id"]), "distance": float(np.sqrt(max(float(h["distance"]), 0.0)))} for h in hits
                       if int(h["id"]) not in skip]
                if len(out) < k:
                    raise _Damaged(f"a query found {len(out)} of {k} neighbours among {n} samples")
                return out[:k]
            except (DynamicsError, ValueError, _Unreachable, LockedError):
                raise
            except (milvus_local.StoreBusy, PermissionError) as exc:
                _say(on_message, f"{exc}; computing exact neighbours without the index")
                return exact_similar(x, query, k, skip)
            except Exception as exc:  # pymilvus raises its own exceptions; _Damaged; RuntimeError
                if self._owner_left() and moves < 3:  # the process that served vectors.db exited: connect again
                    moves += 1
                    continue
                if not is_damage(exc, self.local, os.path.abspath(self.uri) if self.local else ""):
                    what = f"{type(exc).__name__}: {str(getattr(exc, 'message', None) or exc)[:300]}"
                    raise RuntimeError(f"the vector index of {self.run.path} in {self.uri} failed ({what}); "
                                       f"nothing was changed, try again") from None
                reason = str(exc) if isinstance(exc, _Damaged) else f"{type(exc).__name__}: {str(getattr(exc, 'message', None) or exc)[:200]}"
                if level > 1:
                    raise RuntimeError(self._fix_hint(reason)) from None
                self._repair(epoch, reason, level, on_message)
                level += 1


def brute_force(x: np.ndarray, query: np.ndarray, k: int, skip: set[int]) -> np.ndarray:
    """The exact ``k`` nearest rows of ``x`` [N, D] to ``query`` [D] (L2, float64), ``skip``
    excluded: int64 ``[k]``, nearest first (ties by index)."""
    d = ((np.asarray(x, np.float64) - np.asarray(query, np.float64)) ** 2).sum(1)
    d[list(skip)] = np.inf
    return np.argsort(d, kind="stable")[:k]


def exact_similar(x: np.ndarray, query: np.ndarray, k: int, skip: set[int]) -> list[dict[str, float]]:
    """:func:`brute_force` in :meth:`VectorIndex.similar`'s answer format (the fallback without an index)."""
    idx = brute_force(x, query, k, skip)
    d = np.sqrt(((np.asarray(x[idx], np.float64) - np.asarray(query, np.float64)) ** 2).sum(1))
    return [{"index": int(i), "distance": float(v)} for i, v in zip(idx, d)]


def add_labels(run: TrainingDynamics, epoch: int, hits: list[dict]) -> list[dict]:
    """``hits`` with each sample's ``label`` / ``prediction`` (class ids at ``epoch``, or None
    when the run has no labels / no predictions) and ``label_name`` / ``prediction_name`` (the
    run's class names, or None)."""
    pred = run.predicted_class(epoch)
    names = list(run.classes)

    def name(c: int | None) -> str | None:
        return names[c] if c is not None and 0 <= c < len(names) else None

    out = []
    for h in hits:
        i = int(h["index"])
        lab = int(run.labels[i]) if int(run.labels[i]) >= 0 else None
        p = None if pred is None else int(pred[i])
        out.append({**h, "label": lab, "label_name": name(lab), "prediction": p, "prediction_name": name(p)})
    return out


def similar_samples(path: str | Path, epoch: int, indices: list[int], k: int = 10, uri: str | None = None,
                    index_type: str = "auto", on_message: Any = None, labels: bool = False) -> list[dict]:
    """:meth:`VectorIndex.similar` on the run at ``path`` (see the module docstring); with
    ``labels``, each hit also carries :func:`add_labels`'s fields.

    Raises:
        DynamicsError: a bad run or epoch; ValueError, RuntimeError as :meth:`VectorIndex.similar`.
    """
    run = TrainingDynamics(path)
    if epoch not in run.epochs:
        raise DynamicsError(run.path, f"an epoch with representations ({run.epochs[0]}..{run.epochs[-1]})", f"epoch {epoch}")
    hits = VectorIndex(run, uri, index_type).similar(epoch, indices, k, on_message)
    return add_labels(run, epoch, hits) if labels else hits
