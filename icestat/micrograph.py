"""Micrographs: one 2D image with its pixel size and name; reading and writing.

Reading accepts MRC (modes 0, 1, 2, 6 and 12, plain or gzip/bzip2-compressed,
2D or a 3D file holding a single section), TIFF, and 8- or 16-bit PNG/JPEG.
The format is recognised from the file's first bytes, not its name. An MRC
header that slips as those of older software do (``HEADER_SLIPS``) is read
with a warning where the data fill the file exactly as it says.

Every problem that makes a file unusable raises :class:`MicrographError` (a
``ValueError``) whose message is one line naming the file and the problem, so
that a batch can report it and go on with the next micrograph.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import math
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import mrcfile
import mrcfile.utils
import numpy as np
import tifffile

from icestat._atomic import atomic_path
from icestat._logging import reading

log = logging.getLogger(__name__)

#: The smallest side, in pixels, of an image icestat accepts: one feature patch.
MIN_SIDE_PX = 64
#: A file whose image holds fewer grey levels than this is a label map or a mask, not a micrograph: icestat's own
#: ``_labels.mrc`` hold at most 5 (-1 to 3); a motion-corrected sum of a counting camera, even at half an electron
#: per pixel, holds more.
MIN_GREY_LEVELS = 6
#: The grey levels are first counted on about this many pixels, spread over the image (all of them only where those
#: hold fewer than ``MIN_GREY_LEVELS``).
GREY_LEVEL_SAMPLE = 16384

#: Pixel size (Å) that many programs write when they do not know the real one.
PLACEHOLDER_PIXEL_SIZE_A = 1.0
#: Pixel sizes (Å) of micrographs to pick particles in, from super-resolution pixels to binned screening images; one
#: outside is warned of: most often nanometres taken for ångström (1.06 Å written 0.106), or a header's cell size.
PLAUSIBLE_PIXEL_SIZE_A = (0.2, 20.0)

_COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bzip2"}
#: What icestat appends to a micrograph's stem for the segmentation files it writes (``icestat segment``, and
#: ``icestat pick --segmentation``): class codes, ice probability, overlay.
SEGMENTATION_FILE_ENDINGS = {"labels": "_labels.mrc", "ice": "_ice.mrc", "overlay": "_overlay.png"}
_MRC_DTYPES = (np.int8, np.int16, np.uint16, np.float16, np.float32)
#: What mrcfile refuses in a header that MRC files in the wild get wrong (older software writes no machine stamp, or
#: none of the MRC2014 ones, or the other byte order's; some no map ID). An uncompressed file whose data fill it
#: exactly as its header says is read nonetheless, as mrcfile's permissive mode reads it (little-endian unless the
#: mode says otherwise), and warned of.
HEADER_SLIPS = ("Unrecognised machine stamp", "Map ID string not found", "Unrecognised mode")
_MRC_KINDS = ("mrc", "gzip", "bzip2")  # mrcfile opens all three
#: IMOD's stamp at byte 152 of an MRC header (in MRC2014's ``extra2``, which begins at 112): its flags at 156 say
#: whether mode 0 holds signed bytes (``IMOD_SIGNED_BYTES``), as MRC2014 has it, or unsigned ones, as IMOD wrote
#: them before 4.2.23 and writes them still when asked (``newstack -mode 0``, ``tif2mrc`` of 8-bit images).
IMOD_STAMP = 1146047817
IMOD_SIGNED_BYTES = 1
#: Without the stamp, mode 0 is read unsigned only where its neighbouring pixels then differ less than this fraction
#: as much as read signed (an image's wrapped values jump by 256; random bytes, alike either way, stay signed).
CLEARLY_SMOOTHER = 0.8
_TEXT_BYTES = frozenset(range(32, 127)) | {9, 10, 13}
#: What a file of several images is told: movies' frames are summed by motion correction first.
ONE_MICROGRAPH = "icestat needs one 2D micrograph (of a movie, its motion-corrected sum)"
#: How a :class:`PixelSizeWarning` says to give the pixel size (where it is given otherwise, a caller may say so).
PIXEL_SIZE_ADVICE = "with pixel_size_A=... (on the command line: --pixel-size-A)"


#: The exceptions that say what is wrong with a micrograph, a model or a setting (a :class:`MicrographError` is a
#: ``ValueError``). Any other, met on one micrograph of a batch, is a fault of icestat's: that micrograph fails, saying
#: so (:func:`file_error`), and the others are done.
BAD_INPUT_ERRORS = (OSError, ValueError, RuntimeError, MemoryError)


class MicrographError(ValueError):
    """A file or array that cannot be used as a micrograph.

    Parameters
    ----------
    source : str or PathLike
        The file (or the name of the in-memory image) at fault.
    problem : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, source: str | os.PathLike, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{source}: {problem}")


