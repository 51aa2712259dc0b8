"""icestat: find particles and reject bad regions in cryo-EM micrographs by learning amorphous ice."""

from icestat.micrograph import (
    Micrograph,
    MicrographError,
    PixelSizeWarning,
    micrograph_stem,
    read_image,
    read_micrograph,
    write_mrc,
)

__version__ = "0.1.0"

__all__ = [
    "Micrograph",
    "MicrographError",
    "PixelSizeWarning",
    "__version__",
    "micrograph_stem",
    "read_image",
    "read_micrograph",
    "write_mrc",
]
