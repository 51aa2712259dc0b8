"""Segment micrographs into ice, particles, carbon and contamination.

Writes per micrograph, into the output folder:
  <stem>_labels.mrc   int8 class codes (0 ice, 1 particle, 2 carbon, 3 contamination, -1 no data: the
                      frame border motion correction left), the micrograph's shape
  <stem>_ice.mrc      float32 probability of ice per pixel (0 in the frame border)
  <stem>_overlay.png  the micrograph with particles (green), carbon (blue) and contamination (red) drawn over it
and prints the class fractions and whether the particles were taken as dark or
bright. Micrographs that cannot be read are reported on
stderr and skipped; the exit code is then 1. Give the particle diameter
(--diameter-A or --diameter-px) as to `icestat pick`: large particles are then
segmented on a coarser image, and contamination smaller than one particle is
taken for particle, as `icestat pick` does. Inverted micrographs (particles
brighter than the ice) are segmented negated, as `icestat pick` segments them
(--polarity: auto judges each micrograph as `icestat pick` does), so that the
files are those `icestat pick --segmentation` writes. Over many micrographs,
`icestat pick --segmentation` writes the same files with workers or on a Dask
cluster, and a rerun of it skips the micrographs done.

Example:
    icestat segment mics/*.mrc -o segmented/ --model my.icestat
"""

from __future__ import annotations

import argparse
import logging

from icestat._logging import failure_reporter
from icestat.batch import check_stems
from icestat.bright_field import segment_and_pick
from icestat.cli._common import (PIXEL_SIZE_HELP, add_diameter_args, add_model_run_args, add_polarity_arg,
                                device_usable, expand_micrographs, output_folder)
from icestat.diameter import given_diameter_px
from icestat.micrograph import (SEGMENTATION_FILE_ENDINGS, file_error, micrograph_stem,
                                read_micrograph, write_mrc)
from icestat.model import ModelError, load_model
from icestat.overlay import write_overlay

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat segment``."""
    add_model_run_args(parser)
    add = parser.add_argument
    add("--pixel-size-A", type=float, help=PIXEL_SIZE_HELP)
    add_diameter_args(parser)
    add_polarity_arg(parser)


def main(args: argparse.Namespace) -> int:
    """Segment every micrograph; 2 for unusable arguments or model, 1 if any micrograph failed, else 0."""
    if not expand_micrographs(args) or not device_usable(args.device):
        return 2
    try:
        check_stems(args.micrographs)
        model = load_model(args.model, device=args.device).with_carbon_regions(not args.carbon_per_pixel)
    except (ModelError, RuntimeError, ValueError) as err:
        log.error("%s", err)
        return 2
    output = output_folder(args.output)
    if output is None:
        return 2
    n_failed, report_failure = 0, failure_reporter()
    print(f"{'micrograph':30} {'ice %':>6} {'particle %':>10} {'carbon %':>8} {'contam. %':>9} {'polarity':>9}")
    for path in args.micrographs:
        try:
            micrograph = read_micrograph(path, pixel_size_A=args.pixel_size_A)
            diameter_px = given_diameter_px(args.diameter_A, args.diameter_px, micrograph.pixel_size_A, path)
            result, picks = segment_and_pick(micrograph, model, diameter_px, polarity=args.polarity,
                                             device=args.device, refine=not args.no_refine, warn_if_crowded=False)
        except Exception as err:   # a bad micrograph, or a fault met on it alone: file_error says which
            report_failure(str(path), file_error(path, err))
            n_failed += 1
            continue
        files = {kind: output / f"{micrograph_stem(path)}{ending}" for kind, ending in SEGMENTATION_FILE_ENDINGS.items()}
        write_mrc(files["labels"], result.labels, micrograph.pixel_size_A)
        write_mrc(files["ice"], result.ice_probability, micrograph.pixel_size_A)
        write_overlay(files["overlay"], micrograph.data, result.labels)
        fractions = result.class_fractions()
        polarity = picks.polarity or "dark"   # '': no particle to judge at, read as given
        print(f"{micrograph.name:30} {100 * fractions['ice']:6.1f} {100 * fractions['particle']:10.1f} "
              f"{100 * fractions['carbon']:8.1f} {100 * fractions['contamination']:9.1f} {polarity:>9}")
    print(f"{len(args.micrographs) - n_failed} of {len(args.micrographs)} micrographs segmented into {output}/")
    return 1 if n_failed else 0
