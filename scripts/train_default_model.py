"""Train the default model shipped as ``icestat/models/default.icestat``.

The training data are simulated micrographs (ice, particles of several sizes,
carbon film, contamination) and the developers' split of ``../shared/data``:
every EMPIAR-10017 micrograph, the raw micrograph with contamination, and the
10028 and 10059 micrographs whose source split is not "test" (those stay out,
for honest checks). Rerunnable: the same data and seeds give the same model.

The simulations (:func:`icestat.simulate.varied_set`) are varied where real
micrographs vary and the features could otherwise latch onto one look: carbon
film of any thickness from thin to thick, with more or less ice over it, and
every other micrograph low-pass filtered as the denoised micrographs that public
sets (EMPIAR-10017 here) often share are. The classifier, refiner and number
of simulations are ``icestat train``'s defaults too (:mod:`icestat.training`).
The boundary refiner also sees its training crops transposed, blurred and made
noisier at random (``BoundaryRefiner(augment=True)``, its default).

Takes 5-15 minutes on 2 CPU cores (the refiner's three networks about 2.5 minutes each).

Usage:
    python scripts/train_default_model.py [--shared ../shared/data] [-o icestat/models/default.icestat]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

from icestat.classify import IceClassifier
from icestat.examples import examples_from_manifest, examples_from_simulation
from icestat.manifest import read_manifest
from icestat.micrograph import PixelSizeWarning
from icestat.refine import BoundaryRefiner
from icestat.settings import SegmentationSettings
from icestat.simulate import varied_set
from icestat.simulate.varied import TRAINING_SEED
from icestat.training import SHIPPED_CLASSIFIER, SHIPPED_REFINER, SHIPPED_SIMULATED, train_model

REPO = Path(__file__).resolve().parents[1]
SETTINGS = SegmentationSettings()
CLASSIFIER = SHIPPED_CLASSIFIER
REFINER = SHIPPED_REFINER
N_SIMULATED = SHIPPED_SIMULATED
SEED = TRAINING_SEED


def simulated_examples(settings: SegmentationSettings = SETTINGS, n: int = N_SIMULATED, seed: int = SEED):
    """Training examples from the first `n` varied simulated micrographs of `seed`."""
    return examples_from_simulation(varied_set(n, seed), settings)


def shared_training_rows(shared: Path):
    """The manifest rows the default model trains on (the developers' split)."""
    manifest = read_manifest(shared / "manifest.csv")
    held_out = manifest["note"].fillna("").str.contains("source split: test")
    datasets = ["empiar-10017", "empiar-10028", "empiar-10059", "raw-contamination"]
    return manifest[~held_out & manifest["dataset"].isin(datasets)]


def shared_examples(rows, settings: SegmentationSettings = SETTINGS):
    """Training examples of some manifest rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelSizeWarning)
        return examples_from_manifest(rows, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data", help="the shared data folder")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "icestat" / "models" / "default.icestat")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    rows = shared_training_rows(args.shared)
    examples = simulated_examples() + shared_examples(rows)
    logging.info("%d examples ready after %.0f s", len(examples), time.perf_counter() - started)
    model = train_model(
        examples, SETTINGS, IceClassifier(**CLASSIFIER, random_state=SEED), BoundaryRefiner(**REFINER, random_state=SEED),
        metadata={"trained_by": "scripts/train_default_model.py", "simulated_micrographs": N_SIMULATED,
                  "held_out": "10028 and 10059 micrographs of source split 'test'"},
    )
    model.metadata["total_training_seconds"] = round(time.perf_counter() - started, 1)
    model.save(args.output)
    print(f"default model -> {args.output} ({args.output.stat().st_size / 1e6:.1f} MB) "
          f"in {model.metadata['total_training_seconds']:.0f} s")


if __name__ == "__main__":
    main()
