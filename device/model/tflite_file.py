"""Read a .tflite file without an interpreter: ops, tensors, metadata, signatures.

The converter uses it to list ops with versions and to prove a graph is integer-only;
the device uses it to refuse malformed or untrusted files before an interpreter (C++,
which may crash on them) ever sees the bytes. Every offset and length is checked against
the file, and the total work is capped, so any byte string either parses or raises
`ModelFileError` in milliseconds.

    >>> model = read_model_file("bundle/model.tflite")
    >>> [f"{op.name} v{op.version}" for op in model.ops]
    ['CONV_2D v3', 'DEQUANTIZE v2', 'FULLY_CONNECTED v4', 'MEAN v2', 'QUANTIZE v1', 'SOFTMAX v2']
    >>> model.float_ops(), model.min_runtime_version
    ([], '1.14.0')
    >>> read_model_file(b"not a model at all")
    ModelFileError: the in-memory model has identifier b'a mo', not b'TFL3': not a TFLite flatbuffer

Field slots follow tensorflow/lite/schema/schema.fbs (schema version 3); the flatbuffer
reads are in flatbuffer.py, the schema's enums in tflite_schema.py.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from flatbuffers import number_types as nt

from pisight.device.model.flatbuffer import CorruptError, FlatbufferReader, Table
from pisight.device.model.tflite_schema import (
    BUILTIN_OPS,
    CUSTOM,
    IDENTIFIER,
    SCHEMA_VERSION,
    TENSOR_TYPES,
)

# Root offset + identifier + the smallest table and vtable: nothing shorter can be a model.
_MIN_SIZE = 16
_FLOAT_TYPES = frozenset({"float32", "float16"})
_DEFAULT_ALLOW = frozenset({"TFLite_Detection_PostProcess", "DEQUANTIZE", "QUANTIZE"})


class ModelFileError(ValueError):
    """The file is not a TFLite model this reader (or an interpreter) should trust."""


@dataclass(frozen=True)
class OpInfo:
    name: str  # builtin name, or the custom code for custom ops
    version: int
    custom: bool
    count: int  # operators using it, over all subgraphs


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # "float32", "int8", ...; "type42" for codes newer than this table
    shape: tuple[int, ...]
    has_data: bool  # a constant: its buffer holds bytes
    is_variable: bool


@dataclass(frozen=True)
class OperatorInfo:
    op: str
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class ModelFile:
    path: Path | None
    size: int
    schema_version: int
    description: str
    ops: tuple[OpInfo, ...]  # unique (name, version), sorted by name
    operators: tuple[OperatorInfo, ...]  # subgraph 0, in execution order
    tensors: tuple[TensorInfo, ...]  # subgraph 0
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraphs: int
    metadata: dict[str, bytes]
    signature_outputs: dict[str, int]  # first signature: output name -> tensor index

    @property
    def min_runtime_version(self) -> str | None:
        raw = self.metadata.get("min_runtime_version")
        return None if raw is None else raw.rstrip(b"\x00").decode("ascii", "replace")

    def float_ops(self, allow: set[str] | frozenset[str] = _DEFAULT_ALLOW) -> list[str]:
        """Ops computing in float (first input or output float), as "CONV_2D x3"."""
        counts: Counter[str] = Counter()
        for operator in self.operators:
            ends = [i for i in operator.inputs[:1] + operator.outputs[:1] if i >= 0]
            if operator.op not in allow and any(
                self.tensors[i].dtype in _FLOAT_TYPES for i in ends
            ):
                counts[operator.op] += 1
        return [f"{name} x{n}" for name, n in sorted(counts.items())]


_Code = tuple[str, int, bool]  # an operator code: name, version, custom
_Span = tuple[int, int]  # where a buffer's bytes lie in the file: start, length


class _Graph(NamedTuple):
    tensors: tuple[TensorInfo, ...]
    operators: tuple[OperatorInfo, ...]
    opcode_indices: tuple[int, ...]  # into Model.operator_codes, one per operator
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _opcodes(model: Table) -> list[_Code]:
    """(name, version, custom) per operator code."""
    codes = []
    for code in model.tables(1):
        # Codes past 127 do not fit the old int8 field, which then holds 127.
        builtin = max(code.scalar(0, nt.Int8Flags), code.scalar(3, nt.Int32Flags))
        version = code.scalar(2, nt.Int32Flags, default=1)
        if builtin == CUSTOM:
            codes.append((code.string(1) or "CUSTOM", version, True))
        else:
            known = 0 <= builtin < len(BUILTIN_OPS)
            codes.append((BUILTIN_OPS[builtin] if known else f"BUILTIN_{builtin}", version, False))
    return codes


def _buffers(reader: FlatbufferReader, model: Table) -> list[_Span]:
    """(start, length) in the file of each buffer's bytes; (0, 0) when empty."""
    spans = []
    for i, buffer in enumerate(model.tables(4)):
        start, length = buffer.span(0, 1)
        if not length:
            # Models over 2 GB keep buffers after the flatbuffer, addressed from file start.
            start, length = buffer.scalar(1, nt.Uint64Flags), buffer.scalar(2, nt.Uint64Flags)
            if start + length > reader.size:
                raise CorruptError(f"buffer {i} lies outside the file")
        spans.append((start, length))
    return spans


