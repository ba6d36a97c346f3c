"""Faithfulness metrics: how truthfully a 2-D picture shows the high-dimensional training dynamics."""

from ttvis.metrics.faithfulness import (
    continuity,
    neighbour_preserving_rate,
    neighbour_preserving_rate_cross,
    prediction_preserving_rate,
    temporal_ranking,
    trustworthiness,
)

__all__ = [
    "continuity",
    "neighbour_preserving_rate",
    "neighbour_preserving_rate_cross",
    "prediction_preserving_rate",
    "temporal_ranking",
    "trustworthiness",
]
