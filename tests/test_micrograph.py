"""Reading and writing micrographs: every MRC mode, compression, TIFF/PNG/JPEG, and every bad input."""

from __future__ import annotations

import bz2
import gzip
import re
import warnings

import imageio.v3 as iio
import mrcfile
import numpy as np
import pytest
import tifffile

from icestat import (
    Micrograph,
    MicrographError,
    PixelSizeWarning,
    micrograph_stem,
    read_image,
    read_micrograph,
    write_mrc,
)
from icestat.micrograph import GREY_LEVEL_SAMPLE, MIN_GREY_LEVELS, grey_levels, mode_0_bytes

MODES = [(0, np.int8), (1, np.int16), (2, np.float32), (6, np.uint16), (12, np.float16)]


def _values_for(dtype, rng, shape=(80, 96)):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.normal(0.0, 3.0, size=shape).astype(dtype)


def _write_with_mrcfile(path, data, voxel_size=1.5, compression=None, stack=False):
    with mrcfile.new(path, overwrite=True, compression=compression) as mrc:
        mrc.set_data(data)
        if stack:
            mrc.set_image_stack()
        mrc.voxel_size = voxel_size


@pytest.mark.parametrize("signed, imod_flags", [   # no IMOD stamp (None), or stamped with bit 1 saying signed or not
    (True, None), (False, None), (True, 1), (True, 3), (False, 0), (False, 2)])
def test_mode_0_bytes_are_read_signed_or_unsigned_as_their_writer_meant(tmp_path, rng, signed, imod_flags):
    # MRC2014's mode 0 is signed bytes; IMOD writes unsigned ones where its flags say so, and so did it and others
    # before: read as signed, an 8-bit image's values over 127 would wrap to negative ones
    values = rng.normal(0 if signed else 150, 30, size=(90, 120)).clip(-128 if signed else 0, 127 if signed else 255)
    data = values.astype(np.int8 if signed else np.uint8)
    path = tmp_path / "bytes.mrc"
    _write_with_mrcfile(path, data.view(np.int8))   # as mrcfile writes bytes: mode 0
    if imod_flags is not None:
        header = bytearray(path.read_bytes())
        header[152:160] = np.array([1146047817, imod_flags], dtype="<i4").tobytes()
        path.write_bytes(bytes(header))
    mic = read_micrograph(path)
    np.testing.assert_array_equal(mic.data, data.astype(np.float32))
    assert mic.source == f"MRC mode 0 ({data.dtype.name})"


def test_an_imod_stamp_is_believed_over_the_look_of_the_bytes(rng):
    data = rng.normal(150, 30, size=(90, 120)).clip(0, 255).astype(np.uint8)
    stamped_signed = np.array([1146047817, 1], dtype="<i4").tobytes()
    read = mode_0_bytes(data.view(np.int8), bytes(40) + stamped_signed + bytes(36))
    assert read.dtype == np.int8 and (read < 0).any()


@pytest.mark.parametrize("mode, dtype", MODES)
def test_every_mrc_mode_reads_as_float32_with_the_same_values(tmp_path, rng, mode, dtype):
    data = _values_for(dtype, rng)
    path = tmp_path / f"mode{mode}.mrc"
    _write_with_mrcfile(path, data)
    with mrcfile.open(path) as mrc:
        assert int(mrc.header.mode) == mode

    mic = read_micrograph(path)

    assert mic.data.dtype == np.float32
    assert mic.shape == data.shape
    np.testing.assert_array_equal(mic.data, data.astype(np.float32))
    assert mic.source.startswith(f"MRC mode {mode} ")
    assert mic.pixel_size_A == pytest.approx(1.5)
    assert mic.name == f"mode{mode}"


@pytest.mark.parametrize("compression, suffix", [("gzip", ".mrc.gz"), ("bzip2", ".mrc.bz2")])
def test_compressed_mrc_reads(tmp_path, image, compression, suffix):
    path = tmp_path / f"mic{suffix}"
    _write_with_mrcfile(path, image, compression=compression)
    mic = read_micrograph(path)
    np.testing.assert_array_equal(mic.data, image)
    assert mic.name == "mic"
    assert mic.source.startswith(compression)


def test_3d_file_with_one_section_reads_as_2d(tmp_path, image):
    path = tmp_path / "one_section.mrc"
    _write_with_mrcfile(path, image[np.newaxis])
    mic = read_micrograph(path)
    assert mic.shape == image.shape
    np.testing.assert_array_equal(mic.data, image)


