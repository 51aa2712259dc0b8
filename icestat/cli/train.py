"""Train a segmentation model (patch classifier + boundary refiner) from a labelled manifest.

The manifest lists micrographs and their labels (region masks, particle masks
or particle coordinates; see icestat.manifest). With --validation, the model is
scored on a second manifest when done (carbon, particle and ice-vs-non-ice IoU,
boundary F1 at the working scale). Beside the manifest's micrographs, the model
trains on varied simulated micrographs with carbon film and contamination (12
by default, as the shipped model does; --simulated N for another number, 0 for
none): a model trained on particle labels alone has never seen carbon film or
contamination, and takes the film for ice or particle. The classifier and the
refiner are the shipped model's by default (200 trees; three CNNs of 1200 steps
each, about 5 minutes on 2 CPU cores, the CNNs 4 of them).

Example:
    icestat train labelled.csv -o my.icestat --validation held_out.csv
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from icestat._atomic import is_storage_error
from icestat.classify import IceClassifier
from icestat.cli._common import output_file_usable, whole_number_at_least
from icestat.examples import examples_from_manifest, examples_from_simulation
from icestat.manifest import read_manifest
from icestat.micrograph import MicrographError
from icestat.model import IceModel
from icestat.refine import BoundaryRefiner
from icestat.settings import SegmentationSettings
from icestat.simulate import varied_set
from icestat.training import (SHIPPED_CLASSIFIER, SHIPPED_REFINER, SHIPPED_SIMULATED, evaluate_model,
                              train_model)

log = logging.getLogger(__name__)

#: The dataset named for the micrographs ``--simulated`` adds (in the model's ``training_micrographs``), apart
#: from a manifest of ``icestat simulate``'s files, whose dataset is ``simulated`` and names ``sim_NNNN`` too.
SIMULATED_DATASET = "simulated_by_train"


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat train``."""
    add = parser.add_argument
    add("manifest", help="CSV manifest of labelled micrographs")
    add("-o", "--output", required=True, help="model file to write (e.g. my.icestat)")
    add("--validation", help="a manifest to score the model on when done")
    add("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    add("--datasets", nargs="+", help="only these datasets of the manifest")
    add("--simulated", type=whole_number_at_least(0), default=SHIPPED_SIMULATED, metavar="N",
        help=f"add N varied simulated micrographs with carbon film and contamination, named as dataset "
             f"{SIMULATED_DATASET}; 0 for none (default, as the shipped model: %(default)s)")
    add("--n-estimators", type=whole_number_at_least(1), default=SHIPPED_CLASSIFIER["n_estimators"],
        help="boosting rounds (default: %(default)s)")
    add("--refiner-steps", type=whole_number_at_least(0), default=SHIPPED_REFINER["n_steps"],
        help="CNN training steps; 0 for no refiner (default: %(default)s)")
    add("--refiner-networks", type=whole_number_at_least(1), default=SHIPPED_REFINER["n_networks"], metavar="N",
        help="CNNs trained from N seeds, their probabilities averaged: steadier on specimens unlike the training "
             "ones, N times the refiner's time (default, as the shipped model: %(default)s)")
    add("--no-adapt", action="store_true", help="do not normalise features to each micrograph's own ice")


def main(args: argparse.Namespace) -> int:
    """Train, save and (optionally) validate; 2 when the training data cannot be used."""
    if not output_file_usable(args.output):
        return 2
    settings = SegmentationSettings(adapt=not args.no_adapt)
    started = time.perf_counter()
    try:   # every input read before the training, which takes minutes
        manifest = read_manifest(args.manifest)
        unknown = sorted(set(args.datasets or ()) - set(manifest["dataset"]))
        if unknown:
            raise ValueError(f"{args.manifest}: no dataset {', '.join(unknown)} (it has "
                             f"{', '.join(sorted(set(manifest['dataset']))) or 'none named'})")
        validation_manifest = read_manifest(args.validation) if args.validation else None
        examples = examples_from_manifest(manifest, settings, args.datasets, args.device, source=args.manifest)
        if not examples:
            raise ValueError(f"{args.manifest}: no labelled micrograph to train on")
        if args.validation:
            validation = examples_from_manifest(validation_manifest, settings, device=args.device,
                                                source=args.validation)
            if not validation:
                raise ValueError(f"{args.validation}: no labelled micrograph to validate on")
        if args.simulated:
            examples += examples_from_simulation(varied_set(args.simulated), settings, SIMULATED_DATASET,
                                                 device=args.device)
        if len(examples) < (2 if args.refiner_steps else 1):
            raise ValueError(f"{args.manifest}: too few labelled micrographs to train on ({len(examples)})")
        model = train_model(
            examples, settings, IceClassifier(**{**SHIPPED_CLASSIFIER, "n_estimators": args.n_estimators},
                                              device=args.device),
            BoundaryRefiner(n_steps=args.refiner_steps, device=args.device, n_networks=args.refiner_networks)
            if args.refiner_steps else None,
            n_folds=3 if args.refiner_steps else 0, metadata={"manifest": str(args.manifest)},
        )
    except (MicrographError, OSError, ValueError, RuntimeError) as err:
        log.error("%s", err)
        return 2
    if args.validation:
        model.metadata["validation"] = {"manifest": str(args.validation), **evaluate_model(model, validation)}
    if not _saved(model, Path(args.output)):
        return 1
    print(f"model -> {Path(args.output)}: {len(examples)} micrographs, {model.metadata['training_patches']} patches, "
          f"{time.perf_counter() - started:.0f} s")
    if args.validation:
        print(f"validation on {len(validation)} micrographs:")
        for key, value in model.metadata["validation"].items():
            if key != "manifest":
                print(f"  {key:18} {value:.3f}" if isinstance(value, float) else f"  {key:18} {value}")
    return 0


def _saved(model: IceModel, output: Path) -> bool:
    """Save `model` to `output`; where that storage has no room (full, over quota, read-only), save it in the
    temporary folder instead, so that minutes of training are not lost, and say where. Whether it is in `output`."""
    try:
        model.save(output)
        return True
    except OSError as err:
        if not is_storage_error(err):
            raise
        refused = err.strerror or str(err)
    folder = None
    try:
        folder = Path(tempfile.mkdtemp(prefix="icestat-train-"))
        kept = model.save(folder / output.name)
    except OSError as err:
        if not is_storage_error(err):
            raise
        if folder is not None:
            folder.rmdir()
        log.error("%s: %s, and the temporary folder %s too (%s): the model trained is lost; once there is room, run "
                  "the command again", output, refused, tempfile.gettempdir(), err.strerror or err)
        return False
    log.error("%s: %s; the model trained is kept in %s instead: move it where you want it once there is room",
              output, refused, kept)
    return False
