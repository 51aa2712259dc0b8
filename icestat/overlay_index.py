"""One web page of a run's overlays, to look thousands of picked micrographs over in a browser.

``icestat pick --overlays`` (or ``--segmentation``) writes ``overlays.html`` beside ``summary.csv``: every
micrograph's overlay (:mod:`icestat.overlay`) in the run's order, each under a line of its summary row (picks,
class fractions, diameter, polarity), linked to the full picture; those that failed are listed with their error.
The pictures load as they scroll into view, so the page opens at once however long the run.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from icestat._atomic import atomic_path
from icestat.micrograph import SEGMENTATION_FILE_ENDINGS

#: The page's file name in the run's output folder.
INDEX_FILE = "overlays.html"
#: Width of each overlay on the page, in CSS pixels.
CARD_WIDTH_PX = 360
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax({width}px, 1fr)); gap: 1em; }}
figure {{ margin: 0; }} img {{ width: 100%; height: auto; }} figcaption {{ font-size: 0.85em; }}
.failed {{ color: #b00; }}
</style></head>
<body><h1>{title}</h1><p>{legend}</p>
<main>
{cards}
</main></body></html>
"""
_LEGEND = ("Picks circled in yellow; particles tinted green, carbon blue, contamination red. "
           "Each micrograph's figures are its row of summary.csv.")


def write_overlay_index(summary: pd.DataFrame, output: str | os.PathLike) -> Path:
    """Write ``overlays.html`` for the micrographs of `summary` (atomically) and return its path.

    Parameters
    ----------
    summary : DataFrame
        The run's summary (:data:`icestat.batch.SUMMARY_COLUMNS`), in the run's order: a row with an ``error``
        failed.
    output : str or PathLike
        The run's output folder, which holds the overlays (``<micrograph>_overlay.png``).
    """
    output = Path(output)
    cards = []
    for row in summary.to_dict("records"):
        name = str(row["micrograph"])
        overlay = f"{name}{SEGMENTATION_FILE_ENDINGS['overlay']}"
        error = row.get("error")
        failed = isinstance(error, str) and error
        if failed or not (output / overlay).is_file():
            cards.append(f'<figure class="failed"><figcaption><b>{html.escape(name)}</b>: '
                         f"{html.escape(error if failed else 'no overlay')}</figcaption></figure>")
            continue
        source = quote(overlay)
        cards.append(f'<figure><a href="{source}"><img src="{source}" loading="lazy" alt="{html.escape(name)}"></a>'
                     f"<figcaption><b>{html.escape(name)}</b>: {html.escape(_caption(row))}</figcaption></figure>")
    page = _PAGE.format(title=html.escape(f"icestat pick: {output.name or output}, {len(summary)} micrographs"),
                        width=CARD_WIDTH_PX, legend=html.escape(_LEGEND), cards="\n".join(cards))
    path = output / INDEX_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path


def _caption(row: dict) -> str:
    """What a micrograph's summary row says, in a line: picks, class fractions, diameter, polarity."""
    fractions = ", ".join(f"{kind} {row[f'{kind}_fraction']:.0%}" for kind in ("ice", "particle", "carbon",
                                                                                 "contamination")
                          if _number(row.get(f"{kind}_fraction")))
    diameter = f"; diameter {row['diameter_px']:.0f} px" if _number(row.get("diameter_px")) else ""
    polarity = f"; particles {row['polarity']}" if isinstance(row.get("polarity"), str) and row["polarity"] else ""
    return f"{int(row['n_picks'])} picks; {fractions}{diameter}{polarity}"


def _number(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