@pytest.mark.parametrize("name, stack, expected", [
    ("several.mrc", True, r"a stack of 3 images \(3x80x80\); icestat needs one 2D micrograph \(of a movie, its motion"),
    ("several.mrcs", False, "a stack of 3 images"),   # RELION's name for a stack, whatever the header says
    ("several.mrc", False, "a 3D volume of 3 sections"),
])
def test_stacks_and_volumes_are_refused(tmp_path, rng, name, stack, expected):
    path = tmp_path / name
    _write_with_mrcfile(path, rng.normal(size=(3, 80, 80)).astype(np.float32), stack=stack)
    with pytest.raises(MicrographError, match=expected) as info:
        read_micrograph(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "bad_value, expected", [(np.nan, "1 pixels are NaN or infinite"), (np.inf, "NaN or infinite")]
)
def test_non_finite_pixels_are_refused(tmp_path, image, bad_value, expected):
    image[5, 7] = bad_value
    path = tmp_path / "nan.mrc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mrcfile's own note on the bad values
        write_mrc(path, image, pixel_size_A=1.2)
    with pytest.raises(MicrographError, match=expected) as info:
        read_micrograph(path)
    assert str(info.value).startswith(str(path))


def test_constant_image_is_refused(tmp_path):
    path = tmp_path / "flat.mrc"
    write_mrc(path, np.full((80, 80), 3.0, dtype=np.float32), pixel_size_A=1.2)
    with pytest.raises(MicrographError, match="constant"):
        read_micrograph(path)


def test_a_label_map_or_a_mask_is_refused_as_not_a_micrograph(tmp_path, rng):
    # A glob over an output folder (mics/*.mrc) takes icestat's own label files too; picked, a label map gave picks.
    labels = rng.integers(-1, 4, size=(128, 128)).astype(np.int8)
    write_mrc(tmp_path / "mic_labels.mrc", labels, pixel_size_A=1.2)
    with pytest.raises(MicrographError) as info:
        read_micrograph(tmp_path / "mic_labels.mrc")
    assert str(info.value) == (f"{tmp_path / 'mic_labels.mrc'}: holds only 5 grey levels (-1, 0, 1, 2, 3): a label "
                               "map or a mask, not a micrograph")
    iio.imwrite(tmp_path / "mask.png", np.where(rng.random((128, 128)) < 0.3, 255, 0).astype(np.uint8))
    with pytest.raises(MicrographError, match="holds only 2 grey levels [(]0, 255[)]: a label map or a mask"):
        read_micrograph(tmp_path / "mask.png")
    # a count image of half an electron per pixel, stored as integers, is still a micrograph
    counts = rng.poisson(0.5, size=(128, 128)).astype(np.uint16)
    write_mrc(tmp_path / "counts.mrc", counts, pixel_size_A=1.2)
    assert len(np.unique(counts)) >= MIN_GREY_LEVELS
    assert read_micrograph(tmp_path / "counts.mrc").shape == (128, 128)


def test_grey_levels_counts_every_pixel_where_a_sample_has_too_few():
    image = np.zeros((1024, 1024), dtype=np.float32)
    image[::2, :] = 1.0
    image[1::4, :] = 2.0
    image[3, 5], image[7, 9], image[11, 13] = 3.0, 4.0, 5.0   # three pixels the strided sample misses
    assert grey_levels(image).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    noise = np.random.default_rng(0).normal(size=(1024, 1024))
    assert len(grey_levels(noise)) == GREY_LEVEL_SAMPLE   # a sample where it has enough: its distinct values


def test_image_smaller_than_a_patch_is_refused(tmp_path, rng):
    path = tmp_path / "tiny.mrc"
    write_mrc(path, rng.normal(size=(32, 200)).astype(np.float32), pixel_size_A=1.2)
    with pytest.raises(MicrographError, match="32x200 px, smaller than one 64-px patch"):
        read_micrograph(path)
    assert read_micrograph(path, min_side_px=16).shape == (32, 200)


