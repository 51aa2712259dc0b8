"""On a CUDA GPU (CuPy binning and features, PyTorch refiner) a micrograph is segmented and picked as on the CPU.

Skipped without one: CI has no GPU; benchmarks/gpu_check.sh runs these on a lent GPU machine.
"""

import warnings

import numpy as np
import pytest

from gpu_available import why_no_gpu
from icestat.bright_field import segment_and_pick
from icestat.cli._common import device_usable
from icestat.classes import ICE
from icestat.metrics import score_picks
from icestat.micrograph import Micrograph
from icestat.model import load_model
from icestat.simulate import SimulationParams, simulate_micrograph


pytestmark = pytest.mark.skipif(bool(why_no_gpu()), reason=why_no_gpu() or "a GPU is here")


@pytest.fixture(scope="module")
def micrograph():
    params = SimulationParams(shape_px=(1536, 1536), pixel_size_A=1.77, n_particles=60, particle_diameter_A=150.0,
                              carbon_fraction=0.2, n_contamination=1)
    return Micrograph(simulate_micrograph(params, seed=5).image, params.pixel_size_A, "gpu_check")


def test_the_cli_finds_the_gpu_usable():
    assert device_usable("cuda")   # CuPy, numba's kernels and PyTorch all run there


def test_gpu_prepares_the_working_image_as_the_cpu_does(micrograph):
    data = micrograph.data.copy()
    data[100, 200] = 1e5   # a hot pixel, replaced on either device
    data = np.pad(data[:, 24:], ((0, 0), (24, 0)), mode="edge")   # a frame border on the left
    framed = Micrograph(data, micrograph.pixel_size_A, "framed")
    settings = load_model().settings
    on_cpu, on_gpu = (settings.prepare(framed, device=device) for device in ("cpu", "cuda"))
    assert isinstance(on_gpu.data, np.ndarray)   # back on the host for the CPU's stages
    assert on_gpu.frame_border == on_cpu.frame_border and on_cpu.frame_border.left_px >= 24
    assert on_gpu.scale == on_cpu.scale
    np.testing.assert_allclose(on_gpu.data, on_cpu.data, atol=1e-4)   # cuFFT's float32 DCTs against pocketfft's


def test_gpu_segments_and_picks_as_the_cpu_does(micrograph):
    diameter_px = 150.0 / 1.77
    on_cpu, cpu_picks = segment_and_pick(micrograph, load_model(), diameter_px, device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        on_gpu, gpu_picks = segment_and_pick(micrograph, load_model(device="cuda"), diameter_px, device="cuda")
    assert not [w for w in caught if "under-utilization" in str(w.message)]   # not one per launch
    # float32 features on either device, and the CNN on cuDNN (TF32 convolutions): near, not bit-equal
    assert np.abs(on_gpu.working_probabilities - on_cpu.working_probabilities).mean() < 0.01
    assert ((on_gpu.labels == ICE) == (on_cpu.labels == ICE)).mean() > 0.98
    assert len(cpu_picks.table) > 20
    agreement = score_picks(gpu_picks.table, cpu_picks.table, radius_px=diameter_px / 5)
    assert agreement["f1"] > 0.95, agreement
