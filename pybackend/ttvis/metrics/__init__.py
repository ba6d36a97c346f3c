"""Faithfulness metrics: how truthfully a 2-D picture shows the high-dimensional training dynamics."""

from ttvis.metrics.faithfulness import (
    continuity,
    neighbour_preserving_rate,
    neighbour_preserving_rate_cross,
    prediction_preserving_rate,
    trustworthiness,
)
from ttvis.metrics.temporal import interslice_knn, stability, temporal_measures, temporal_ranking

__all__ = [
    "continuity",
    "interslice_knn",
    "neighbour_preserving_rate",
    "neighbour_preserving_rate_cross",
    "prediction_preserving_rate",
    "stability",
    "temporal_measures",
    "temporal_ranking",
    "trustworthiness",
]