def test_truncated_mrc_is_refused(tmp_path, image):
    whole = tmp_path / "whole.mrc"
    write_mrc(whole, image, pixel_size_A=1.2)
    cut = tmp_path / "cut.mrc"
    cut.write_bytes(whole.read_bytes()[: 1024 + image.nbytes // 2])
    with pytest.raises(MicrographError, match="truncated MRC file") as info:
        read_micrograph(cut)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("compress, suffix", [(gzip.compress, ".gz"), (bz2.compress, ".bz2")])
def test_truncated_compressed_mrc_is_refused(tmp_path, image, compress, suffix):
    whole = tmp_path / "whole.mrc"
    write_mrc(whole, image, pixel_size_A=1.2)
    packed = compress(whole.read_bytes())
    cut = tmp_path / f"cut.mrc{suffix}"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(MicrographError, match="truncated"):
        read_micrograph(cut)


@pytest.mark.parametrize("compress, suffix, problem", [
    (gzip.compress, ".gz", "damaged gzip-compressed file"),
    (bz2.compress, ".bz2", "bzip2-compressed, but not a readable MRC file inside"),
])
def test_damaged_compressed_mrc_is_refused_in_one_line(tmp_path, image, compress, suffix, problem):
    # The compressed stream itself is broken (zlib raised its own error type, which stopped a whole batch).
    whole = tmp_path / "whole.mrc"
    write_mrc(whole, image, pixel_size_A=1.2)
    packed = bytearray(compress(whole.read_bytes()))
    packed[12:400] = bytes(range(256)) + bytes(range(132))
    damaged = tmp_path / f"damaged.mrc{suffix}"
    damaged.write_bytes(bytes(packed))
    with pytest.raises(MicrographError, match=problem) as info:
        read_micrograph(damaged)
    assert str(info.value).startswith(str(damaged)) and "\n" not in str(info.value)


@pytest.mark.parametrize("compress, suffix, name", [(gzip.compress, ".gz", "gzip"), (bz2.compress, ".bz2", "bzip2")])
def test_a_compressed_png_is_refused_saying_what_it_is(tmp_path, image, compress, suffix, name):
    png = tmp_path / "mic.png"
    iio.imwrite(png, np.clip(image * 20 + 128, 0, 255).astype(np.uint8))
    packed = tmp_path / f"mic.png{suffix}"
    packed.write_bytes(compress(png.read_bytes()))
    with pytest.raises(MicrographError, match=f"is a {name}-compressed PNG image: .* decompress it first"):
        read_micrograph(packed)


@pytest.mark.parametrize("order, slips", [
    ("<", {212: b"\x00\x00\x00\x00"}),                       # no machine stamp (older software)
    ("<", {212: b"\x44\x20\x20\x20"}),                       # IMOD's
    (">", {212: b"\x00\x00\x00\x00"}),                       # big-endian without a stamp: the mode tells
    ("<", {212: b"\x11\x11\x00\x00"}),                       # a big-endian stamp on a little-endian file
    ("<", {208: b"\x00\x00\x00\x00", 212: b"\x00\x00\x00\x00"}),   # no map ID either
])
def test_an_mrc_file_whose_header_slips_as_files_in_the_wild_do_is_read_with_a_warning(tmp_path, image, order, slips):
    path = tmp_path / "old.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(image.astype(f"{order}f4"))
        mrc.voxel_size = 1.3
    raw = bytearray(path.read_bytes())
    for offset, value in slips.items():
        raw[offset:offset + 4] = value
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mic = read_micrograph(path)
    np.testing.assert_array_equal(mic.data, image)
    assert mic.pixel_size_A == pytest.approx(1.3)
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)]   # mrcfile's, of the header's fault
    path.write_bytes(bytes(raw[:-4]))   # the same, but the data do not fill the file as the header says: refused
    with pytest.raises(MicrographError, match="not a readable MRC file"):
        read_micrograph(path)


def test_header_only_file_is_refused(tmp_path):
    path = tmp_path / "short.mrc"
    path.write_bytes(b"\x00\x01" * 100)
    with pytest.raises(MicrographError, match="not an MRC file: 200 bytes"):
        read_micrograph(path)


