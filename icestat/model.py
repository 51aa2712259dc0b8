"""The saved model: one versioned ``.icestat`` file, and the default model shipped with the package.

The file is a ZIP archive holding only data, never code:

==================  =========================================================
``model.json``      format version, icestat version, segmentation settings,
                    classifier parameters and feature names, metadata
                    (training data, metrics)
``classifier.json`` the XGBoost booster (XGBoost's JSON model format)
``refiner.pt``      the CNNs' weights (a dict of tensors), when it has them
==================  =========================================================

Loading checks the format version and reads the weights with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import torch

from icestat import __version__
from icestat._atomic import atomic_path
from icestat.classify import IceClassifier
from icestat.refine import BoundaryRefiner
from icestat.settings import SegmentationSettings

#: Version of the file layout; loading refuses other versions.
FORMAT_VERSION = 1
DEFAULT_MODEL_FILE = "default.icestat"


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file and the problem."""


@dataclass(eq=False)
class IceModel:
    """Everything segmentation needs: settings, the patch classifier and the boundary refiner.

    Attributes
    ----------
    settings : SegmentationSettings
    classifier : IceClassifier
        Trained.
    refiner : BoundaryRefiner or None
        Trained, or None for patch-level segmentation only.
    metadata : dict
        JSON-ready: training data, metrics, timings.
    """

    settings: SegmentationSettings
    classifier: IceClassifier
    refiner: BoundaryRefiner | None = None
    metadata: dict = field(default_factory=dict)

    def with_carbon_regions(self, carbon_regions: bool) -> IceModel:
        """This model with carbon decided per region (:mod:`icestat.carbon`) or, when False, per pixel."""
        return replace(self, settings=replace(self.settings, carbon_regions=carbon_regions))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to one file (atomically); return its path."""
        path = Path(path)
        description = {
            "format_version": FORMAT_VERSION,
            "icestat_version": __version__,
            "settings": self.settings.to_dict(),
            "classifier": {"params": self.classifier.get_params(), "features": list(self.classifier.feature_names_in_)},
            "refiner": None if self.refiner is None else _refiner_params(self.refiner),
            "metadata": self.metadata,
        }
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("model.json", json.dumps(description, indent=1))
            archive.writestr("classifier.json", self.classifier.to_json())
            if self.refiner is not None:
                buffer = io.BytesIO()
                torch.save(self.refiner.state_dict(), buffer)
                archive.writestr("refiner.pt", buffer.getvalue())
        return path


def load_model(path: str | os.PathLike | None = None, device: str = "cpu") -> IceModel:
    """Load a model file, or the default model when `path` is None.

    Parameters
    ----------
    path : str or PathLike, optional
        An ``.icestat`` file written by :meth:`IceModel.save`.
    device : {"cpu", "cuda", "cuda:N"}
        Where the classifier and the refiner will run.

    Raises
    ------
    ModelError
        If the file is missing, not an icestat model, of another format version, or damaged.
    """
    if path is None:
        path = default_model_path()
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            description = json.loads(archive.read("model.json"))
            _check_version(path, description)
            params = {**description["classifier"]["params"], "device": device}
            classifier = IceClassifier.from_json(archive.read("classifier.json"), description["classifier"]["features"],
                                                 **params)
            refiner = None
            if description.get("refiner") is not None:
                weights = torch.load(io.BytesIO(archive.read("refiner.pt")), weights_only=True, map_location="cpu")
                refiner = BoundaryRefiner(**{**description["refiner"], "device": device}).load_state_dict(weights)
            settings = SegmentationSettings.from_dict(description["settings"])
    except ModelError:
        raise
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except OSError as err:
        raise ModelError(f"{path}: cannot read the model file ({err.strerror or err})") from None
    except zipfile.BadZipFile as err:
        if not zipfile.is_zipfile(path):
            raise ModelError(f"{path}: not an icestat model (not a ZIP archive, or one cut short)") from None
        raise ModelError(f"{path}: damaged model file ({err})") from None
    except KeyError as err:
        raise ModelError(f"{path}: not an icestat model (missing {err})") from None
    except (json.JSONDecodeError, TypeError, ValueError, RuntimeError, zlib.error) as err:
        raise ModelError(f"{path}: damaged model file ({str(err).splitlines()[0][:200]})") from None
    return IceModel(settings, classifier, refiner, description.get("metadata", {}))


def default_model_path() -> Path:
    """Path of the default model shipped in the package (``icestat/models/default.icestat``)."""
    return Path(str(resources.files("icestat.models").joinpath(DEFAULT_MODEL_FILE)))


def _check_version(path: Path, description: dict) -> None:
    version = description.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {version} (written by icestat {description.get('icestat_version', '?')}); "
            f"this icestat reads version {FORMAT_VERSION}: retrain it with `icestat train`"
        )


def _refiner_params(refiner: BoundaryRefiner) -> dict:
    names = ("width", "n_steps", "crop_px", "batch_size", "learning_rate", "augment", "random_state", "n_networks")
    return {name: getattr(refiner, name) for name in names}
