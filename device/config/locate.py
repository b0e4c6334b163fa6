"""Line numbers of the tables and keys in a TOML text, for error messages.

    lines = KeyLines(text)
    lines.line("model", "threshold")          # 7: where `threshold = ...` sits under [model]
    lines.line("zones", "points", index=1)    # in the second [[zones]] entry
    lines.line("zones", index=1)              # its [[zones]] header

tomllib returns values without positions, so this scans the text itself: it follows the
current [table] or [[array]] header (counting array entries) and notes the first line of
each `key =`, skipping the continuation lines of multi-line arrays and inline tables.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"""^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*[.=]""")
_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


def _depth_change(text: str) -> int:
    # Brackets inside strings or after a comment do not open anything.
    code = _STRING.sub('""', text).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


class KeyLines:
    def __init__(self, text: str) -> None:
        self.headers: dict[tuple[str, int | None], int] = {}
        self.keys: dict[tuple[str, int | None, str], int] = {}
        section, index, depth = "", None, 0
        entries: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if depth > 0:  # inside a value that spans lines
                depth = max(0, depth + _depth_change(line))
                continue
            header = _HEADER.match(line)
            if header:
                section = header.group(2).strip().strip("\"'")
                if header.group(1) == "[[":
                    index = entries.get(section, 0)
                    entries[section] = index + 1
                else:
                    index = None
                self.headers.setdefault((section, index), number)
                continue
            key = _KEY.match(line)
            if key:
                name = key.group(1) or key.group(2) or key.group(3)
                self.keys.setdefault((section, index, name), number)
                depth = max(0, _depth_change(line.split("=", 1)[-1]))

    def line(self, section: str, key: str | None = None, index: int | None = None) -> int | None:
        """The key's line, else its table's header, else a dotted `section.key` at the top."""
        if key is not None and (section, index, key) in self.keys:
            return self.keys[(section, index, key)]
        if section and (section, index) in self.headers:
            return self.headers[(section, index)]
        return self.keys.get(("", None, section))
