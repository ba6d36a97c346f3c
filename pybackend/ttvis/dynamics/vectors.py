"""Similar samples: the nearest samples in representation space (Euclidean, as the kNN graph)
at one epoch, served from a vector index built once per epoch and reused.

The index lives in Milvus: by default Milvus Lite, embedded, in ``RUN/visualize/vectors.db``
(pymilvus's ``MilvusClient`` with a ``.db`` path), or a Milvus server or cluster when ``uri``
points at one (``http://host:19530``; the setting ``ttvis.vectorStore.uri``, the CLI's
``--vector-uri``). One collection per epoch (``ttvis_<run>_e<E>``), fields ``id`` (the sample
index) and ``vector`` (float32 ``[D]``), metric L2. The index type fits the size unless given:
FLAT (exact) below 20,000 samples, HNSW above. A collection is rebuilt when the epoch's
representation file changed (its size and mtime are kept in ``visualize/vectors.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import load_json
from ttvis.dynamics.folder import TrainingDynamics

FLAT_LIMIT = 20_000
INDEX_TYPES = ("auto", "FLAT", "HNSW", "IVF_FLAT")
_clients: dict[str, Any] = {}
_guard = threading.Lock()


def _client(uri: str) -> Any:
    """One ``MilvusClient`` per uri per process (Milvus Lite serves a ``.db`` path in-process)."""
    import logging

    from pymilvus import MilvusClient

    for name in ("pymilvus", "milvus_lite", "grpc", "grpc._server"):  # their RPC errors come back to us as exceptions: no tracebacks on stderr
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with _guard:
        if uri not in _clients:
            _clients[uri] = MilvusClient(uri)
        return _clients[uri]


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

    from ttvis.dynamics.lock import LockedError, method_lock

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
        uri: a Milvus server (``http://host:19530``); None: Milvus Lite in ``RUN/visualize/vectors.db``.
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
        self.kind = ("FLAT" if run.n_samples < FLAT_LIMIT else "HNSW") if index_type == "auto" else index_type
        self.prefix = "ttvis_" + hashlib.sha1(str(run.path).encode()).hexdigest()[:10]
        self.sidecar = run.path / "visualize" / "vectors.json"

    def collection(self, epoch: int) -> str:
        """The collection of ``epoch``."""
        return f"{self.prefix}_e{epoch}"

    def _stamp(self, epoch: int) -> list:
        parts = self.run.source.representation_parts(epoch)
        return [[p.stat().st_size, p.stat().st_mtime_ns] for p in parts] + [self.kind]

    def ensure(self, epoch: int, on_message: Any = None) -> str:
        """Build ``epoch``'s collection unless an up-to-date one exists; returns its name.

        Raises:
            DynamicsError: an unknown epoch or a bad representation file; RuntimeError: Milvus
            refused (the message says which uri).
        """
        name = self.collection(epoch)
        key = f"{self.uri}::{name}"
        notes = load_json(self.sidecar, "the vector index's stamps") if self.sidecar.exists() else {}
        client = self._open()
        if notes.get(key) == self._stamp(epoch) and client.has_collection(name):
            client.load_collection(name)  # a collection built by another process starts released
            return name
        with _build_lock(key), _waiting_lock(self.run.path):
            notes = load_json(self.sidecar, "the vector index's stamps") if self.sidecar.exists() else {}
            if notes.get(key) == self._stamp(epoch) and client.has_collection(name):  # built while we waited
                client.load_collection(name)
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
            notes[key] = self._stamp(epoch)
            atomic.save_json(self.sidecar, notes)
        return name

    def _open(self) -> Any:
        try:
            if self.local:
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            return _client(self.uri)
        except Exception as exc:  # pymilvus raises many kinds
            raise RuntimeError(f"vector store {self.uri}: cannot connect ({type(exc).__name__}: {str(exc)[:200]})") from None

    def similar(self, epoch: int, indices: list[int], k: int = 10, on_message: Any = None) -> list[dict[str, float]]:
        """The ``k`` samples nearest to sample ``indices[0]`` (or to the mean of the selection
        ``indices``) at ``epoch``, nearest first, the query samples themselves excluded.

        Returns:
            ``[{"index": int, "distance": float (Euclidean, representation units)}]``.

        Raises:
            ValueError: no indices, an index out of range or a bad ``k``; DynamicsError /
            RuntimeError as :meth:`ensure`.
        """
        n = self.run.n_samples
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
        try:
            name = self.ensure(epoch, on_message)
            hits = self._open().search(name, data=[query.tolist()], limit=k + len(skip), search_params={"params": params},
                                       output_fields=[])[0]
        except (DynamicsError, RuntimeError):
            raise
        except Exception as exc:  # pymilvus raises its own exceptions
            raise RuntimeError(f"vector store {self.uri}: {type(exc).__name__}: {str(exc)[:300]}") from None
        out = []
        for h in hits:
            i = int(h["id"])
            if i not in skip:
                out.append({"index": i, "distance": float(np.sqrt(max(float(h["distance"]), 0.0)))})
        return out[:k]


def brute_force(x: np.ndarray, query: np.ndarray, k: int, skip: set[int]) -> np.ndarray:
    """The exact ``k`` nearest rows of ``x`` [N, D] to ``query`` [D] (L2), ``skip`` excluded (for checks)."""
    d = ((x.astype(np.float64) - query.astype(np.float64)) ** 2).sum(1)
    d[list(skip)] = np.inf
    return np.argsort(d, kind="stable")[:k]


def similar_samples(path: str | Path, epoch: int, indices: list[int], k: int = 10, uri: str | None = None,
                    index_type: str = "auto", on_message: Any = None) -> list[dict[str, float]]:
    """:meth:`VectorIndex.similar` on the run at ``path`` (see the module docstring).

    Raises:
        DynamicsError: a bad run or epoch; ValueError, RuntimeError as :meth:`VectorIndex.similar`.
    """
    run = TrainingDynamics(path)
    if epoch not in run.epochs:
        raise DynamicsError(run.path, f"an epoch with representations ({run.epochs[0]}..{run.epochs[-1]})", f"epoch {epoch}")
    return VectorIndex(run, uri, index_type).similar(epoch, indices, k, on_message)