def test_binary_file_that_is_not_mrc_is_refused(tmp_path, rng):
    path = tmp_path / "noise.mrc"
    path.write_bytes(rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    with pytest.raises(MicrographError, match="not a readable MRC file"):
        read_micrograph(path)


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.mrc"
    path.write_text("these are my notes, not a micrograph\n" * 50)
    with pytest.raises(MicrographError, match="is a text file, not a micrograph"):
        read_micrograph(path)


def test_complex_mrc_is_refused(tmp_path, rng):
    path = tmp_path / "fft.mrc"
    data = (rng.normal(size=(80, 80)) + 1j * rng.normal(size=(80, 80))).astype(np.complex64)
    _write_with_mrcfile(path, data)
    with pytest.raises(MicrographError, match="complex"):
        read_micrograph(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_micrograph(tmp_path / "absent.mrc")
    with pytest.raises(MicrographError, match="is not a file"):
        read_micrograph(tmp_path)


class TestPixelSize:
    def test_header_value_is_used_without_warning(self, tmp_path, image):
        path = tmp_path / "mic.mrc"
        write_mrc(path, image, pixel_size_A=1.37)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", DeprecationWarning)   # a library's to its developers (mrcfile's, NumPy 2.5)
            mic = read_micrograph(path)
        assert mic.pixel_size_A == pytest.approx(1.37, rel=1e-6)

    def test_missing_header_value_warns_how_to_pass_it(self, tmp_path, image):
        path = tmp_path / "mic.mrc"
        write_mrc(path, image)
        with pytest.warns(PixelSizeWarning, match="--pixel-size-A"):
            mic = read_micrograph(path)
        assert mic.pixel_size_A is None

    def test_a_header_grid_of_size_0_is_no_pixel_size_and_only_that_is_warned(self, tmp_path, image):
        # as some older writers leave MX/MY: the cell size over 0 warned of a division by zero too
        path = tmp_path / "mic.mrc"
        _write_with_mrcfile(path, image.astype(np.float32))
        with mrcfile.open(path, mode="r+") as mrc:
            mrc.header.mx, mrc.header.my = 0, 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mic = read_micrograph(path)
        assert mic.pixel_size_A is None
        assert [type(w.message) for w in caught if not isinstance(w.message, DeprecationWarning)] == [PixelSizeWarning]

    def test_placeholder_header_value_warns(self, tmp_path, image):
        path = tmp_path / "mic.mrc"
        write_mrc(path, image, pixel_size_A=1.0)
        with pytest.warns(PixelSizeWarning, match="placeholder"):
            mic = read_micrograph(path)
        assert mic.pixel_size_A == 1.0
        assert mic.placeholder_pixel_size

    @pytest.mark.parametrize("header_A, given_A, words", [
        (0.106, None, r"the header's pixel size, 0.106 Å, is outside the 0.2-20 Å .*--pixel-size-A"),
        (500.0, None, r"the header's pixel size, 500 Å, is outside"),
        (1.06, 0.106, r"the pixel size given, 0.106 Å, is outside .*ångström, not nanometres"),
    ])
    def test_a_pixel_size_no_micrograph_to_pick_has_is_warned_of_and_kept(self, tmp_path, image, header_A, given_A,
                                                                          words):
        path = tmp_path / "mic.mrc"
        write_mrc(path, image, pixel_size_A=header_A)
        with pytest.warns(PixelSizeWarning, match=f"^{re.escape(str(path))}: {words}"):
            mic = read_micrograph(path, pixel_size_A=given_A)
        assert mic.pixel_size_A == pytest.approx(given_A or header_A, rel=1e-6)

    @pytest.mark.parametrize("given_A", [0.83, 1.0])
    def test_override_wins_silently_and_is_no_placeholder(self, tmp_path, image, given_A):
        path = tmp_path / "mic.mrc"
        write_mrc(path, image, pixel_size_A=1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", DeprecationWarning)   # a library's to its developers (mrcfile's, NumPy 2.5)
            mic = read_micrograph(path, pixel_size_A=given_A)
        assert mic.pixel_size_A == given_A
        assert not mic.placeholder_pixel_size

    def test_working_scale_ignores_a_placeholder_but_not_a_given_1_A(self, tmp_path, rng):
        from icestat.settings import SegmentationSettings

        path = tmp_path / "mic.mrc"
        write_mrc(path, rng.normal(size=(256, 256)).astype(np.float32), pixel_size_A=1.0)
        settings = SegmentationSettings(working_pixel_size_A=4.0, unknown_pixel_size_side_px=128)
        with pytest.warns(PixelSizeWarning):
            from_header = settings.prepare(read_micrograph(path))
        given = settings.prepare(read_micrograph(path, pixel_size_A=1.0))
        assert from_header.data.shape == (128, 128)   # unknown: longer side binned to 128 px
        assert given.data.shape == (64, 64)           # 1.0 Å given: binned to 4 Å
        assert given.pixel_size_A == pytest.approx(4.0)

    def test_working_scale_enlarges_a_small_or_coarse_micrograph_at_most_twice(self, rng):
        from icestat.micrograph import Micrograph
        from icestat.settings import SegmentationSettings

        settings = SegmentationSettings(working_pixel_size_A=7.0, unknown_pixel_size_side_px=1024)
        image = rng.normal(size=(300, 400)).astype(np.float32)
        assert settings.bin_factor(Micrograph(image, None, "small")) == 0.5   # 2.56x short of 1024 px: twice
        assert settings.bin_factor(Micrograph(image, 10.0, "coarse")) == pytest.approx(0.7)
        assert settings.bin_factor(Micrograph(image, 10.0, "coarse"), particle_diameter_px=36.0) == 0.8
        assert settings.prepare(Micrograph(image, None, "small")).data.shape == (600, 800)

    def test_a_particle_diameter_the_micrograph_cannot_hold_is_refused_naming_it(self, rng):
        # A diameter in the wrong units (ångström given as pixels, or for a pixel size 50 times too fine) bins the
        # micrograph to nothing: said so before any work, not as a micrograph without contrast.
        from icestat.micrograph import Micrograph
        from icestat.settings import SegmentationSettings

        settings = SegmentationSettings()
        micrograph = Micrograph(rng.normal(size=(256, 1024)).astype(np.float32), 1.0, "mic")
        with pytest.raises(MicrographError, match=r"^mic: 256x1024 px binned 17.8x \(so that particles 800 px wide are "
                                                  r"45 px\) to the working scale is 14x56 px, smaller than one 32-px "
                                                  r"patch: is the particle diameter right\?$"):
            settings.prepare(micrograph, particle_diameter_px=800.0)
        for diameter_px, problem in [(50000.0, r"a particle diameter of 50000 px is wider than the micrograph "
                                                r"\(256x1024 px\)"),
                                     (0.0, "particle diameter must be positive, got 0.0 px"),
                                     (float("nan"), "particle diameter must be positive, got nan px")]:
            with pytest.raises(ValueError, match=f"^{problem}$"):
                settings.prepare(micrograph, particle_diameter_px=diameter_px)

    @pytest.mark.parametrize("diameter_px, pixel_size_A, warned", [(2.5, None, True), (20.0, 1.0, True),
                                                                    (60.0, 1.0, False), (12.0, 7.0, False)])
    def test_a_particle_diameter_too_fine_for_the_working_scale_is_warned_of(self, rng, diameter_px, pixel_size_A,
                                                                            warned):
        from icestat.micrograph import Micrograph
        from icestat.settings import MIN_WORKING_DIAMETER_PX, SegmentationSettings

        micrograph = Micrograph(rng.normal(size=(512, 512)).astype(np.float32), pixel_size_A, "mic")
        settings = SegmentationSettings()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            settings.prepare(micrograph, particle_diameter_px=diameter_px)
        said = [str(w.message) for w in caught if "too fine" in str(w.message)]
        assert bool(said) == warned == (diameter_px / settings.bin_factor(micrograph) < MIN_WORKING_DIAMETER_PX)
        if warned:
            assert said[0].startswith(f"particles {diameter_px:g} px wide are ")

    @pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), "abc"])
    def test_bad_override_is_refused(self, tmp_path, image, bad):
        path = tmp_path / "mic.mrc"
        write_mrc(path, image, pixel_size_A=1.5)
        with pytest.raises(MicrographError, match="pixel size must be"):
            read_micrograph(path, pixel_size_A=bad)


