"""Bounds-checked flatbuffer reads: tables, scalars, vectors and strings that cannot leave the file.

    reader = FlatbufferReader(data)
    root = reader.table(reader.get(nt.UOffsetTFlags, 0))
    root.scalar(0, nt.Uint32Flags), root.string(3), root.tables(2)   # fields by schema slot

Every offset and length is checked against the buffer and every element read is charged
to a work budget, so a hostile file raises CorruptError instead of reading out of
bounds or looping over aliased vectors.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from flatbuffers import encode
from flatbuffers import number_types as nt


class CorruptError(Exception):
    """An offset, length or index in the flatbuffer that cannot be right."""


class FlatbufferReader:
    """Bounds-checked reads over one flatbuffer, with a cap on the total work."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        # Vectors may alias: a small file could make us read the same large vector
        # once per table that points at it. Every element read or copied is charged here.
        self.budget = 4 * self.size + 2**16

    def charge(self, amount: int) -> None:
        self.budget -= amount
        if self.budget < 0:
            raise CorruptError("its tables point at the same data over and over")

    def get(self, flags: type, pos: int) -> int:
        if pos < 0 or pos + flags.bytewidth > self.size:
            raise CorruptError(f"offset {pos} is outside the {self.size}-byte file")
        return encode.Get(flags.packer_type, self.data, pos)

    def table(self, pos: int) -> Table:
        vtable = pos - self.get(nt.SOffsetTFlags, pos)
        vtable_len = self.get(nt.VOffsetTFlags, vtable)
        object_len = self.get(nt.VOffsetTFlags, vtable + 2)
        if vtable_len < 4 or vtable_len % 2 or vtable + vtable_len > self.size:
            raise CorruptError(f"table at offset {pos} has a malformed vtable")
        if object_len < 4 or pos + object_len > self.size:
            raise CorruptError(f"table at offset {pos} runs past the end of the file")
        self.charge(16)
        return Table(self, pos, vtable, vtable_len, object_len)


@dataclass(frozen=True)
class Table:
    """One flatbuffer table; `slot` is the field's position in schema.fbs."""

    reader: FlatbufferReader
    pos: int
    vtable: int
    vtable_len: int
    object_len: int

    def _field(self, slot: int) -> int:
        entry = 4 + 2 * slot
        if entry >= self.vtable_len:
            return 0  # written by an older schema: the field takes its default
        offset = self.reader.get(nt.VOffsetTFlags, self.vtable + entry)
        if offset >= self.object_len:
            raise CorruptError(f"field {slot} of the table at {self.pos} lies outside it")
        return self.pos + offset if offset else 0

    def scalar(self, slot: int, flags: type, default: int = 0) -> int:
        field = self._field(slot)
        return self.reader.get(flags, field) if field else default

    def span(self, slot: int, width: int) -> tuple[int, int]:
        """(start, count) of a vector field, checked to lie inside the file."""
        field = self._field(slot)
        if not field:
            return 0, 0
        start = field + self.reader.get(nt.UOffsetTFlags, field)
        count = self.reader.get(nt.UOffsetTFlags, start)
        if start + 4 + count * width > self.reader.size:
            raise CorruptError(f"vector at offset {start} claims {count} items, past the end")
        return start + 4, count

    def ints(self, slot: int) -> tuple[int, ...]:
        start, count = self.span(slot, 4)
        self.reader.charge(count)
        return struct.unpack_from(f"<{count}i", self.reader.data, start)

    def string(self, slot: int) -> str:
        start, count = self.span(slot, 1)
        self.reader.charge(count)
        return self.reader.data[start : start + count].decode("utf-8", "replace")

    def tables(self, slot: int) -> list[Table]:
        start, count = self.span(slot, 4)
        items = (start + 4 * i for i in range(count))
        return [self.reader.table(p + self.reader.get(nt.UOffsetTFlags, p)) for p in items]
