"""Compute per-patch features of micrographs into one table (Parquet or CSV).

One row per patch: micrograph, patch_row, patch_col, y_px and x_px (the patch
centre in original micrograph pixels), then one column per feature (see
icestat.features.describe_features). Micrographs that cannot be read are
reported on stderr and skipped; the exit code is then 1.

Example:
    icestat features mics/*.mrc -o features.parquet --working-pixel-size-A 4 --patch-px 64 --stride-px 32
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import logging
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from icestat._atomic import atomic_path
from icestat._logging import failure_reporter
from icestat.cli._common import (MICROGRAPHS_HELP, PIXEL_SIZE_HELP, device_usable, expand_micrographs,
                                output_file_usable, positive_number, whole_number_at_least)
from icestat.features import compute_features
from icestat.features.grid import MIN_PATCH_PX
from icestat.micrograph import file_error, read_micrograph
from icestat.prepare import prepare

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat features``."""
    add = parser.add_argument
    add("micrographs", nargs="+", metavar="MIC", help=MICROGRAPHS_HELP)
    add("-o", "--output", required=True, help="output table: .parquet or .csv")
    add("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    add("--patch-px", type=whole_number_at_least(MIN_PATCH_PX), default=64,
        help="patch side in working pixels (default: %(default)s)")
    add("--stride-px", type=whole_number_at_least(1), default=32,
        help="patch step in working pixels (default: %(default)s)")
    binning = parser.add_mutually_exclusive_group()
    binning.add_argument("--working-pixel-size-A", type=positive_number,
                         help="bin to this pixel size first (enlarge, at most twice, if coarser)")
    binning.add_argument("--bin", type=positive_number,
                         help="bin by this factor first (for unknown pixel sizes; below 1 enlarges, at most twice)")
    add("--pixel-size-A", type=float, help=PIXEL_SIZE_HELP)
    add("--features", nargs="+", metavar="NAME", help="groups or feature names (default: all)")


def main(args: argparse.Namespace) -> int:
    """Write the feature table; return 1 if any micrograph failed, else 0."""
    output = Path(args.output)
    if output.suffix.lower() not in (".parquet", ".csv"):
        log.error("%s: the output must end in .parquet or .csv", output)
        return 2
    if output.suffix.lower() == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        log.error("%s: writing Parquet needs pyarrow (pip install \"icestat[parquet]\"); or write a .csv", output)
        return 2
    if not output_file_usable(output) or not expand_micrographs(args) or not device_usable(args.device, with_cnn=False):
        return 2
    failed = []
    tables = _feature_tables(args, failed)
    first = next(tables, None)
    if first is not None:
        n_patches, n_micrographs = _write_table(itertools.chain([first], tables), output)
        print(f"{n_patches} patches x {first.shape[1] - 5} features from {n_micrographs} micrographs -> {output}")
    return 1 if failed else 0


def _feature_tables(args: argparse.Namespace, failed: list[str]) -> Iterator[pd.DataFrame]:
    """The feature table of each micrograph of `args` in turn; those that fail are said and added to `failed`."""
    report_failure = failure_reporter()
    for path in args.micrographs:
        try:
            micrograph = read_micrograph(path, pixel_size_A=args.pixel_size_A)
            working = prepare(micrograph, args.working_pixel_size_A, args.bin, args.device)
            result = compute_features(working, args.patch_px, args.stride_px, args.features, args.device)
        except Exception as err:   # a bad micrograph, or a fault met on it alone: file_error says which
            report_failure(str(path), file_error(path, err))
            failed.append(path)
            continue
        table = result.to_frame()
        table["y_px"], table["x_px"] = working.to_original_px(table["y_px"], table["x_px"])
        table.insert(0, "micrograph", micrograph.name)
        log.info("%s: %d patches", path, len(table))
        yield table


def _write_table(tables: Iterable[pd.DataFrame], output: Path) -> tuple[int, int]:
    """Write `tables` one after another as one table (atomically), holding one at a time in memory: a run over
    thousands of micrographs needs no more than one. Returns the rows and tables written."""
    parquet = output.suffix.lower() == ".parquet"
    if parquet:
        import pyarrow
        import pyarrow.parquet
    n_rows = n_tables = 0
    with atomic_path(output) as tmp:
        writer = None
        for table in tables:
            if parquet:
                part = pyarrow.Table.from_pandas(table, preserve_index=False)
                writer = writer or pyarrow.parquet.ParquetWriter(tmp, part.schema)
                writer.write_table(part)
            else:
                table.to_csv(tmp, mode="a", header=n_tables == 0, index=False)
            n_rows, n_tables = n_rows + len(table), n_tables + 1
        if writer is not None:
            writer.close()
    return n_rows, n_tables
