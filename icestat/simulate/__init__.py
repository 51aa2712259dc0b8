"""Synthetic micrographs with ground truth: ice, particles, carbon, contamination, CTF and shot noise.

A physically grounded simulator for demos, tests that know the truth, and
training data (:func:`varied_set`: the varied micrographs models train on).
See :func:`simulate_micrograph` and :class:`SimulationParams`.
"""

from icestat.simulate.core import SimulatedMicrograph, simulate_micrograph, simulate_set
from icestat.simulate.output import write_simulation
from icestat.simulate.params import SimulationParams
from icestat.simulate.varied import varied_set

__all__ = ["SimulatedMicrograph", "SimulationParams", "simulate_micrograph", "simulate_set", "varied_set",
           "write_simulation"]
