"""The converter's inputs, each turned into a SavedModel plus what the bundle must know.

    source = load_model_input("demo.keras", workdir)                 # our SSD (+ .json sidecar)
    source = load_model_input("exported/saved_model", workdir, input_range=(-1, 1))
    source = load_model_input("keras:mobilenet_v2", workdir, weights="none")

Our detectors and the keras:mobilenet_v2 wrapper take raw RGB pixels 0..255 and
normalise inside the graph (mean 0, std 1), so a quantized model's int8 input is the
camera pixel - 128 (with --io uint8, the pixel itself). Foreign SavedModels (e.g. TF
Object Detection API TFLite-ready exports) expect normalised input; --input-range says
which, and the bundle records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pisight.convert.ssd.export import export_saved_model
from pisight.convert.ssd.model import load_detector
from pisight.convert.tf import keras, tf
from pisight.device.model.bundle import pixel_input, write_model_dir

KERAS_APPLICATIONS = {"keras:mobilenet_v2": 224}


class ModelInputError(ValueError):
    """The model argument is not something the converter can read."""


@dataclass(frozen=True)
class ModelInput:
    saved_model: Path
    task: str
    """"detection" or "classification"."""
    height: int
    width: int
    labels: tuple[str, ...]
    mean: float
    std: float
    description: str
    keras_model: Any = field(default=None, compare=False, repr=False)
    """The Keras model when there is one (pruning and QAT need it)."""
    ssd_config: Any = field(default=None, compare=False, repr=False)
    quantize_from: Path | None = None
    """A quantization-aware-trained SavedModel to quantize instead of saved_model."""

    @property
    def bundle_labels(self) -> tuple[str, ...]:
        """The labels a bundle of this model lists (a bundle always lists at least one)."""
        return self.labels or ("object",)

    def model_dir(self, directory: Path, model: bytes) -> Path:
        """`model` as a minimal bundle the device Detector preprocesses as this source."""
        return write_model_dir(
            directory, model, self.bundle_labels, pixel_input(self.mean, self.std)
        )


def load_model_input(
    spec: str,
    workdir: Path,
    input_range: tuple[float, float] = (-1.0, 1.0),
    weights: str = "none",
    labels: tuple[str, ...] = (),
) -> ModelInput:
    if spec in KERAS_APPLICATIONS:
        return _keras_application(spec, workdir, weights, labels)
    path = Path(spec)
    if not path.exists():
        raise ModelInputError(
            f"no such model: {spec} (give a .keras/.h5 detector, a SavedModel directory or "
            f"one of: {', '.join(KERAS_APPLICATIONS)})"
        )
    if path.suffix in (".keras", ".h5"):
        return _our_detector(path, workdir)
    if (path / "saved_model.pb").is_file():
        return _foreign_saved_model(path, input_range, labels)
    raise ModelInputError(f"{spec} is neither a .keras/.h5 file nor a SavedModel directory")


def _our_detector(path: Path, workdir: Path) -> ModelInput:
    try:
        model, config = load_detector(path)
    except (OSError, ValueError) as exc:
        raise ModelInputError(f"cannot load {path}: {str(exc).splitlines()[0]}") from exc
    saved = export_saved_model(model, config, workdir / "saved_model")
    names = config.labels or tuple(f"class {i}" for i in range(config.num_classes))
    size = config.input_size
    description = (
        f"SSD-MobileNetV2 alpha {config.alpha} {size}x{size}, "
        f"{config.num_classes} classes ({path.name})"
    )
    return ModelInput(saved, "detection", size, size, names, 0.0, 1.0, description, model, config)


def _foreign_saved_model(
    path: Path, input_range: tuple[float, float], labels: tuple[str, ...]
) -> ModelInput:
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ModelInputError(f"{path} has no serving_default signature")
    inputs = list(signature.structured_input_signature[1].values())
    if len(inputs) != 1 or inputs[0].shape.rank != 4 or inputs[0].shape[-1] != 3:
        shapes = [str(spec.shape) for spec in inputs]
        raise ModelInputError(
            f"{path} takes {shapes}; the converter needs one (1, height, width, 3) image input"
        )
    height, width = int(inputs[0].shape[1] or 300), int(inputs[0].shape[2] or 300)
    outputs = signature.structured_outputs
    task = "detection" if len(outputs) == 4 else "classification"
    low, high = input_range
    mean, std = -low * 255.0 / (high - low), 255.0 / (high - low)
    names = labels or ()
    description = (
        f"SavedModel {path.name} ({task}, {height}x{width}, input range {low:g}..{high:g})"
    )
    return ModelInput(path, task, height, width, names, mean, std, description)


def _keras_application(
    spec: str, workdir: Path, weights: str, labels: tuple[str, ...]
) -> ModelInput:
    size = KERAS_APPLICATIONS[spec]
    if weights not in ("none", "imagenet"):
        raise ModelInputError("--weights takes none or imagenet for keras:mobilenet_v2")
    try:
        base = keras.applications.MobileNetV2(
            input_shape=(size, size, 3), weights=None if weights == "none" else weights
        )
    except Exception as exc:  # the download raises URLError, HTTPError or OSError
        raise ModelInputError(
            "cannot download the ImageNet MobileNetV2 weights (offline?): use --weights none"
        ) from exc
    pixels = keras.Input((size, size, 3), name="image")
    probabilities = base(keras.layers.Rescaling(1 / 127.5, offset=-1.0)(pixels))
    model = keras.Model(pixels, probabilities, name="mobilenet_v2_classifier")
    saved = workdir / "saved_model"
    tf.saved_model.save(model, str(saved))
    names = labels or tuple(f"class {i}" for i in range(1000))
    return ModelInput(
        saved, "classification", size, size, names, 0.0, 1.0,
        f"Keras MobileNetV2 ImageNet classifier (weights {weights})", model,
    )  # fmt: skip
