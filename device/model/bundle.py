"""The bundle on disk: finding its files, checking its sha256s, writing a minimal one.

    files = locate_model("models/demo/bundle")  # ModelFiles(model, labels, metadata)
    checksums = check_bundle(Path("out/bundle"))  # name -> sha256; raises when one is off
    write_model_dir(Path("tmp/m"), model_bytes, ("cat",), {"input": {"mean": 0, "std": 1}})

A bundle is model.tflite + labels.txt + pisight.json, which lists the sha256 of every
other file (docs/ARCHITECTURE.md, "The bundle"). A bare .tflite has no metadata: the
runtime then infers everything from the tensors. This is the one module that reads,
checksums and verifies bundles: `pisight deploy`, the converter's atomic writer
(convert/report/bundle_writer.py) and the tests all use it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pisight.device.model.labels import label_file

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
    """Resolve a bundle dir or .tflite path; explicit labels (a file or a shipped list's
    name, such as coco) win."""
    path = Path(path)
    if labels is not None:
        try:
            labels = label_file(labels)
        except ValueError as exc:
            raise BundleError(str(exc)) from None
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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_bundle(directory: Path) -> list[str]:
    """Files whose sha256 differs from pisight.json (empty when the bundle is intact)."""
    metadata = read_metadata(directory / METADATA_FILE)
    return [
        name
        for name, digest in metadata.get("files", {}).items()
        if not (directory / name).is_file() or sha256_file(directory / name) != digest
    ]


def check_bundle(directory: Path) -> dict[str, str]:
    """name -> sha256 of every file to ship (pisight.json included); raises on a bad bundle."""
    manifest = directory / METADATA_FILE
    if not manifest.is_file():
        raise BundleError(f"{directory} has no {METADATA_FILE}; build it with `pisight convert`")
    files = read_metadata(manifest).get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{manifest} lists no file checksums; rebuild it with `pisight convert`")
    for name in files:
        if Path(name).name != name or not (directory / name).is_file():
            raise BundleError(f"{directory}: {name!r} from {METADATA_FILE} is missing; rebuild it")
    for name in verify_bundle(directory):
        raise BundleError(f"{directory}/{name} does not match its sha256; rebuild the bundle")
    return {**files, METADATA_FILE: sha256_file(manifest)}


def pixel_input(mean: float, std: float) -> dict[str, Any]:
    """pisight.json's preprocessing for a float model: (pixel - mean) / std."""
    return {"input": {"mean": mean, "std": std}}


def write_model_dir(
    directory: Path,
    model: bytes,
    labels: tuple[str, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> Path:
    """A minimal bundle (no checksums, not atomic) for a model under test or evaluation.

    The converter's verifier and evaluator write one so that the device Detector
    preprocesses exactly as on the Pi; tests write them for the same reason. Bundles
    that ship are written by convert/report/bundle_writer.py.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MODEL_FILE).write_bytes(model)
    if labels:
        (directory / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")
    (directory / METADATA_FILE).write_text(json.dumps(metadata or {}), encoding="utf-8")
    return directory
