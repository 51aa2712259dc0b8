"""Overlay images: a micrograph in grey with its classes drawn over it in colour, and its picks circled, as PNG."""

from __future__ import annotations

import os

import imageio.v3 as iio
import numpy as np
import pandas as pd
from skimage.draw import circle_perimeter

from icestat._atomic import atomic_path
from icestat.classes import CARBON, CONTAMINATION, PARTICLE
from icestat.prepare import robust_centre_and_spread

#: Colours of the non-ice classes (ice is left uncoloured).
CLASS_COLOURS = {PARTICLE: (0.1, 0.9, 0.2), CARBON: (0.2, 0.4, 1.0), CONTAMINATION: (1.0, 0.2, 0.1)}
#: Colour of the circles around picks.
PICK_COLOUR = (255, 230, 0)
#: Overlays are shrunk so that their longer side is at most this.
MAX_SIDE_PX = 1024
#: zlib level of the PNG files: a micrograph's noise hardly compresses, and Pillow's default (6) spent 0.24 s on a
#: 1024x1024 overlay for a larger file (1.75 MB) than level 1 (0.06 s, 1.48 MB; benchmarks/README.md).
PNG_COMPRESS_LEVEL = 1


def overlay_image(image: np.ndarray, labels: np.ndarray, picks: pd.DataFrame | None = None,
                  alpha: float = 0.35) -> np.ndarray:
    """An RGB uint8 picture of `image` with the non-ice `labels` tinted (shrunk to at most 1024 px).

    `labels` are at the shape of `image`, or already shrunk as :func:`shrunk` shrinks it. Picks (a pick table,
    :mod:`icestat.coords`) are circled in yellow, with their diameter (or 20 px of the picture where it is unknown).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((8, 8), dtype=np.int8); labels[:, 4:] = 2   # carbon on the right
    >>> rgb = overlay_image(np.random.default_rng(0).normal(size=(8, 8)), labels).astype(int)
    >>> rgb.shape, bool((rgb[:, 4:, 2] > rgb[:, 4:, 0] + 40).all()), bool((rgb[:, :4, 2] == rgb[:, :4, 0]).all())
    ((8, 8, 3), True, True)
    """
    image, labels = np.asarray(image, dtype=np.float32), np.asarray(labels)
    step = _step(image.shape)
    shown = image[::step, ::step]
    if labels.shape == image.shape:
        labels = labels[::step, ::step]
    elif labels.shape != shown.shape:
        raise ValueError(f"labels of shape {labels.shape} fit neither the image, of shape {image.shape}, nor it as "
                         f"shown, {shown.shape}")
    image = shown
    centre, spread = robust_centre_and_spread(image)
    grey = np.clip((image - centre) / (6 * spread) + 0.5, 0, 1) if spread > 0 else np.full(image.shape, 0.5)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    for code, colour in CLASS_COLOURS.items():
        tinted = labels == code
        rgb[tinted] = (1 - alpha) * rgb[tinted] + alpha * np.asarray(colour)
    rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if picks is not None:
        for x_px, y_px, diameter_px in picks[["x_px", "y_px", "diameter_px"]].to_numpy():
            radius = 10 if np.isnan(diameter_px) else max(2, int(round(diameter_px / 2 / step)))
            rows, cols = circle_perimeter(int(round(y_px / step)), int(round(x_px / step)), radius, shape=labels.shape)
            rgb[rows, cols] = PICK_COLOUR
    return rgb


def shrunk(array: np.ndarray) -> np.ndarray:
    """`array` as an overlay shows it: every n-th pixel each way, so that its longer side is at most ``MAX_SIDE_PX``."""
    step = _step(array.shape)
    return array[::step, ::step]


def _step(shape: tuple[int, ...]) -> int:
    return max(1, int(np.ceil(max(shape) / MAX_SIDE_PX)))


def write_overlay(path: str | os.PathLike, image: np.ndarray, labels: np.ndarray,
                  picks: pd.DataFrame | None = None) -> None:
    """Write :func:`overlay_image` to a PNG file, atomically."""
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, overlay_image(image, labels, picks), extension=".png", compress_level=PNG_COMPRESS_LEVEL)
