"""Time-Travelling Visualizer: record a classifier's training run, project every
epoch to 2-D (DVI, ...), paint its decision territories and measure how faithful
the picture is.

The pipeline (see DESIGN.md): ``dynamics`` (record/read training-dynamic folders)
-> ``projection`` (visualization methods) -> ``render`` (territories, frames) and
``metrics`` (faithfulness) -> ``server`` (JSON-RPC for the editor and browser).
"""

__version__ = "0.1.0"

from ttvis.dynamics.errors import DynamicsError  # noqa: E402
from ttvis.dynamics.record import Recorder, SummaryWriter  # noqa: E402

__all__ = ["Recorder", "SummaryWriter", "DynamicsError", "__version__"]
