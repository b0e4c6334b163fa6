"""The interpreter-free .tflite reader against TensorFlow's own reader, LiteRT, and bad bytes."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import flatbuffers
import numpy as np
import pytest

from pisight.device.model.tflite_file import ModelFile, ModelFileError, read_model_file

SIZE = 16  # input height and width of the test models
SECOND = 1.0  # every read, good or bad, must finish well within this


def _keras_model():  # -> keras.Model, built lazily so collection stays TensorFlow-free
    from tensorflow import keras

    image = keras.Input((SIZE, SIZE, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu")(image)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(image, keras.layers.Dense(3, activation="softmax")(pooled))


def _convert(converter, path: Path) -> Path:
    path.write_bytes(converter.convert())
    return path


def _build_int8(model, path: Path) -> Path:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.random((1, SIZE, SIZE, 3), dtype=np.float32)] for _ in range(8)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    with warnings.catch_warnings():
        # The converter asks for input statistics it does not need when calibrating.
        warnings.filterwarnings("ignore", "Statistics for quantized inputs")
        return _convert(converter, path)


def _build_dict_output(directory: Path) -> Path:
    """A SavedModel whose serving signature returns a dict, converted to TFLite."""
    import tensorflow as tf

    class Head(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def serve(self, x):
            return {"scores": tf.nn.sigmoid(x), "boxes": tf.reshape(x * 2.0, [1, 1, 4])}

    head = Head()
    tf.saved_model.save(head, str(directory / "saved"), signatures=head.serve)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(directory / "saved"))
    return _convert(converter, directory / "dict_output.tflite")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import tensorflow as tf

    directory = tmp_path_factory.mktemp("tflite_file")
    model = _keras_model()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return {
        "float": _convert(converter, directory / "float.tflite"),
        "int8": _build_int8(model, directory / "int8.tflite"),
        "dict_output": _build_dict_output(directory),
    }


def _reference_ops(path: Path) -> list[tuple[str, int, int]]:
    """(name, version, operator count) as TensorFlow's flatbuffer_utils reads them."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = flatbuffer_utils.read_model(str(path))
    uses = Counter(op.opcodeIndex for graph in model.subgraphs for op in graph.operators)
    ops: Counter[tuple[str, int]] = Counter()
    for index, code in enumerate(model.operatorCodes):
        builtin = max(code.deprecatedBuiltinCode, code.builtinCode)
        name = code.customCode.decode() if builtin == schema.BuiltinOperator.CUSTOM else None
        ops[(name or names[builtin], code.version)] += uses[index]
    return sorted((name, version, count) for (name, version), count in ops.items())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["float", "int8", "dict_output"])
def test_ops_and_versions_match_tensorflow_reader(models: dict[str, Path], kind: str) -> None:
    model = read_model_file(models[kind])
    assert [(op.name, op.version, op.count) for op in model.ops] == _reference_ops(models[kind])
    assert not any(op.custom for op in model.ops)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["float", "int8", "dict_output"])
def test_tensors_match_interpreter(models: dict[str, Path], kind: str) -> None:
    from ai_edge_litert.interpreter import Interpreter

    model = read_model_file(models[kind])
    interpreter = Interpreter(model_path=str(models[kind]))
    assert list(model.inputs) == [d["index"] for d in interpreter.get_input_details()]
    assert list(model.outputs) == [d["index"] for d in interpreter.get_output_details()]
    details = interpreter.get_tensor_details()
    assert details
    for detail in details:
        tensor = model.tensors[detail["index"]]
        assert tensor.name == detail["name"]
        assert tensor.dtype == np.dtype(detail["dtype"]).name
        assert tensor.shape == tuple(detail["shape"])  # the static shape, batch 1


@pytest.mark.slow
def test_constants_and_header_match_tensorflow_reader(models: dict[str, Path]) -> None:
    from tensorflow.lite.tools import flatbuffer_utils

    reference = flatbuffer_utils.read_model(str(models["int8"]))
    model = read_model_file(models["int8"])
    tensors = reference.subgraphs[0].tensors
    constant = [reference.buffers[t.buffer].data is not None for t in tensors]
    assert [t.has_data for t in model.tensors] == constant
    assert any(constant) and not all(constant)
    assert model.description == reference.description.decode()
    assert (model.schema_version, model.subgraphs) == (3, 1)
    assert model.size == models["int8"].stat().st_size
    assert model.path == models["int8"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["float", "int8"])
