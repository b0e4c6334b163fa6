"""The data.yaml `names:` parser of the YOLO reader: flow lists, block lists, index maps."""

from __future__ import annotations

import pytest

from pisight.convert.data.yolo import parse_yaml_names


@pytest.mark.parametrize(
    "text",
    [
        "nc: 3\nnames: [cat, 'hot dog', \"bird\"]  # three\n",
        "names: [cat,\n  hot dog,\n  bird]\nnc: 3\n",
        "names:\n  - cat\n  - 'hot dog'\n  - bird\nnc: 3\n",
        "names:\n- cat\n- hot dog\n- bird\n",
        'path: ../x\nnames:\n  0: cat\n  1: hot dog\n  2: "bird"\ntrain: images\n',
        "names: {0: cat, 1: 'hot dog', 2: bird}\n",
    ],
)
def test_yaml_names_forms(text: str) -> None:
    assert parse_yaml_names(text) == ["cat", "hot dog", "bird"]


def test_yaml_without_names() -> None:
    assert parse_yaml_names("nc: 2\ntrain: images\n") is None