class TestOtherFormats:
    def test_tiff_uint16(self, tmp_path, rng):
        data = rng.integers(0, 4000, size=(70, 90), dtype=np.uint16)
        path = tmp_path / "mic.tif"
        tifffile.imwrite(path, data)
        with pytest.warns(PixelSizeWarning):
            mic = read_micrograph(path)
        np.testing.assert_array_equal(mic.data, data.astype(np.float32))
        assert mic.source == "TIFF uint16"

    def test_multi_page_tiff_is_refused(self, tmp_path, rng):
        path = tmp_path / "movie.tif"
        tifffile.imwrite(path, rng.integers(0, 9, size=(3, 70, 90), dtype=np.uint16), photometric="minisblack")
        with pytest.raises(MicrographError, match="holds 3 images"):
            read_micrograph(path)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    def test_lzw_compressed_tiff_is_read_without_imagecodecs(self, tmp_path, rng, dtype):
        # SerialEM and many cameras' programs write LZW, which tifffile decodes only with imagecodecs (optional)
        from PIL import Image

        values = rng.normal(100, 20, size=(70, 90)) if dtype == np.float32 else rng.integers(0, 200, (70, 90))
        data = values.astype(dtype)
        path = tmp_path / "mic.tif"
        Image.fromarray(data).save(path, compression="tiff_lzw")
        with pytest.warns(PixelSizeWarning):
            mic = read_micrograph(path)
        np.testing.assert_array_equal(mic.data, data.astype(np.float32))
        assert mic.source == f"TIFF {np.dtype(dtype).name}"
        # one of several pages, or damaged: refused as other TIFF files are
        pages = [Image.fromarray(data) for _ in range(2)]
        pages[0].save(path, compression="tiff_lzw", save_all=True, append_images=pages[1:])
        with pytest.raises(MicrographError, match="holds 2 images"):
            read_micrograph(path)
        Image.fromarray(data).save(path, compression="tiff_lzw")
        spoiled = bytearray(path.read_bytes())
        with tifffile.TiffFile(path) as tiff:
            offset = tiff.pages[0].dataoffsets[0]
        spoiled[offset:offset + 2000] = bytes([255]) * 2000
        path.write_bytes(bytes(spoiled))
        with pytest.raises(MicrographError, match="not a readable TIFF file") as info:
            read_micrograph(path)
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)

    @pytest.mark.parametrize("suffix", [".png", ".jpg"])
    def test_8_bit_grey_images(self, tmp_path, rng, suffix):
        data = rng.integers(0, 256, size=(70, 90), dtype=np.uint8)
        path = tmp_path / f"mic{suffix}"
        iio.imwrite(path, data)
        mic = read_micrograph(path, pixel_size_A=2.0)
        assert mic.shape == (70, 90)
        if suffix == ".png":  # JPEG is lossy
            np.testing.assert_array_equal(mic.data, data.astype(np.float32))
        assert mic.source == ("PNG uint8" if suffix == ".png" else "JPEG uint8")

    def test_grey_stored_as_rgb_is_accepted(self, tmp_path, rng):
        grey = rng.integers(0, 256, size=(70, 90), dtype=np.uint8)
        path = tmp_path / "rgb_grey.png"
        iio.imwrite(path, np.stack([grey] * 3, axis=-1))
        np.testing.assert_array_equal(read_micrograph(path, pixel_size_A=2.0).data, grey)

    @pytest.mark.parametrize("channels", [2, 4])   # grey and alpha; grey stored as RGB, and alpha
    def test_grey_with_an_alpha_channel_is_accepted(self, tmp_path, rng, channels):
        grey = rng.integers(0, 256, size=(70, 90), dtype=np.uint8)
        path = tmp_path / "grey_alpha.png"
        iio.imwrite(path, np.stack([grey] * (channels - 1) + [np.full_like(grey, 255)], axis=-1))
        np.testing.assert_array_equal(read_micrograph(path, pixel_size_A=2.0).data, grey)

    def test_a_black_and_white_image_is_refused_saying_so(self, tmp_path, rng):
        path = tmp_path / "mask.png"
        iio.imwrite(path, rng.random((70, 90)) > 0.5)   # a mask given for a micrograph
        with pytest.raises(MicrographError, match="mask.png: is a black-and-white .1-bit. image"):
            read_micrograph(path, pixel_size_A=2.0)
        assert read_image(path).dtype == bool   # as labels (a manifest's particle mask), it is read

    def test_colour_image_is_refused(self, tmp_path, rng):
        path = tmp_path / "photo.png"
        iio.imwrite(path, rng.integers(0, 256, size=(70, 90, 3), dtype=np.uint8))
        with pytest.raises(MicrographError, match="colour image"):
            read_micrograph(path)

    def test_truncated_png_is_refused(self, tmp_path, rng):
        whole = tmp_path / "whole.png"
        iio.imwrite(whole, rng.integers(0, 256, size=(200, 200), dtype=np.uint8))
        cut = tmp_path / "cut.png"
        cut.write_bytes(whole.read_bytes()[:500])
        with pytest.raises(MicrographError, match="not a readable PNG file"):
            read_micrograph(cut)

    def test_truncated_tiff_is_refused_in_one_line_naming_it(self, tmp_path, rng):
        whole = tmp_path / "whole.tif"
        tifffile.imwrite(whole, rng.integers(0, 4000, size=(200, 200), dtype=np.uint16))
        cut = tmp_path / "cut.tif"
        cut.write_bytes(whole.read_bytes()[:300])
        with pytest.raises(MicrographError, match="not a readable TIFF file") as info:
            read_micrograph(cut)
        assert str(info.value).startswith(f"{cut}: ") and "\n" not in str(info.value)

    def test_tiff_of_no_page_is_refused_as_holding_no_image(self, tmp_path):
        empty = tmp_path / "empty.tif"
        empty.write_bytes(b"II*\x00" + bytes(100))   # a TIFF header whose first page is at offset 0: none
        with pytest.raises(MicrographError) as info:
            read_micrograph(empty)
        assert str(info.value) == f"{empty}: holds no image"

    def test_format_is_recognised_by_content_not_suffix(self, tmp_path, rng):
        data = rng.integers(0, 256, size=(70, 90), dtype=np.uint8)
        path = tmp_path / "really_a_png.mrc"
        iio.imwrite(path, data, extension=".png")
        assert read_micrograph(path, pixel_size_A=1.0).source == "PNG uint8"


