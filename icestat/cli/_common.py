"""What several subcommands share: the arguments of a run of a model over micrographs, the micrographs they name
(files or RELION STAR files), and checking --device and the output before any work."""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

from icestat.backend import array_module, parse_device
from icestat.micrograph_list import list_micrographs
from icestat.polarity import POLARITIES

log = logging.getLogger("icestat.cli")


def device_usable(device: str, with_cnn: bool = True) -> bool:
    """True when `device` can run here; otherwise log one line saying why.

    A GPU must be there for CuPy, take numba's CUDA kernels and, `with_cnn`, PyTorch's.
    """
    try:
        if parse_device(device).is_gpu:
            array_module(device)
            from icestat.features.gpu import check_kernels   # numba.cuda and torch only where a GPU is asked for
            from icestat.refine import torch_device

            check_kernels()
            if with_cnn:
                torch_device(device)
    except (ValueError, RuntimeError) as err:
        log.error("--device %s: %s", device, err)
        return False
    return True


def output_folder(path: str | os.PathLike) -> Path | None:
    """The output folder `path`, made where it is not there yet; None, with one line said, where it cannot be."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        log.error("%s: cannot be the output folder (it is a file)", folder)
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        log.error("%s: cannot be the output folder (%s)", folder, err.strerror or err)
        return None
    if not os.access(folder, os.W_OK | os.X_OK):
        log.error("%s: cannot be the output folder (not writable)", folder)
        return None
    return folder


def output_file_usable(path: str | os.PathLike) -> bool:
    """True where the output file `path` can be written, its folder made where it is not there yet; otherwise
    log one line saying why. Checked before the work, which may take minutes, not after it."""
    if Path(path).is_dir():
        log.error("%s: is a folder; give the file to write", path)
        return False
    return output_folder(Path(path).parent) is not None


#: Help for the micrographs argument of every subcommand that reads micrographs.
MICROGRAPHS_HELP = ("micrograph files (MRC, TIFF, PNG, JPG), folders of them, or RELION STAR files listing them "
                    "(such as CtfFind/job003/micrographs_ctf.star: their pixel size is used)")
#: Help for the --pixel-size-A argument of the same subcommands.
PIXEL_SIZE_HELP = "pixel size of the micrographs in ångström, overriding their headers or STAR files"


def expand_micrographs(args: argparse.Namespace) -> bool:
    """Replace folders and RELION STAR files among ``args.micrographs`` by the micrographs they hold or list.

    Their pixel size becomes ``args.pixel_size_A`` unless that was given.
    Returns True when done; otherwise logs one line saying why (a given pixel
    size that is not a positive number, or :func:`icestat.micrograph_list.list_micrographs`)
    and returns False.
    """
    if args.pixel_size_A is not None and not (math.isfinite(args.pixel_size_A) and args.pixel_size_A > 0):
        log.error("--pixel-size-A must be a positive number of ångström, got %s", args.pixel_size_A)
        return False
    try:
        listed = list_micrographs(args.micrographs)
    except ValueError as err:
        log.error("%s", err)
        return False
    args.micrographs = listed.paths
    if args.pixel_size_A is None:
        args.pixel_size_A = listed.pixel_size_A
    return True


def n_micrographs(n: int) -> str:
    """``"1 micrograph"``, ``"2 micrographs"``."""
    return f"{n} micrograph{'s' * (n != 1)}"


def positive_number(text: str) -> float:
    """An argument that must be a finite number above 0 (an argparse ``type``): refused before any work, not
    micrograph by micrograph.

    Examples
    --------
    >>> positive_number("150")
    150.0
    >>> positive_number("-5")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a positive number, got -5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def whole_number_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number of at least `minimum`: refused before any work.

    Examples
    --------
    >>> whole_number_at_least(1)("3")
    3
    >>> whole_number_at_least(0)("-1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be at least 0, got -1
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def add_diameter_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--diameter-A`` and ``--diameter-px``, the particle diameter (at most one of them)."""
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--diameter-A", type=positive_number, help="particle diameter in ångström")
    size.add_argument("--diameter-px", type=positive_number, help="particle diameter in pixels of the micrographs")


def add_polarity_arg(parser: argparse.ArgumentParser) -> None:
    """Add ``--polarity``: whether the particles are darker than the ice
    (:func:`icestat.bright_field.segment_and_pick`)."""
    parser.add_argument("--polarity", choices=POLARITIES, default="auto", help="the particles are darker than the "
                        "ice (raw micrographs) or brighter (inverted ones, segmented negated); auto: judged on each "
                        "micrograph from the blobs that stand out of its ice and the model (default: %(default)s)")


def add_model_run_args(parser: argparse.ArgumentParser) -> None:
    """Add the micrographs, ``-o/--output`` folder, ``--model``, ``--device``, ``--carbon-per-pixel`` and ``--no-refine``
    of a run of a model over micrographs."""
    add = parser.add_argument
    add("micrographs", nargs="+", metavar="MIC", help=MICROGRAPHS_HELP)
    add("-o", "--output", required=True, help="output folder (made if needed)")
    add("--model", help="model file from `icestat train` (default: the model shipped with icestat)")
    add("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    add("--carbon-per-pixel", action="store_true", help="carbon as the classifier calls each pixel, not as "
        "whole film regions bounded by a hole's rim (for lacey or continuous carbon)")
    add("--no-refine", action="store_true", help="skip the CNN boundary refiner: the patch classifier's "
        "probabilities, interpolated (patch-level boundaries)")
