"""The shipped default model: it loads, describes how it was made, and segments real micrographs it never saw."""

import warnings

import numpy as np
import pytest

from icestat.classes import CARBON, CONTAMINATION, ICE
from icestat.micrograph import PixelSizeWarning
from icestat.model import FORMAT_VERSION, default_model_path, load_model
from icestat.segment import segment


def test_default_model_is_shipped_with_its_recipe():
    model = load_model()
    assert default_model_path().is_file()
    assert model.refiner is not None and model.refiner.n_parameters < 1_000_000
    assert model.metadata["trained_by"] == "scripts/train_default_model.py"
    assert not any("source split: test" in name for name in model.metadata["training_micrographs"])
    assert FORMAT_VERSION == 1


@pytest.mark.shared_data
def test_default_model_finds_particles_on_a_held_out_specimen_micrograph(labelled_micrograph):
    # 311_10028 is in the source's test split, which the default model's recipe leaves out
    item = labelled_micrograph("311_10028.png")
    assert "311_10028" not in " ".join(load_model().metadata["training_micrographs"])
    result = segment(item.micrograph)
    non_ice = result.labels != ICE
    assert non_ice[item.particle_mask].mean() > 0.6       # particle pixels called non-ice
    assert (~non_ice)[~item.particle_mask].mean() > 0.6   # background kept as ice
    assert np.mean(result.labels == CARBON) < 0.05        # no carbon in this micrograph


@pytest.mark.shared_data
def test_default_model_sees_the_contamination_of_the_raw_micrograph(labelled_micrograph):
    # this micrograph is in the training data (the only real contamination there is):
    # a check of function, not of generalisation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelSizeWarning)
        item = labelled_micrograph("Ucsf_stack_1142_DW.mrc")
    result = segment(item.micrograph)
    contamination = item.regions == CONTAMINATION
    assert (result.labels[contamination] != ICE).mean() > 0.8
    assert (result.labels[~contamination] == ICE).mean() > 0.8