def file_error(path: str | os.PathLike, err: Exception) -> str:
    """One line for a file that failed: the error's message, prefixed with the path unless it already names it.

    A :class:`MicrographError` raised about the micrograph read from it (named by its stem) is given as the path and
    the problem. An exception that is not one of ``BAD_INPUT_ERRORS`` is a fault of icestat's met on this file: the
    line says so, and its traceback is logged at debug level (``icestat -vv``).

    Examples
    --------
    >>> file_error("a.mrc", ValueError("not an MRC file"))
    'a.mrc: not an MRC file'
    >>> file_error("mics/a.mrc", MicrographError("a", "smaller than one patch"))
    'mics/a.mrc: smaller than one patch'
    >>> file_error("a.mrc", KeyError("x"))
    "a.mrc: icestat failed unexpectedly (KeyError: 'x'); `icestat -vv` shows where: please report it"
    """
    if isinstance(err, MicrographError):
        err = err.problem
    elif not isinstance(err, BAD_INPUT_ERRORS):
        log.debug("%s: where icestat failed", path, exc_info=err)
        err = f"icestat failed unexpectedly ({type(err).__name__}: {err}); `icestat -vv` shows where: please report it"
    message = str(err) if str(path) in str(err) else f"{path}: {err}"
    return message.splitlines()[0] if message else str(path)


class PixelSizeWarning(UserWarning):
    """The pixel size is unknown or looks like a placeholder."""


@dataclass(frozen=True, eq=False)
class Micrograph:
    """A single 2D micrograph.

    Parameters
    ----------
    data : ndarray
        The image, indexed ``[row, column]`` (``[y, x]``). Converted to a
        float32 array; it must be 2D, finite and not constant.
    pixel_size_A : float or None
        Pixel size in ångström, or None when unknown.
    name : str
        Short name used for output files, usually the file's stem.
    source : str
        What the data was read from, for logs (e.g. ``"MRC mode 2 (float32)"``).
    placeholder_pixel_size : bool
        True when `pixel_size_A` is a file header's ``PLACEHOLDER_PIXEL_SIZE_A``
        that nobody confirmed (:func:`read_micrograph` sets it): it still turns
        diameters in ångström into pixels, but the working scale treats the pixel
        size as unknown. A pixel size that a user gives is never a placeholder.

    Examples
    --------
    >>> import numpy as np
    >>> mic = Micrograph(np.arange(16.0).reshape(4, 4), pixel_size_A=1.5, name="toy")
    >>> mic.shape, mic.data.dtype, mic.pixel_size_A
    ((4, 4), dtype('float32'), 1.5)
    """

    data: np.ndarray
    pixel_size_A: float | None = None
    name: str = "micrograph"
    source: str = "array"
    placeholder_pixel_size: bool = False

    def __post_init__(self):
        data = np.asarray(self.data)
        if data.ndim != 2:
            raise MicrographError(self.name, f"expected a 2D image, got an array of shape {data.shape}")
        if data.dtype == bool:
            raise MicrographError(self.name, "is a black-and-white (1-bit) image, not a micrograph's grey levels")
        if not (np.issubdtype(data.dtype, np.number) and not np.iscomplexobj(data)):
            raise MicrographError(self.name, f"expected real numbers, got dtype {data.dtype}")
        data = data.astype(np.float32, copy=False)
        n_bad = data.size - int(np.count_nonzero(np.isfinite(data)))
        if n_bad:
            raise MicrographError(self.name, f"{n_bad} pixels are NaN or infinite")
        low, high = float(data.min()), float(data.max())
        if low == high:
            raise MicrographError(self.name, f"the image is constant (every pixel is {low:g})")
        object.__setattr__(self, "data", data)
        if self.pixel_size_A is not None:
            object.__setattr__(self, "pixel_size_A", _checked_pixel_size(self.pixel_size_A, self.name))

    @property
    def shape(self) -> tuple[int, int]:
        """The image shape, ``(rows, columns)``."""
        return self.data.shape


