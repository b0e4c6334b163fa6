"""Edit a .tflite in place without TensorFlow: an op's version number, as a newer converter
writes it for an op that gained features after an older runtime was built.

    newer = with_op_version(model_bytes, "CONV_2D", 8)  # LiteRT 2.3 runs it, 2.14 does not
"""

from __future__ import annotations

import struct

from flatbuffers import number_types as nt

from pisight.device.model.flatbuffer import FlatbufferReader
from pisight.device.model.tflite_schema import BUILTIN_OPS

OPERATOR_CODES = 1  # Model.operator_codes in schema.fbs
BUILTIN_CODE, VERSION, WIDE_BUILTIN_CODE = 0, 2, 3  # OperatorCode's fields


def with_op_version(model: bytes, op: str, version: int) -> bytes:
    """The model with every operator code of `op` set to `version` (the field must be
    stored, i.e. not the default 1: it is overwritten in place, the layout unchanged)."""
    reader = FlatbufferReader(model)
    root = reader.table(reader.get(nt.UOffsetTFlags, 0))
    edited, found = bytearray(model), 0
    for code in root.tables(OPERATOR_CODES):
        builtin = max(code.scalar(BUILTIN_CODE, nt.Int8Flags),
                      code.scalar(WIDE_BUILTIN_CODE, nt.Int32Flags))  # fmt: skip
        if BUILTIN_OPS[builtin] != op:
            continue
        field = code._field(VERSION)  # the reader has no writer: patch the stored int32
        if not field:
            raise ValueError(f"{op}'s version is the default, not stored: cannot patch in place")
        struct.pack_into("<i", edited, field, version)
        found += 1
    if not found:
        raise ValueError(f"the model has no {op}")
    return bytes(edited)
