"""Finding a model's files: a bundle directory or a bare .tflite (+ labels).

    files = locate_model("models/demo/bundle")  # ModelFiles(model, labels, metadata)

A bundle is model.tflite + labels.txt + pisight.json (DESIGN.md). A bare .tflite
has no metadata: the runtime then infers everything from the tensors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_FILE = "model.tflite"
LABELS_FILE = "labels.txt"
METADATA_FILE = "pisight.json"


class BundleError(ValueError):
    """The model path is missing or is not a usable bundle."""


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    labels: Path | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.model.parent.name or self.model.stem)


def locate_model(path: str | Path, labels: str | Path | None = None) -> ModelFiles:
    """Resolve a bundle dir or .tflite path; an explicit labels path wins."""
    path = Path(path)
    if labels is not None and not Path(labels).is_file():
        raise BundleError(f"no such label file: {labels}")
    if path.is_dir():
        model = path / MODEL_FILE
        if not model.is_file():
            raise BundleError(f"{path} has no {MODEL_FILE}: give a bundle directory or a .tflite")
        metadata = read_metadata(path / METADATA_FILE)
        bundle_labels = path / LABELS_FILE
        found_labels = (
            Path(labels) if labels else (bundle_labels if bundle_labels.is_file() else None)
        )
        return ModelFiles(model, found_labels, metadata)
    if not path.exists():
        raise BundleError(f"no such model: {path} (give a bundle directory or a .tflite file)")
    return ModelFiles(path, Path(labels) if labels else None, {})


def read_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}); rebuild the bundle") from exc
    if not isinstance(metadata, dict):
        raise BundleError(f"{path} must hold a JSON object; rebuild the bundle")
    return metadata
