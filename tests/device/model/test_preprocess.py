from __future__ import annotations

import numpy as np
import pytest

from pisight.device.model.preprocess import (
    apply_lookup_table,
    frame_to_model_pixels,
    input_lookup_table,
)

PIXELS = np.arange(256, dtype=np.uint8)


def test_identity_table_is_none() -> None:
    assert input_lookup_table(mean=0.0, std=1.0, dtype="uint8", scale=1.0, zero_point=0) is None


def test_int8_table_shifts_by_zero_point() -> None:
    table = input_lookup_table(mean=0.0, std=1.0, dtype="int8", scale=1.0, zero_point=-128)
    assert table.dtype == np.int8
    np.testing.assert_array_equal(table, (PIXELS.astype(int) - 128).astype(np.int8))


def test_uint8_table_with_mean_std_quantizes() -> None:
    # real = (p - 127.5) / 127.5 in [-1, 1]; scale 1/128, zero point 128 -> round(real*128+128)
    table = input_lookup_table(mean=127.5, std=127.5, dtype="uint8", scale=1 / 128, zero_point=128)
    expected = np.clip(np.round((PIXELS - 127.5) / 127.5 * 128 + 128), 0, 255)
    np.testing.assert_array_equal(table, expected.astype(np.uint8))


def test_float_table_maps_to_minus_one_one() -> None:
    table = input_lookup_table(mean=127.5, std=127.5, dtype="float32", scale=0.0, zero_point=0)
    assert table.dtype == np.float32 and table.shape == (256,)
    assert table[0] == pytest.approx(-1.0)
    assert table[255] == pytest.approx(1.0)
    assert table[128] == pytest.approx(0.5 / 127.5)
    assert np.all(np.diff(table) > 0)


def test_quantized_table_needs_positive_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        input_lookup_table(mean=0.0, std=1.0, dtype="int8", scale=0.0, zero_point=0)


@pytest.mark.parametrize(("frame_h", "frame_w"), [(48, 64), (30, 40), (120, 90)])
def test_frame_to_model_pixels_shape_and_rgb(frame_h: int, frame_w: int) -> None:
    frame = np.zeros((frame_h, frame_w, 3), np.uint8)
    frame[..., 0] = 10  # blue
    frame[..., 2] = 200  # red
    pixels = frame_to_model_pixels(frame, width=40, height=30)
    assert pixels.shape == (30, 40, 3) and pixels.dtype == np.uint8
    assert np.all(pixels[..., 0] == 200) and np.all(pixels[..., 2] == 10)


def test_frame_to_model_pixels_swaps_channels_without_resize() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    np.testing.assert_array_equal(frame_to_model_pixels(frame, 40, 30), frame[..., ::-1])


@pytest.mark.parametrize(
    "table",
    [
        (255 - PIXELS).astype(np.uint8),
        (PIXELS.astype(int) - 128).astype(np.int8),
        (PIXELS // 2 - 100).astype(np.int8),
        ((PIXELS - 127.5) / 127.5).astype(np.float32),
    ],
    ids=["uint8", "int8-shift-copy", "int8", "float32"],
)
def test_apply_lookup_table_equals_indexing(table: np.ndarray) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    out = apply_lookup_table(pixels, table)
    assert out.dtype == table.dtype and out.shape == pixels.shape
    np.testing.assert_array_equal(out, table[pixels])


def test_shift_table_is_shared_and_applied_as_a_bit_flip() -> None:
    table = input_lookup_table(mean=0.0, std=1.0, dtype="int8", scale=1.0, zero_point=-128)
    assert table is input_lookup_table(mean=0.0, std=1.0, dtype="int8", scale=1.0, zero_point=-128)
    assert not table.flags.writeable
    pixels = np.random.default_rng(2).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    out = apply_lookup_table(pixels, table)
    assert out.dtype == np.int8 and out.shape == pixels.shape
    np.testing.assert_array_equal(out, table[pixels])


def test_apply_none_table_returns_pixels() -> None:
    pixels = np.zeros((2, 2, 3), np.uint8)
    assert apply_lookup_table(pixels, None) is pixels