def test_min_runtime_version_is_recorded(models: dict[str, Path], kind: str) -> None:
    version = read_model_file(models[kind]).min_runtime_version
    assert version is not None and re.fullmatch(r"\d+\.\d+\.\d+", version), version


@pytest.mark.slow
def test_float_ops_separate_float_from_int8(models: dict[str, Path]) -> None:
    float_ops = read_model_file(models["float"]).float_ops()
    assert "CONV_2D x1" in float_ops and "FULLY_CONNECTED x1" in float_ops
    int8 = read_model_file(models["int8"])
    assert int8.tensors[int8.inputs[0]].dtype == "uint8"
    assert int8.float_ops() == []
    # The float output comes from a DEQUANTIZE, float only because the allow-list says so.
    assert int8.float_ops(allow=set()) == ["DEQUANTIZE x1"]


@pytest.mark.slow
def test_signature_outputs_name_the_dict_outputs(models: dict[str, Path]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    model = read_model_file(models["dict_output"])
    runner = Interpreter(model_path=str(models["dict_output"])).get_signature_runner()
    expected = {name: d["index"] for name, d in runner.get_output_details().items()}
    assert model.signature_outputs == expected
    assert set(expected) == {"scores", "boxes"}
    assert model.tensors[model.signature_outputs["boxes"]].shape == (1, 1, 4)


@pytest.mark.slow
def test_reads_bytes_as_well_as_paths(models: dict[str, Path]) -> None:
    from_path = read_model_file(models["int8"])
    from_bytes = read_model_file(models["int8"].read_bytes())
    assert from_bytes.path is None
    assert from_bytes.ops == from_path.ops and from_bytes.tensors == from_path.tensors


@pytest.mark.slow
def test_imports_and_reads_without_tensorflow(models: dict[str, Path]) -> None:
    script = (
        "import sys\n"
        "for name in ('tensorflow', 'tf_keras', 'keras'):\n"
        "    sys.modules[name] = None\n"
        "from pisight.device.model.tflite_file import read_model_file\n"
        "print(len(read_model_file(sys.argv[1]).ops))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(models["int8"])], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0


# --- hand-built flatbuffers: what a converter never writes but an attacker might ----------


def _table(builder: flatbuffers.Builder, fields: list[tuple[int, str, int]]) -> int:
    """One table from (slot, kind, value), kind one of "offset" (a child), "uint32", "uint64"."""
    prepend = {
        "offset": builder.PrependUOffsetTRelativeSlot,
        "uint32": builder.PrependUint32Slot,
        "uint64": builder.PrependUint64Slot,
    }
    builder.StartObject(8)
    for slot, kind, value in fields:
        prepend[kind](slot, value, 0)
    return builder.EndObject()


def _vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def craft_model(tensors: int = 3, rank: int = 4, external: bytes = b"", at: int = 4096) -> bytes:
    """A model whose tensors all share one shape vector, which flatbuffers allows.

    With `external`, buffer 1 (used by tensor 0) lives outside the flatbuffer at `at`,
    the layout converters use for models over 2 GB.
    """
    builder = flatbuffers.Builder(0)
    shape = builder.CreateNumpyVector(np.ones(rank, np.int32))
    name = builder.CreateString("t")
    tensor_list = [
        _table(builder, [(0, "offset", shape), (3, "offset", name), (2, "uint32", int(i == 0))])
        for i in range(tensors)
    ]
    graph = _table(builder, [(0, "offset", _vector(builder, tensor_list))])
    outside = [(1, "uint64", at), (2, "uint64", len(external))] if external else []
    buffers = [_table(builder, []), _table(builder, outside)]
    model = _table(
        builder,
        [
            (0, "uint32", 3),
            (2, "offset", _vector(builder, [graph])),
            (4, "offset", _vector(builder, buffers)),
        ],
    )
    builder.Finish(model, file_identifier=b"TFL3")
    flat = bytes(builder.Output())
    return flat + bytes(at - len(flat)) + external if external else flat


def test_crafted_model_is_valid() -> None:
    model = read_model_file(craft_model(tensors=3, rank=4))
    assert [t.shape for t in model.tensors] == [(1, 1, 1, 1)] * 3
    assert [t.has_data for t in model.tensors] == [False] * 3
    assert model.ops == () and model.metadata == {} and model.signature_outputs == {}
    assert model.min_runtime_version is None


def test_external_buffer_counts_as_data() -> None:
    model = read_model_file(craft_model(external=b"\x01" * 64))
    assert [t.has_data for t in model.tensors] == [True, False, False]


def _patched(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1
    return data.replace(old, new)


def _with_huge_vector() -> bytes:
    shape = np.ones(5, np.int32)
    vector = np.int32(5).tobytes() + shape.tobytes()
    return _patched(craft_model(rank=5), vector, b"\xff\xff\xff\x7f" + shape.tobytes())


BAD_BYTES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "empty": (lambda good: b"", "0 bytes: too small"),
    "identifier_only": (lambda good: b"TFL3", "4 bytes: too small"),
    "header_only": (lambda good: good[:8], "8 bytes: too small"),
    "half": (lambda good: good[: len(good) // 2], "truncated or corrupt"),
    "random": (lambda good: random.Random(7).randbytes(4096), "not a TFLite flatbuffer"),
    "identifier": (lambda good: good[:4] + b"XXXX" + good[8:], "identifier b'XXXX', not b'TFL3'"),
    "root_outside": (lambda good: b"\xf0\xff\xff\xff" + good[4:], "truncated or corrupt"),
    "huge_vector": (lambda good: _with_huge_vector(), "claims 2147483647 items"),
    "aliased_bomb": (lambda good: craft_model(tensors=20_000, rank=20_000), "over and over"),
    "buffer_outside": (
        lambda good: craft_model(external=b"\x01" * 64)[:-1],
        "buffer 1 lies outside the file",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD_BYTES))
def test_bad_files_are_refused_fast(models: dict[str, Path], tmp_path: Path, case: str) -> None:
    make, problem = BAD_BYTES[case]
    path = tmp_path / "model.tflite"
    path.write_bytes(make(models["int8"].read_bytes()))
    for source, label in ((path, str(path)), (path.read_bytes(), "the in-memory model")):
        start = time.perf_counter()
        with pytest.raises(ModelFileError) as raised:
            read_model_file(source)
        assert time.perf_counter() - start < SECOND
        assert label in str(raised.value) and problem in str(raised.value)
        assert "\n" not in str(raised.value)


def test_non_regular_files_are_refused_before_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.tflite"
    os.mkfifo(fifo)  # opening it for reading would block without O_NONBLOCK
    candidates = [tmp_path, fifo]
    if Path("/dev/zero").exists():
        candidates.append(Path("/dev/zero"))  # endless: reading it first would never finish
    for path in candidates:
        start = time.perf_counter()
        with pytest.raises(ModelFileError, match=f"^{re.escape(str(path))} is not a regular file$"):
            read_model_file(path)
        assert time.perf_counter() - start < SECOND


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"missing\.tflite cannot be read"):
        read_model_file(tmp_path / "missing.tflite")
    path = tmp_path / "big.tflite"
    path.write_bytes(craft_model())
    with pytest.raises(ModelFileError, match=r"big\.tflite is \d+ bytes, over 100"):
        read_model_file(path, max_size=100)
    with pytest.raises(ModelFileError, match=r"the in-memory model is \d+ bytes, over 100"):
        read_model_file(path.read_bytes(), max_size=100)


def _mutants(good: bytes, count: int, seed: int = 0) -> list[bytes]:
    """Half with 1-20 random bytes changed, half truncated at a random point."""
    rng = random.Random(seed)
    mutants = []
    for i in range(count):
        mutant = bytearray(good)
        if i % 2:
            mutant = mutant[: rng.randrange(len(good))]
        else:
            for _ in range(rng.randint(1, 20)):
                mutant[rng.randrange(len(good))] = rng.randrange(256)
        mutants.append(bytes(mutant))
    return mutants


@pytest.mark.slow
def test_fuzzed_models_parse_or_raise_model_file_error(models: dict[str, Path]) -> None:
    outcomes: Counter[str] = Counter()
    for mutant in _mutants(models["int8"].read_bytes(), 300):
        start = time.perf_counter()
        try:
            outcomes[type(read_model_file(mutant)).__name__] += 1
        except ModelFileError:
            outcomes["refused"] += 1
        assert time.perf_counter() - start < SECOND
    assert set(outcomes) <= {ModelFile.__name__, "refused"}
    assert outcomes["refused"] > 150  # every truncation, at least, is refused
