"""The patch grid: square patches at a stride, the last row and column flush with the image edge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The smallest patch side (pixels) the features are defined on.
MIN_PATCH_PX = 4


def _starts(length: int, patch_px: int, stride_px: int) -> np.ndarray:
    starts = np.arange(0, length - patch_px + 1, stride_px)
    if starts[-1] + patch_px < length:  # cover the edge with one more patch, flush with it
        starts = np.append(starts, length - patch_px)
    return starts.astype(np.int64)


@dataclass(frozen=True)
class PatchGrid:
    """Patches of ``patch_px`` x ``patch_px`` pixels every ``stride_px`` pixels.

    Patch ``(i, j)`` covers rows ``row_starts[i] : row_starts[i] + patch_px``
    and the matching columns. Every pixel is in at least one patch.

    Examples
    --------
    >>> grid = PatchGrid((100, 130), patch_px=64, stride_px=32)
    >>> grid.shape, grid.row_starts.tolist(), grid.col_starts.tolist()
    ((3, 4), [0, 32, 36], [0, 32, 64, 66])
    """

    image_shape: tuple[int, int]
    patch_px: int
    stride_px: int

    def __post_init__(self):
        if self.patch_px < MIN_PATCH_PX or self.stride_px < 1:
            raise ValueError(f"patch_px must be at least {MIN_PATCH_PX} and stride_px at least 1, got {self.patch_px}, "
                             f"{self.stride_px}")
        if min(self.image_shape) < self.patch_px:
            raise ValueError(f"image {self.image_shape} is smaller than one {self.patch_px}-px patch")

    @property
    def row_starts(self) -> np.ndarray:
        """First row of each patch row."""
        return _starts(self.image_shape[0], self.patch_px, self.stride_px)

    @property
    def col_starts(self) -> np.ndarray:
        """First column of each patch column."""
        return _starts(self.image_shape[1], self.patch_px, self.stride_px)

    @property
    def shape(self) -> tuple[int, int]:
        """Number of patch rows and columns."""
        return len(self.row_starts), len(self.col_starts)

    def centres_px(self) -> tuple[np.ndarray, np.ndarray]:
        """Patch centres ``(y_px, x_px)`` as 2D arrays of the grid's shape (pixel-centre coordinates)."""
        half = (self.patch_px - 1) / 2
        return np.meshgrid(self.row_starts + half, self.col_starts + half, indexing="ij")

    def patch_of(self, y_px, x_px) -> tuple[np.ndarray, np.ndarray]:
        """Index ``(row, col)`` of the patch whose centre is nearest to each pixel."""
        half = (self.patch_px - 1) / 2
        rows = np.abs(np.asarray(y_px)[..., np.newaxis] - (self.row_starts + half)).argmin(-1)
        cols = np.abs(np.asarray(x_px)[..., np.newaxis] - (self.col_starts + half)).argmin(-1)
        return rows, cols

    def to_pixels(self, values: np.ndarray, order: int = 1) -> np.ndarray:
        """Interpolate per-patch values to every pixel of the image.

        Parameters
        ----------
        values : ndarray
            Grid-shaped array (rows x cols).
        order : int
            0 for the nearest patch centre, 1 for bilinear between centres.
        """
        half = (self.patch_px - 1) / 2
        rows = np.interp(np.arange(self.image_shape[0]), self.row_starts + half, np.arange(self.shape[0]))
        cols = np.interp(np.arange(self.image_shape[1]), self.col_starts + half, np.arange(self.shape[1]))
        # separable, as map_coordinates on this tensor grid is, one axis then the other: 20x faster
        values = np.asarray(values, dtype=np.float64)
        if order == 0:
            return values[_nearest(rows, self.shape[0])][:, _nearest(cols, self.shape[1])].astype(np.float32)
        if order != 1:
            raise ValueError(f"order must be 0 or 1, got {order}")
        low, high, fraction = _neighbours(rows, self.shape[0])
        along_rows = values[low] * (1 - fraction)[:, None] + values[high] * fraction[:, None]
        low, high, fraction = _neighbours(cols, self.shape[1])
        return (along_rows[:, low] * (1 - fraction) + along_rows[:, high] * fraction).astype(np.float32)


def _nearest(positions: np.ndarray, n: int) -> np.ndarray:
    """The sample nearest each position in ``[0, n - 1]`` (half-way rounding up, as ``scipy.ndimage``'s order 0)."""
    return np.minimum(np.floor(positions + 0.5).astype(np.int64), n - 1)


def _neighbours(positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The samples either side of each position in ``[0, n - 1]``, and how far it is from the lower one."""
    low = np.minimum(np.floor(positions).astype(np.int64), n - 1)
    return low, np.minimum(low + 1, n - 1), positions - low
