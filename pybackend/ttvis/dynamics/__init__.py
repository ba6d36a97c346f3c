"""Training-dynamic folders: reading, writing, recording and discovering them.

All file I/O of the package lives here; the numeric core is arrays in, arrays out.
"""

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.dynamics.results import VisResults

__all__ = ["DynamicsError", "TrainingDynamics", "VisResults"]
