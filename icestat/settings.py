"""Settings shared by training and segmentation: the working scale, the patch grid and the features."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

from icestat.micrograph import Micrograph, MicrographError
from icestat.prepare import WorkingImage, applied_bin_factor, binned_shape, prepare

#: Particles wider than this many working pixels are segmented on a coarser working image, binned until they are
#: this wide (when their diameter is known: :meth:`SegmentationSettings.prepare`). The shipped model took simulated
#: particles of 400-550 Å (57-79 px at 7 Å/px) for ice or contamination: picking F1 0-0.74, 0.80-0.88 at this
#: width (0.94 at 36 px). The real specimens it trained on are wider in their 1024 px images (EMPIAR-10028 56 px,
#: 10059 36-50 px) and lose from narrower working widths (10059 held out 0.768 -> 0.767 at this width, 0.752 at
#: 36 px, 0.716 at 28; benchmarks/README.md).
MAX_WORKING_DIAMETER_PX = 45.0
#: A particle diameter given that is narrower than this many working pixels is warned of: the working scale cannot
#: show such particles (7 Å per pixel: under 42 Å), and picks there are the noise's; most often the diameter was meant
#: in other units or for another pixel size. Simulated particles of 70 Å (10 px) were picked with F1 0.96.
MIN_WORKING_DIAMETER_PX = 6.0


def check_particle_diameter_px(diameter_px: float | None, shape: tuple[int, int]) -> None:
    """Raise ValueError unless a particle diameter given (None: not given) is a positive number of pixels no wider
    than the micrograph, of `shape`, it is in.

    Examples
    --------
    >>> check_particle_diameter_px(150.0, (4096, 4096))
    >>> check_particle_diameter_px(5000.0, (4096, 4096))
    Traceback (most recent call last):
    ValueError: a particle diameter of 5000 px is wider than the micrograph (4096x4096 px)
    """
    if diameter_px is None:
        return
    if not diameter_px > 0:
        raise ValueError(f"particle diameter must be positive, got {diameter_px} px")
    if diameter_px > max(shape):
        raise ValueError(f"a particle diameter of {diameter_px:g} px is wider than the micrograph "
                         f"({shape[0]}x{shape[1]} px)")


@dataclass(frozen=True)
class SegmentationSettings:
    """How a micrograph becomes per-patch features; stored in every model so inputs match training.

    Attributes
    ----------
    working_pixel_size_A : float
        Micrographs of known pixel size are binned to this (enlarged where
        coarser, at most :data:`~icestat.prepare.MAX_ENLARGEMENT` times).
    unknown_pixel_size_side_px : int
        Micrographs of unknown pixel size are binned (or enlarged, as above) so
        that their longer side is this many pixels (a typical field of view is
        4000-7000 Å wide, so this lands near the working pixel size). A header's 1.0 Å, the usual
        placeholder, counts as unknown unless the user gives it
        (``Micrograph.placeholder_pixel_size``).
    patch_px, stride_px : int
        Patch grid on the working image.
    features : tuple of str or None
        Feature groups or names (:func:`icestat.features.select_features`); all when None.
    adapt : bool
        Normalise features to each micrograph's own ice and add the distances of
        its unsupervised ice model (:mod:`icestat.adapt`).
    carbon_regions : bool
        Decide carbon per region after the per-pixel classes: the far side of a
        hole's rim, or else the large carbon regions completed and the small ones
        dropped (:mod:`icestat.carbon`). Models saved before this setting existed
        get it too. Turn it off for lacey or continuous carbon.
    """

    working_pixel_size_A: float = 7.0
    unknown_pixel_size_side_px: int = 1024
    patch_px: int = 32
    stride_px: int = 16
    features: tuple[str, ...] | None = None
    adapt: bool = True
    carbon_regions: bool = True

    def prepare(self, micrograph: Micrograph, particle_diameter_px: float | None = None,
                device: str = "cpu") -> WorkingImage:
        """The working image of a micrograph at these settings' scale, or coarser for large particles.

        Parameters
        ----------
        micrograph : Micrograph
        particle_diameter_px : float, optional
            As for :meth:`bin_factor`.
        device : {"cpu", "cuda", "cuda:N"}
            Where it is binned and normalised (:func:`icestat.prepare.prepare`).

        Raises
        ------
        MicrographError
            If the working image is smaller than one patch (a crop of a few
            hundred ångström): the message gives both sizes.
        ValueError
            If `particle_diameter_px` is not positive, or wider than the micrograph.
        """
        check_particle_diameter_px(particle_diameter_px, micrograph.shape)
        factor = self.bin_factor(micrograph, particle_diameter_px)
        self._check_working_shape(micrograph, factor, binned_shape(micrograph.shape, factor), particle_diameter_px)
        if particle_diameter_px is not None and particle_diameter_px / factor < MIN_WORKING_DIAMETER_PX:
            warnings.warn(f"particles {particle_diameter_px:.3g} px wide are {particle_diameter_px / factor:.2g} px at "
                          f"the working scale, too fine to be seen there (under {MIN_WORKING_DIAMETER_PX:g} px): is the "
                          "diameter in pixels of the micrographs?", UserWarning, stacklevel=2)   # once for a run
        working = prepare(micrograph, bin_factor=factor, device=device)
        self._check_working_shape(micrograph, factor, working.data.shape, particle_diameter_px)
        return working

    def _check_working_shape(self, micrograph: Micrograph, factor: float, shape: tuple[int, int],
                             particle_diameter_px: float | None) -> None:
        """Raise MicrographError where a working image of `shape`, `micrograph` binned `factor` times, is smaller
        than one patch; a particle diameter that made it so is named."""
        if min(shape) >= self.patch_px:
            return
        binned, hint = f"{micrograph.shape[0]}x{micrograph.shape[1]} px binned {factor:.3g}x", ""
        if particle_diameter_px is not None and factor == applied_bin_factor(particle_diameter_px / MAX_WORKING_DIAMETER_PX):
            binned += f" (so that particles {particle_diameter_px:.0f} px wide are {MAX_WORKING_DIAMETER_PX:g} px)"
            hint = ": is the particle diameter right?"
        raise MicrographError(micrograph.name, f"{binned} to the working scale is {shape[0]}x{shape[1]} px, smaller than "
                                               f"one {self.patch_px}-px patch{hint}")

    def bin_factor(self, micrograph: Micrograph, particle_diameter_px: float | None = None) -> float:
        """How much :meth:`prepare` bins a micrograph (below 1: enlarges; never below ``1 / MAX_ENLARGEMENT``).

        Parameters
        ----------
        micrograph : Micrograph
        particle_diameter_px : float, optional
            The particles' diameter in pixels of the micrograph, when known:
            where they would be wider than ``MAX_WORKING_DIAMETER_PX`` working
            pixels, the micrograph is binned more, until they are that wide.
        """
        if micrograph.pixel_size_A is not None and not micrograph.placeholder_pixel_size:
            factor = self.working_pixel_size_A / micrograph.pixel_size_A
        else:
            factor = max(micrograph.shape) / self.unknown_pixel_size_side_px
        if particle_diameter_px is not None:
            factor = max(factor, particle_diameter_px / MAX_WORKING_DIAMETER_PX)
        return applied_bin_factor(factor)

    def to_dict(self) -> dict:
        """JSON-ready values."""
        values = asdict(self)
        values["features"] = None if self.features is None else list(self.features)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "SegmentationSettings":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        values = dict(values)
        if values.get("features") is not None:
            values["features"] = tuple(values["features"])
        return cls(**values)