def _check(what: str, indices: tuple[int, ...], limit: int, optional: bool = False) -> None:
    low = -1 if optional else 0
    bad = [i for i in indices if not low <= i < limit]
    if bad:
        raise CorruptError(f"{what} refers to tensor {bad[0]} of {limit}")


def _tensors(graph: Table, spans: list[_Span]) -> tuple[TensorInfo, ...]:
    tensors = []
    for tensor in graph.tables(0):
        buffer = tensor.scalar(2, nt.Uint32Flags)
        if buffer >= len(spans):
            raise CorruptError(f"tensor {len(tensors)} uses buffer {buffer} of {len(spans)}")
        dtype = tensor.scalar(1, nt.Int8Flags)
        known = 0 <= dtype < len(TENSOR_TYPES)
        tensors.append(
            TensorInfo(
                name=tensor.string(3),
                dtype=TENSOR_TYPES[dtype] if known else f"type{dtype}",
                shape=tensor.ints(0),
                has_data=spans[buffer][1] > 0,
                is_variable=bool(tensor.scalar(5, nt.BoolFlags)),
            )
        )
    return tuple(tensors)


def _subgraph(graph: Table, codes: list[_Code], spans: list[_Span]) -> _Graph:
    tensors = _tensors(graph, spans)
    inputs, outputs = graph.ints(1), graph.ints(2)
    _check("a subgraph input", inputs, len(tensors))
    _check("a subgraph output", outputs, len(tensors))
    operators, opcode_indices = [], []
    for i, op in enumerate(graph.tables(3)):
        index = op.scalar(0, nt.Uint32Flags)
        if index >= len(codes):
            raise CorruptError(f"operator {i} uses opcode {index} of {len(codes)}")
        operator = OperatorInfo(codes[index][0], op.ints(1), op.ints(2))
        _check(f"operator {i}", operator.inputs + operator.outputs, len(tensors), optional=True)
        operators.append(operator)
        opcode_indices.append(index)
    return _Graph(tensors, tuple(operators), tuple(opcode_indices), inputs, outputs)


def _signature_outputs(model: Table, tensor_counts: list[int]) -> dict[str, int]:
    signatures = model.tables(7)
    if not signatures:
        return {}
    graph = signatures[0].scalar(4, nt.Uint32Flags)
    if graph >= len(tensor_counts):
        raise CorruptError(f"the signature names subgraph {graph} of {len(tensor_counts)}")
    outputs = {}
    for entry in signatures[0].tables(1):
        outputs[entry.string(0)] = index = entry.scalar(1, nt.Uint32Flags)
        _check("the signature", (index,), tensor_counts[graph])
    return outputs


