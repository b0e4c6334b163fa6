"""The detector: one interpreter, built once, turning frames into Detections.

    detector = Detector.load(DetectorOptions(model="models/demo/bundle", threads=2))
    detections = detector.detect(frame.image)

`detect` is `prepare` -> `infer` -> `decode`. The pipeline runs each in its own thread,
so resizing and decoding overlap the next invoke and the inference thread does nothing
but feed the interpreter. `infer` times set_tensor + invoke, the span `pisight bench`
measures. The detector never draws.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pisight.device.model.bundle import ModelFiles, locate_model
from pisight.device.model.decode import decode_classifier, decode_ssd, dequantize
from pisight.device.model.detections import Detections
from pisight.device.model.labels import Labels, load_labels, numbered_labels
from pisight.device.model.preprocess import apply_lookup_table, frame_to_model_pixels
from pisight.device.model.runtime import make_interpreter
from pisight.device.model.spec import ModelSpec, inspect_model

log = logging.getLogger("pisight.detector")


@dataclass(frozen=True)
class DetectorOptions:
    model: str | Path
    """Bundle directory or .tflite file."""
    labels: str | Path | None = None
    """Label file; a bundle's labels.txt is used when omitted."""
    runtime: str | None = None
    """litert, tflite-runtime or tensorflow; None picks the first importable."""
    threads: int | None = None
    """Interpreter threads; None lets the runtime decide."""
    score_threshold: float | None = None
    """Minimum score; None means 0.5 for detectors and 0 for classifiers."""
    max_detections: int = 100
    """Keep at most this many detections (best first)."""
    classes: tuple[str, ...] = ()
    """Keep only these label names; empty keeps all."""
    top_k: int = 3
    """Classifiers report their top-k classes."""
    input_range: tuple[float, float] = (-1.0, 1.0)
    """Float models without pisight.json: the range pixels are scaled to."""


@dataclass(frozen=True)
class RawOutputs:
    """Output tensors by role, copied out of the interpreter, and how long invoke took."""

    tensors: dict[str, np.ndarray]
    inference_ms: float


class Detector:
    def __init__(
        self,
        interpreter: Any,
        runtime: str,
        spec: ModelSpec,
        labels: Labels,
        options: DetectorOptions,
    ) -> None:
        self.interpreter = interpreter
        self.runtime = runtime
        self.spec = spec
        self.labels = labels
        self.options = options
        default_threshold = 0.5 if spec.task == "detection" else 0.0
        self.score_threshold = (
            default_threshold if options.score_threshold is None else options.score_threshold
        )
        self._warned_unknown_class = False

    @classmethod
    def load(cls, options: DetectorOptions) -> Detector:
        files = locate_model(options.model, options.labels)
        interpreter, runtime = make_interpreter(files.model, options.runtime, options.threads)
        spec = inspect_model(interpreter, files.metadata, options.input_range)
        labels = _labels_for(files, spec)
        log.info(
            "model %s: %s, input %dx%d %s, outputs by %s, runtime %s",
            files.model, spec.task, spec.input.width, spec.input.height,
            spec.input.dtype, spec.outputs.found_by, runtime,
        )  # fmt: skip
        return cls(interpreter, runtime, spec, labels, options)

    @property
    def task(self) -> str:
        return self.spec.task

    def detect(self, image_bgr: np.ndarray) -> Detections:
        height, width = image_bgr.shape[:2]
        return self.decode(self.infer(self.prepare(image_bgr)), width, height)

    def prepare(self, image_bgr: np.ndarray) -> np.ndarray:
        """A BGR frame -> the (1, h, w, 3) input tensor."""
        spec = self.spec.input
        pixels = frame_to_model_pixels(image_bgr, spec.width, spec.height)
        return apply_lookup_table(pixels, spec.lookup_table)[np.newaxis]

    def infer(self, tensor: np.ndarray) -> RawOutputs:
        """Run the interpreter; the outputs are copies, safe to decode in another thread."""
        start = time.perf_counter()
        self.interpreter.set_tensor(self.spec.input.index, tensor)
        self.interpreter.invoke()
        inference_ms = (time.perf_counter() - start) * 1000.0
        tensors = {
            role: self.interpreter.get_tensor(i) for role, i in self.spec.outputs.roles.items()
        }
        return RawOutputs(tensors, inference_ms)

    def warm_up(self, invokes: int = 2) -> None:
        """Invoke on a blank frame: the first invokes pack weights and allocate, so a
        detector loaded into a running pipeline does not stall it with them."""
        spec = self.spec.input
        blank = np.zeros((spec.height, spec.width, 3), np.uint8)
        tensor = self.prepare(blank)
        for _ in range(invokes):
            self.infer(tensor)

    def decode(self, raw: RawOutputs, frame_width: int, frame_height: int) -> Detections:
        """Raw outputs -> Detections in pixels of the original frame."""
        layout, options = self.spec.outputs, self.options
        values = {}
        for role, tensor in raw.tensors.items():
            scale, zero_point = layout.quantization.get(layout.roles[role], (0.0, 0))
            values[role] = dequantize(tensor, scale, zero_point)
        if self.spec.task == "classification":
            return decode_classifier(
                values["logits"], self.labels, options.top_k, self.score_threshold
            )
        detections = decode_ssd(
            values, frame_width, frame_height, self.labels, self.score_threshold
        )
        self._warn_on_unknown_classes(detections)
        if options.classes:
            detections = detections.with_labels(options.classes)
        return detections.top(options.max_detections)

    def _warn_on_unknown_classes(self, detections: Detections) -> None:
        if self._warned_unknown_class or not len(detections) or not self.labels.names:
            return
        highest = int(detections.class_ids.max())
        if highest >= self.labels.count:
            self._warned_unknown_class = True
            log.warning(
                "the model predicted class %d but the label file names only %d classes; "
                "check --labels", highest, self.labels.count,
            )  # fmt: skip


def _labels_for(files: ModelFiles, spec: ModelSpec) -> Labels:
    offset = files.metadata.get("label_offset")
    if files.labels is None:
        return numbered_labels(spec.outputs.class_count or 0)
    labels = load_labels(files.labels, offset)
    expected = spec.outputs.class_count
    if expected is not None and expected not in (labels.count, labels.count + 1):
        log.warning(
            "the model has %d classes but %s names %d", expected, files.labels, labels.count
        )
    return labels
