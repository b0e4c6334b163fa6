"""Repacking a .tflite with shared vectors: smaller, and the very same model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisight.convert.conversion import quantize
from pisight.convert.conversion.compact import BUFFER_ALIGNMENT, schema, share_repeated_vectors
from pisight.convert.conversion.quantize import QuantizeOptions, convert_saved_model
from pisight.device.model.runtime import make_interpreter
from tests.models import calibration_batches


@pytest.fixture(scope="module")
def converter_output(tiny_saved_model: Path) -> bytes:
    """What TFLiteConverter itself writes for a per-channel int8 detector."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quantize, "share_repeated_vectors", lambda model: model)
        return convert_saved_model(
            tiny_saved_model, QuantizeOptions("int8"), calibration_batches(96)
        )


def test_shared_vectors_shrink_a_per_channel_model(converter_output: bytes) -> None:
    shared = share_repeated_vectors(converter_output)
    zero_points = sum(
        len(tensor.quantization.zeroPoint)
        for tensor in _model(converter_output).subgraphs[0].tensors
        if tensor.quantization is not None and tensor.quantization.zeroPoint is not None
    )
    # Most zero points are repeats of a few all-zero vectors; 8 bytes each come back.
    assert len(converter_output) - len(shared) > 4 * zero_points


def test_every_table_and_tensor_is_unchanged(converter_output: bytes) -> None:
    before, after = _model(converter_output), _model(share_repeated_vectors(converter_output))
    assert len(after.buffers) == len(before.buffers)
    for old, new in zip(before.buffers, after.buffers, strict=True):
        assert np.array_equal(_or_empty(old.data), _or_empty(new.data))
    for old, new in zip(before.subgraphs[0].tensors, after.subgraphs[0].tensors, strict=True):
        assert (old.name, old.buffer, list(old.shape)) == (new.name, new.buffer, list(new.shape))
        if old.quantization is not None:
            for field in ("scale", "zeroPoint", "quantizedDimension"):
                assert np.array_equal(
                    getattr(old.quantization, field), getattr(new.quantization, field)
                )
    assert [m.name for m in after.metadata] == [m.name for m in before.metadata]
    assert len(after.signatureDefs) == len(before.signatureDefs)


def test_tensor_data_keeps_the_schema_alignment(converter_output: bytes) -> None:
    shared = share_repeated_vectors(converter_output)
    model = schema.Model.GetRootAs(shared, 0)
    for index in range(model.BuffersLength()):
        buffer = model.Buffers(index)
        if buffer.DataLength():
            start = buffer._tab.Vector(buffer._tab.Offset(4))  # where the bytes begin
            assert start % BUFFER_ALIGNMENT == 0


def test_the_interpreter_gives_identical_outputs(converter_output: bytes, tmp_path: Path) -> None:
    frame = np.random.default_rng(0).integers(-128, 128, (1, 96, 96, 3), dtype=np.int8)
    results = []
    for name, model in (
        ("raw", converter_output),
        ("shared", share_repeated_vectors(converter_output)),
    ):
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(model)
        interpreter, _ = make_interpreter(path)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], frame)
        interpreter.invoke()
        results.append(
            [interpreter.get_tensor(o["index"]) for o in interpreter.get_output_details()]
        )
    for raw, shared in zip(*results, strict=True):
        assert np.array_equal(raw, shared)


def test_a_model_with_nothing_repeated_comes_back_as_it_was() -> None:
    builder = schema.ModelT()
    builder.version, builder.buffers, builder.subgraphs = 3, [schema.BufferT()], []
    packed = share_repeated_vectors(_packed(builder))
    assert share_repeated_vectors(packed) == packed


def _model(data: bytes) -> schema.ModelT:
    return schema.ModelT.InitFromPackedBuf(data, 0)


def _or_empty(data) -> np.ndarray:
    return np.zeros(0, np.uint8) if data is None else np.asarray(data)


def _packed(model: schema.ModelT) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(64)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