def _metadata(reader: FlatbufferReader, model: Table, spans: list[_Span]) -> dict[str, bytes]:
    metadata = {}
    for entry in model.tables(6):
        buffer = entry.scalar(1, nt.Uint32Flags)
        if buffer >= len(spans):
            raise CorruptError(f"metadata uses buffer {buffer} of {len(spans)}")
        start, length = spans[buffer]
        reader.charge(length)
        metadata[entry.string(0)] = reader.data[start : start + length]
    return metadata


def _parse(data: bytes, path: Path | None) -> ModelFile:
    reader = FlatbufferReader(data)
    model = reader.table(reader.get(nt.UOffsetTFlags, 0))
    codes, spans = _opcodes(model), _buffers(reader, model)
    graphs = [_subgraph(graph, codes, spans) for graph in model.tables(2)]
    if not graphs:
        raise CorruptError("it has no subgraphs")
    uses = Counter(index for graph in graphs for index in graph.opcode_indices)
    merged: Counter[_Code] = Counter()
    for index, code in enumerate(codes):
        merged[code] += uses[index]  # two codes may share a (name, version)
    main = graphs[0]
    return ModelFile(
        path=path,
        size=len(data),
        schema_version=model.scalar(0, nt.Uint32Flags),
        description=model.string(3),
        ops=tuple(OpInfo(*code, count=n) for code, n in sorted(merged.items())),
        operators=main.operators,
        tensors=main.tensors,
        inputs=main.inputs,
        outputs=main.outputs,
        subgraphs=len(graphs),
        metadata=_metadata(reader, model, spans),
        signature_outputs=_signature_outputs(model, [len(g.tensors) for g in graphs]),
    )


def _load(source: str | Path, max_size: int) -> bytes:
    """The file's bytes, refusing non-regular and oversized files before reading."""
    label = str(source)
    try:
        # O_NONBLOCK: opening a FIFO must not hang waiting for a writer.
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
        try:
            info = os.fstat(fd)  # the opened file, not whatever the name points at later
            if not stat.S_ISREG(info.st_mode):
                raise ModelFileError(f"{label} is not a regular file")
            if info.st_size > max_size:
                raise ModelFileError(f"{label} is {info.st_size} bytes, over {max_size}")
            with os.fdopen(fd, "rb", closefd=False) as file:
                data = file.read(max_size + 1)
        finally:
            os.close(fd)
    except OSError as error:
        raise ModelFileError(f"{label} cannot be read: {error.strerror}") from None
    if len(data) > max_size:  # grew while we read it
        raise ModelFileError(f"{label} is over {max_size} bytes")
    return data


def read_model_file(path_or_bytes: str | Path | bytes, max_size: int = 512 * 2**20) -> ModelFile:
    """Parse and validate a TFLite model; raise ModelFileError on anything malformed."""
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        path, label, data = None, "the in-memory model", bytes(path_or_bytes)
        if len(data) > max_size:
            raise ModelFileError(f"{label} is {len(data)} bytes, over {max_size}")
    else:
        path, label = Path(path_or_bytes), str(path_or_bytes)
        data = _load(path, max_size)
    if len(data) < _MIN_SIZE:
        raise ModelFileError(f"{label} is {len(data)} bytes: too small to be a TFLite model")
    if data[4:8] != IDENTIFIER:
        raise ModelFileError(
            f"{label} has identifier {data[4:8]!r}, not {IDENTIFIER!r}: not a TFLite flatbuffer"
        )
    try:
        model = _parse(data, path)
    except CorruptError as error:
        raise ModelFileError(f"{label} is truncated or corrupt: {error}") from None
    if model.schema_version != SCHEMA_VERSION:
        raise ModelFileError(
            f"{label} has schema version {model.schema_version}; only {SCHEMA_VERSION} is known"
        )
    return model