def micrograph_stem(path: str | os.PathLike) -> str:
    """Return the name of a micrograph file without folder, compression or format suffix.

    Examples
    --------
    >>> micrograph_stem("run1/mic_0001.mrc.gz")
    'mic_0001'
    """
    path = Path(path)
    name = path.name
    if path.suffix.lower() in _COMPRESSION_SUFFIXES:
        name = path.stem
    return Path(name).stem


def read_micrograph(
    path: str | os.PathLike,
    pixel_size_A: float | None = None,
    *,
    min_side_px: int = MIN_SIDE_PX,
) -> Micrograph:
    """Read one micrograph from an MRC, TIFF, PNG or JPEG file.

    Parameters
    ----------
    path : str or PathLike
        The file. Its format is recognised from its content.
    pixel_size_A : float, optional
        Pixel size in ångström. Overrides the file's header. When omitted, the
        MRC header's value is used; a missing (0) or placeholder (1.0) value
        gives a :class:`PixelSizeWarning` that says how to pass the right one,
        and a placeholder is marked so (``placeholder_pixel_size``). A pixel
        size outside ``PLAUSIBLE_PIXEL_SIZE_A``, given or the header's, warns
        too, and is used.
    min_side_px : int, optional
        Images with a side shorter than this are refused.

    Returns
    -------
    Micrograph
        float32 data, pixel size (None when unknown) and the file's stem as name.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    MicrographError
        If the file is not a readable micrograph: not an MRC/image file,
        truncated, a stack or 3D volume, colour, complex, NaN/Inf, constant,
        smaller than `min_side_px`, or a label map or a mask (fewer than
        ``MIN_GREY_LEVELS`` grey levels). The message names the file.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.mrc"
    >>> rng = np.random.default_rng(0)
    >>> write_mrc(path, rng.normal(size=(64, 96)).astype(np.float32), pixel_size_A=1.3)
    >>> mic = read_micrograph(path)
    >>> mic.name, mic.shape, round(mic.pixel_size_A, 3)
    ('toy', (64, 96), 1.3)
    """
    path = Path(path)
    data, header_pixel_size_A, source = _read_2d(path)
    if min(data.shape) < min_side_px:
        raise MicrographError(
            path, f"the image is {data.shape[0]}x{data.shape[1]} px, smaller than one {min_side_px}-px patch"
        )
    levels = grey_levels(data)
    if data.dtype != bool and 1 < len(levels) < MIN_GREY_LEVELS and np.isfinite(levels).all():   # else Micrograph
        raise MicrographError(path, f"holds only {len(levels)} grey levels ({', '.join(f'{v:g}' for v in levels)}): "
                                    "a label map or a mask, not a micrograph")
    placeholder, given = False, pixel_size_A is not None
    with reading(path):   # told for the first few files only, where the headers of a run give none
        if given:
            pixel_size_A = _checked_pixel_size(pixel_size_A, path)
        else:
            pixel_size_A, placeholder = _header_pixel_size(path, header_pixel_size_A)
        _warn_if_implausible(path, pixel_size_A, given)
    try:
        return Micrograph(data, pixel_size_A=pixel_size_A, name=micrograph_stem(path), source=source,
                          placeholder_pixel_size=placeholder)
    except MicrographError as err:
        raise MicrographError(path, err.problem) from None


