"""The UMAP fuzzy simplicial complex (umap-learn's ``fuzzy_simplicial_set``) as an edge list.

DVI (AAAI 2022) adds boundary samples to it: their edges come from a complex over
training + boundary samples, keeping only edges that touch a boundary sample, so
the training samples' own neighbourhoods stay those of the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttvis.projection.knn import knn_graph


@dataclass
class Edges:
    """Directed edges of a symmetric fuzzy complex.

    Attributes:
        head, tail: int64 ``[E]`` node indices.
        weight: float32 ``[E]`` membership strength in (0, 1].
    """

    head: np.ndarray
    tail: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.head.shape[0])

    @staticmethod
    def concat(parts: list["Edges"]) -> "Edges":
        """Join edge lists (node indices must already share one numbering)."""
        return Edges(*(np.concatenate([getattr(p, a) for p in parts]) for a in ("head", "tail", "weight")))


def fuzzy_complex(knn_idx: np.ndarray, knn_dist: np.ndarray, seed: int = 0) -> Edges:
    """UMAP's fuzzy union of local fuzzy simplicial sets from a kNN graph.

    Args:
        knn_idx: int64 ``[N, k]`` (self first); knn_dist: float32 ``[N, k]``.
        seed: passed to umap-learn (unused with a precomputed graph, kept for determinism).

    Returns:
        :class:`Edges` with both directions of every undirected edge, zero weights dropped.
    """
    from umap.umap_ import fuzzy_simplicial_set

    n, k = knn_idx.shape
    graph, _, _ = fuzzy_simplicial_set(
        np.zeros((n, 1), dtype=np.float32), k, np.random.RandomState(seed), "euclidean",
        knn_indices=knn_idx, knn_dists=knn_dist.astype(np.float32),
    )
    coo = graph.tocoo()
    keep = (coo.data > 0) & (coo.row != coo.col)
    return Edges(coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), coo.data[keep].astype(np.float32))


def dvi_complex(train_x: np.ndarray, boundary_x: np.ndarray | None, k: int, seed: int = 0,
                train_knn: tuple[np.ndarray, np.ndarray] | None = None) -> Edges:
    """DVI's complex: training samples' complex plus the edges that join boundary samples to it.

    Args:
        train_x: float32 ``[N, D]`` training representations (nodes 0..N-1).
        boundary_x: float32 ``[B, D]`` boundary samples (nodes N..N+B-1), or None.
        k: neighbours per node.
        train_knn: precomputed ``knn_graph(train_x, k)`` to reuse.

    Returns:
        :class:`Edges` over ``N + B`` nodes.
    """
    idx, dist = train_knn if train_knn is not None else knn_graph(train_x, k, seed)
    parts = [fuzzy_complex(idx, dist, seed)]
    if boundary_x is not None and len(boundary_x):
        n = train_x.shape[0]
        both = np.concatenate([train_x, boundary_x]).astype(np.float32)
        bidx, bdist = knn_graph(both, k, seed)
        e = fuzzy_complex(bidx, bdist, seed)
        touch = (e.head >= n) | (e.tail >= n)
        parts.append(Edges(e.head[touch], e.tail[touch], e.weight[touch]))
    return Edges.concat(parts)