class TestWriteMrc:
    @pytest.mark.parametrize("dtype, mode", [(np.int8, 0), (np.float32, 2), (np.uint16, 6), (np.float16, 12)])
    def test_round_trip_keeps_values_mode_and_voxel_size(self, tmp_path, rng, dtype, mode):
        data = _values_for(dtype, rng)
        path = tmp_path / "out.mrc"
        write_mrc(path, data, pixel_size_A=2.25)
        with mrcfile.open(path) as mrc:
            assert int(mrc.header.mode) == mode
            assert float(mrc.voxel_size.x) == pytest.approx(2.25)
            assert float(mrc.voxel_size.y) == pytest.approx(2.25)
            np.testing.assert_array_equal(mrc.data, data)
        assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind

    def test_boolean_mask_is_written_as_int8(self, tmp_path):
        mask = np.zeros((8, 8), dtype=bool)
        mask[2:4, 3:6] = True
        path = tmp_path / "mask.mrc"
        write_mrc(path, mask, pixel_size_A=1.0)
        np.testing.assert_array_equal(read_image(path), mask.astype(np.int8))

    def test_compressed_output(self, tmp_path, image):
        path = tmp_path / "out.mrc.gz"
        write_mrc(path, image, pixel_size_A=1.5)
        assert path.read_bytes()[:2] == b"\x1f\x8b"
        np.testing.assert_array_equal(read_micrograph(path).data, image)

    def test_unsupported_dtype_is_refused_and_nothing_written(self, tmp_path):
        path = tmp_path / "out.mrc"
        with pytest.raises(ValueError, match="cannot write dtype int64"):
            write_mrc(path, np.zeros((4, 4), dtype=np.int64))
        assert not path.exists()

    def test_failed_write_keeps_the_previous_file(self, tmp_path, image, monkeypatch):
        path = tmp_path / "out.mrc"
        write_mrc(path, image, pixel_size_A=1.5)
        before = path.read_bytes()

        def broken_set_data(self, data):
            raise RuntimeError("disk full")

        monkeypatch.setattr(mrcfile.mrcfile.MrcFile, "set_data", broken_set_data)
        with pytest.raises(RuntimeError, match="disk full"):
            write_mrc(path, image * 2, pixel_size_A=1.5)
        assert path.read_bytes() == before
        assert list(tmp_path.iterdir()) == [path]


class TestMicrographObject:
    def test_converts_to_float32(self):
        mic = Micrograph(np.arange(12, dtype=np.float64).reshape(3, 4), pixel_size_A=1.0, name="a")
        assert mic.data.dtype == np.float32

    @pytest.mark.parametrize(
        "data, expected",
        [
            (np.zeros((3, 4, 5)), "expected a 2D image"),
            (np.ones((4, 4)), "constant"),
            (np.array([["a", "b"], ["c", "d"]]), "expected real numbers"),
        ],
    )
    def test_refuses_bad_arrays(self, data, expected):
        with pytest.raises(MicrographError, match=expected):
            Micrograph(data, name="bad")


@pytest.mark.parametrize(
    "path, stem",
    [("a/b/mic_01.mrc", "mic_01"), ("mic.mrc.gz", "mic"), ("x.y.mrc.bz2", "x.y"), ("img.png", "img")],
)
def test_micrograph_stem(path, stem):
    assert micrograph_stem(path) == stem