def grey_levels(image: np.ndarray) -> np.ndarray:
    """The distinct values of `image` where they are fewer than ``MIN_GREY_LEVELS``; else those of a sample of
    ``GREY_LEVEL_SAMPLE`` pixels spread over it (at least ``MIN_GREY_LEVELS`` of them), so that a micrograph's are
    counted in a fraction of a millisecond.

    Examples
    --------
    >>> grey_levels(np.array([[0, 1], [1, 3]], dtype=np.int8)).tolist()
    [0, 1, 3]
    """
    flat = np.ravel(image)
    sampled = np.unique(flat[::max(1, flat.size // GREY_LEVEL_SAMPLE)])
    return sampled if len(sampled) >= MIN_GREY_LEVELS else np.unique(flat)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read the 2D array of any supported image file, with no checks on its values.

    For label images (masks, probability maps), which may well be constant.

    Parameters
    ----------
    path : str or PathLike
        MRC, TIFF, PNG or JPEG file holding one 2D image.

    Returns
    -------
    ndarray
        The image in its stored dtype, indexed ``[row, column]``.
    """
    return _read_2d(Path(path))[0]


def write_mrc(path: str | os.PathLike, data: np.ndarray, pixel_size_A: float | None = None) -> None:
    """Write a 2D array to an MRC file, atomically, with the voxel size set.

    Parameters
    ----------
    path : str or PathLike
        Output file; a ``.gz`` or ``.bz2`` suffix writes a compressed file.
    data : ndarray
        int8 (mode 0), int16 (1), float32 (2), uint16 (6) or float16 (12);
        boolean masks are written as int8 and float64 as float32.
    pixel_size_A : float, optional
        Written to the header's voxel size; 0 (unknown) when omitted.
    """
    data = np.asarray(data)
    if data.dtype == np.bool_:
        data = data.astype(np.int8)
    elif data.dtype == np.float64:
        data = data.astype(np.float32)
    if data.dtype.type not in _MRC_DTYPES:
        names = ", ".join(np.dtype(t).name for t in _MRC_DTYPES)
        raise ValueError(f"{path}: cannot write dtype {data.dtype} to MRC; use one of {names}")
    compression = _COMPRESSION_SUFFIXES.get(Path(path).suffix.lower())
    with atomic_path(path) as tmp:
        with mrcfile.new(tmp, overwrite=True, compression=compression) as mrc:
            mrc.set_data(data)
            mrc.voxel_size = 0.0 if pixel_size_A is None else float(pixel_size_A)


def _read_2d(path: Path) -> tuple[np.ndarray, float | None, str]:
    """Return (2D array, header pixel size or None, description of the source)."""
    if not path.exists():
        if path.is_symlink():
            raise FileNotFoundError(f"{path}: no such file (a link to {os.readlink(path)}, which is not there)")
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise MicrographError(path, "is not a file")
    kind = _sniff_format(path)
    with reading(path):   # what the libraries warn of names the file
        if kind in _MRC_KINDS:
            return _read_mrc(path, compression=None if kind == "mrc" else kind)
        if kind == "tiff":
            return _read_tiff(path)
        return _read_plain_image(path, kind)


def _sniff_format(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(1024)
    kind = _image_kind(head)
    if kind is not None:
        return kind
    if head and all(byte in _TEXT_BYTES for byte in head):
        raise MicrographError(path, "is a text file, not a micrograph")
    compression = _compression_kind(head)
    if compression is None:
        return "mrc"  # mrcfile tells the rest
    inner = _image_kind(_decompressed_head(path, compression))
    if inner is not None:
        raise MicrographError(path, f"is a {compression}-compressed {inner.upper()} image: icestat reads compressed "
                                    f"MRC files only, so decompress it first")
    return compression


def _image_kind(head: bytes) -> str | None:
    """``png``, ``jpeg`` or ``tiff`` where a file's first bytes say it is one; None otherwise."""
    magic = head[:8]
    if magic.startswith(b"\x89PNG"):
        return "png"
    if magic.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if magic[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return None


def _compression_kind(head: bytes) -> str | None:
    """``gzip`` or ``bzip2`` where a file's first bytes say it is compressed; None otherwise."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    return None


def _decompressed_head(path: Path, compression: str) -> bytes:
    """The first bytes of a compressed file's content (none where it cannot be decompressed: mrcfile says why)."""
    opener = gzip.open if compression == "gzip" else bz2.open
    try:
        with opener(path, "rb") as f:
            return f.read(8)
    except (OSError, EOFError, zlib.error):
        return b""


def _read_mrc(path: Path, compression: str | None) -> tuple[np.ndarray, float, str]:
    try:
        mode, space_group, header_pixel_size_A, data = _mrc_contents(path, permissive=False)
    except EOFError as err:
        raise MicrographError(path, f"truncated compressed MRC file ({err})") from None
    except zlib.error as err:
        raise MicrographError(path, f"damaged gzip-compressed file ({err})") from None
    except (ValueError, OSError) as err:
        problem = str(err)
        if not (compression is None and problem.startswith(HEADER_SLIPS) and _data_fill_the_file(path)):
            raise MicrographError(path, _mrc_problem(path, compression, problem)) from None
        mode, space_group, header_pixel_size_A, data = _mrc_contents(path, permissive=True)   # mrcfile warns of the slip
    if np.iscomplexobj(data):
        raise MicrographError(path, f"MRC mode {mode} holds complex values, not a real-space micrograph")
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        shape = "x".join(map(str, data.shape))
        if space_group == 0 or ".mrcs" in [suffix.lower() for suffix in path.suffixes]:   # mrcfile writes 1 to .mrcs
            raise MicrographError(path, f"holds a stack of {data.shape[0]} images ({shape}); {ONE_MICROGRAPH}")
        raise MicrographError(
            path, f"holds a 3D volume of {data.shape[0]} sections ({shape}); icestat needs one 2D micrograph"
        )
    source = f"MRC mode {mode} ({data.dtype.name})"
    if compression:
        source = f"{compression} {source}"
    return data, header_pixel_size_A, source


def _mrc_contents(path: Path, permissive: bool) -> tuple[int, int, float, np.ndarray]:
    """An MRC file's mode, space group, pixel size (Å; 0, or not finite where the header's grid size is 0, when not
    set) and data, as mrcfile reads them (mode 0 as :func:`mode_0_bytes` tells)."""
    with mrcfile.open(path, mode="r", permissive=permissive) as mrc:
        mode, data = int(mrc.header.mode), np.asarray(mrc.data)
        if mode == 0:
            data = mode_0_bytes(data, bytes(mrc.header.extra2), mrc.header.mode.dtype.byteorder)
        with np.errstate(divide="ignore", invalid="ignore"):   # cell size over a grid size of 0: no pixel size
            pixel_size_A = float(mrc.voxel_size.x)
        return mode, int(mrc.header.ispg), pixel_size_A, data


def mode_0_bytes(data: np.ndarray, extra2: bytes, byte_order: str = "<") -> np.ndarray:
    """The bytes of an MRC file of mode 0, which mrcfile reads as signed (MRC2014), as signed or unsigned ones.

    Where IMOD's stamp is in the header (:data:`IMOD_STAMP`), its flags say
    which. Elsewhere the bytes are read unsigned where their neighbouring
    pixels then differ clearly less (``CLEARLY_SMOOTHER``), else signed, as
    MRC2014 has it: an image read the wrong way jumps by 256 wherever its
    values cross 127 (an unsigned image) or 0 (a signed one); one whose values
    stay on one side reads the same either way.

    Parameters
    ----------
    data : ndarray of int8
        The data as mrcfile reads it.
    extra2 : bytes
        The header's bytes 112-195 (MRC2014's ``extra2``).
    byte_order : str
        The header's byte order (``<``, ``>`` or ``=``).

    Returns
    -------
    ndarray of int8 or uint8 (a view of `data`)
    """
    stamp, flags = np.frombuffer(extra2[40:48], dtype=np.dtype(np.int32).newbyteorder(byte_order))
    unsigned = data.view(np.uint8)
    if stamp == IMOD_STAMP:
        return data if flags & IMOD_SIGNED_BYTES else unsigned
    return unsigned if _neighbour_step(unsigned) < CLEARLY_SMOOTHER * _neighbour_step(data) else data


def _neighbour_step(image: np.ndarray) -> float:
    """Mean absolute difference between neighbours along the rows of every fourth row (enough to tell; 0 for an
    image one pixel wide)."""
    steps = np.abs(np.diff(image[..., ::4, :].astype(np.int16), axis=-1))
    return float(steps.mean()) if steps.size else 0.0


def _mrc_problem(path: Path, compression: str | None, problem: str) -> str:
    """What is wrong with an MRC file that mrcfile refused saying `problem`, in a user's words."""
    if "bytes for MRC header" in problem:
        return f"not an MRC file: {path.stat().st_size} bytes, shorter than an MRC header"
    if "bytes in data block" in problem:
        return f"truncated MRC file ({problem})"
    what = f"{compression}-compressed, but not a readable MRC file inside" if compression else "not a readable MRC file"
    return f"{what} ({problem})"


def _data_fill_the_file(path: Path) -> bool:
    """Whether an uncompressed file's first 1024 bytes, read as an MRC header in either byte order, give a mode
    mrcfile knows and the sizes of data that fill the rest of the file exactly: an MRC file, whatever its
    machine stamp and map ID say (``HEADER_SLIPS``)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if len(head) < 1024:
        return False
    for order in "<>":
        nx, ny, nz, mode = (int(n) for n in np.frombuffer(head, dtype=f"{order}i4", count=4))
        extended_bytes = int(np.frombuffer(head, dtype=f"{order}i4", count=1, offset=92)[0])
        try:
            item_bytes = mrcfile.utils.dtype_from_mode(mode).itemsize
        except ValueError:   # no mode in this byte order
            continue
        if (min(nx, ny, nz) > 0 and extended_bytes >= 0
                and 1024 + extended_bytes + nx * ny * nz * item_bytes == path.stat().st_size):
            return True
    return False


def _read_tiff(path: Path) -> tuple[np.ndarray, None, str]:
    try:
        data = tifffile.imread(path)
    except Exception as err:  # tifffile raises many types for a damaged file
        data = _tiff_read_by_pillow(path, err)
    data = _grey_image(path, data)
    return data, None, f"TIFF {data.dtype.name}"


def _tiff_read_by_pillow(path: Path, tifffile_error: Exception) -> np.ndarray:
    """The images of a TIFF file whose compression tifffile leaves to the optional imagecodecs package (LZW, as
    SerialEM and many cameras' programs write it), read by Pillow instead, one after another; a damaged file
    raises MicrographError."""
    if "imagecodecs" not in str(tifffile_error):
        raise MicrographError(path, f"not a readable TIFF file ({tifffile_error})") from None
    try:
        return np.stack(list(iio.imiter(path, plugin="pillow")))
    except Exception as err:  # image plugins raise many types for a damaged file
        raise MicrographError(path, f"not a readable TIFF file ({err})") from None


def _read_plain_image(path: Path, kind: str) -> tuple[np.ndarray, None, str]:
    try:
        data = iio.imread(path)
    except Exception as err:  # image plugins raise many types for a damaged file
        raise MicrographError(path, f"not a readable {kind.upper()} file ({err})") from None
    data = _grey_image(path, data)
    return data, None, f"{kind.upper()} {data.dtype.name}"


def _grey_image(path: Path, data: np.ndarray) -> np.ndarray:
    """Reduce an image array to one grey 2D plane, or explain why it is not one."""
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[-1] == 2:   # grey and alpha
        data = data[..., 0]
    if data.ndim == 3 and data.shape[-1] in (3, 4):   # colour, and alpha
        colour = data[..., :3]
        if np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(colour[..., 0], colour[..., 2]):
            data = colour[..., 0]
        else:
            raise MicrographError(path, "is a colour image, not a grey-scale micrograph")
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.size == 0 and data.ndim != 2:
        raise MicrographError(path, "holds no image")
    if data.ndim != 2:
        raise MicrographError(path, f"holds {data.shape[0]} images ({'x'.join(map(str, data.shape))}); {ONE_MICROGRAPH}")
    return data


def _header_pixel_size(path: Path, header_pixel_size_A: float | None) -> tuple[float | None, bool]:
    """The header's pixel size (None when it gives none) and whether it is the placeholder, with a warning if so."""
    if header_pixel_size_A is None or not math.isfinite(header_pixel_size_A) or header_pixel_size_A <= 0:
        warnings.warn(f"{path}: the file gives no pixel size; pass the right one {PIXEL_SIZE_ADVICE}",
                      PixelSizeWarning, stacklevel=3)
        return None, False
    placeholder = math.isclose(header_pixel_size_A, PLACEHOLDER_PIXEL_SIZE_A)
    if placeholder:
        warnings.warn(
            f"{path}: header pixel size 1.0 Å is often a placeholder, so the working scale takes it as unknown; "
            f"pass the real pixel size, even if it is 1.0 Å, {PIXEL_SIZE_ADVICE}",
            PixelSizeWarning,
            stacklevel=3,
        )
    return header_pixel_size_A, placeholder


def _warn_if_implausible(path: Path, pixel_size_A: float | None, given: bool) -> None:
    """A :class:`PixelSizeWarning` where `pixel_size_A` (given, or the header's) is outside
    :data:`PLAUSIBLE_PIXEL_SIZE_A`."""
    low, high = PLAUSIBLE_PIXEL_SIZE_A
    if pixel_size_A is None or low <= pixel_size_A <= high:
        return
    where, advice = (("the pixel size given", ": is it in ångström, not nanometres?") if given else
                     ("the header's pixel size", f" (nanometres, or the cell's size?); if it is wrong, pass the right "
                                                 f"one {PIXEL_SIZE_ADVICE}"))
    warnings.warn(f"{path}: {where}, {pixel_size_A:g} Å, is outside the {low:g}-{high:g} Å of micrographs to pick "
                  f"particles in{advice}", PixelSizeWarning, stacklevel=3)


def _checked_pixel_size(pixel_size_A: float, source: str | os.PathLike) -> float:
    try:
        value = float(pixel_size_A)
    except (TypeError, ValueError):
        raise MicrographError(source, f"pixel size must be a number of ångström, got {pixel_size_A!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise MicrographError(source, f"pixel size must be a positive number of ångström, got {pixel_size_A!r}")
    return value
