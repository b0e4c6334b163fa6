"""Smaller .tflite files: each repeated vector stored once.

    small = share_repeated_vectors(converter.convert())   # same graph, same outputs

The TFLite converter gives every per-channel quantized tensor its own float32 scale and
int64 zero-point vector, one entry per channel, and a bias tensor repeats its weights'
channel count. Weight zero points are all zero, so an alpha-0.35 SSD with 23,000 such
entries carries 180 KB of identical zero vectors, a sixth of its INT8 file. A flatbuffer
may point any number of tables at one vector, and the runtimes only ever follow
offsets, so the model is repacked with one copy of each distinct vector. Tensors,
operators, buffers' contents, signatures and metadata are unchanged.
"""

from __future__ import annotations

import flatbuffers
import numpy as np

# isort: off
# TensorFlow's environment (legacy Keras) must be set before anything imports it; then
# the .tflite schema of the very converter that wrote the file, so no field is dropped.
import pisight.convert.tf  # noqa: F401
from tensorflow.lite.python import schema_py_generated as schema
# isort: on

FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16  # schema.fbs: Buffer.data (force_align: 16), as the converter writes it


class _SharingBuilder(flatbuffers.Builder):
    """A Builder whose numpy vectors are written once per distinct content."""

    def __init__(self, initial_size: int) -> None:
        super().__init__(initial_size)
        self._written: dict[tuple[str, bytes], int] = {}

    def CreateNumpyVector(self, x: np.ndarray) -> int:  # noqa: N802 (flatbuffers' name)
        key = (x.dtype.str, x.tobytes())
        if key not in self._written:
            if x.dtype == np.uint8:  # raw tensor data: keep the schema's alignment
                self.Prep(BUFFER_ALIGNMENT, x.nbytes)
            self._written[key] = super().CreateNumpyVector(x)
        return self._written[key]


def share_repeated_vectors(model: bytes) -> bytes:
    """The same model with one copy of each repeated vector; unchanged if it cannot be."""
    unpacked = schema.ModelT.InitFromPackedBuf(model, 0)
    if any(buffer.offset > 1 for buffer in unpacked.buffers or []):
        return model  # tensor data appended after the flatbuffer (>2 GB models): leave it
    builder = _SharingBuilder(len(model))
    builder.Finish(unpacked.Pack(builder), file_identifier=FILE_IDENTIFIER)
    repacked = bytes(builder.Output())
    return repacked if len(repacked) < len(model) else model
