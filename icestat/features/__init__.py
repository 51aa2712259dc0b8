"""Per-patch texture and power-spectrum features that tell amorphous ice from everything else.

>>> from icestat.features import compute_features, describe_features
>>> len(describe_features()) > 100
True

See :func:`compute_features` and :func:`describe_features`.
"""

from icestat.features.compute import PatchFeatures, compute_features
from icestat.features.grid import PatchGrid
from icestat.features.registry import FEATURES, GROUPS, describe_features, select_features

__all__ = ["FEATURES", "GROUPS", "PatchFeatures", "PatchGrid", "compute_features", "describe_features", "select_features"]
