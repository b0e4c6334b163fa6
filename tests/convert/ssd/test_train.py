"""Training: anchor targets, the input pipeline, the loss, a tiny real run."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.convert.data.datasets import load_dataset
from pisight.convert.ssd.anchors import AnchorConfig, generate_anchors
from pisight.convert.ssd.losses import distillation_loss
from pisight.convert.ssd.model import (
    SSDConfig,
    build_ssd,
    feature_map_sizes,
    load_detector,
    model_anchors,
)
from pisight.convert.ssd.optimization import train_step
from pisight.convert.ssd.train import OFFLINE_MESSAGE, TrainOptions, _optimizer, build_model, train
from pisight.convert.ssd.train_data import (
    IGNORED,
    anchor_corners,
    match_anchors,
    random_crop,
    training_batches,
)
from pisight.convert.tf import tf
from pisight.device.model.detections import box_iou
from pisight.device.model.preprocess import frame_to_model_pixels

ANCHORS = generate_anchors(AnchorConfig(), [(4, 4), (2, 2), (1, 1)])


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pisight.convert.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("shapes")
    generate_dataset(root, images=24, seed=3)
    return root


@pytest.mark.parametrize(
    ("stride", "maps"),
    [(16, [(6, 6), (3, 3), (2, 2), (1, 1)]), (8, [(12, 12), (6, 6), (3, 3), (2, 2), (1, 1)])],
)
def test_the_finest_stride_picks_the_backbone_taps(stride: int, maps: list) -> None:
    config = SSDConfig(num_classes=2, input_size=96, alpha=0.35, finest_stride=stride)
    model = build_ssd(config)
    assert feature_map_sizes(model) == maps
    assert len(model_anchors(model, config)) == model.outputs[0].shape[1]


def test_an_unknown_finest_stride_is_refused() -> None:
    with pytest.raises(ValueError, match="finest stride 4"):
        build_ssd(SSDConfig(num_classes=2, input_size=96, alpha=0.35, finest_stride=4))


def test_distillation_pulls_the_scores_towards_the_teacher() -> None:
    rng = np.random.default_rng(0)
    teacher = tf.constant(rng.normal(0, 3, (2, 50, 4)), tf.float32)
    targets = tf.constant(rng.integers(-1, 4, (2, 50)), tf.int32)

    def loss(student: tf.Tensor) -> float:
        return float(distillation_loss(targets, student, teacher))

    assert loss(teacher) == pytest.approx(0.0, abs=1e-6)  # agreeing costs nothing
    near, far = loss(teacher + 0.2), loss(teacher + 2.0)
    assert 0.0 < near < far
    background_only = tf.concat([teacher[..., :1] + 5.0, teacher[..., 1:]], axis=-1)
    assert loss(background_only) == pytest.approx(0.0, abs=1e-6)  # column 0 is never read


def test_a_box_equal_to_an_anchor_is_positive_with_zero_target() -> None:
    anchor = 20
    box = anchor_corners(ANCHORS[anchor : anchor + 1])
    box_targets, class_targets = match_anchors(box, np.array([2]), ANCHORS)
    assert class_targets[anchor] == 3  # class k -> k + 1
    np.testing.assert_allclose(box_targets[anchor], 0.0, atol=1e-5)
    far = box_iou(anchor_corners(ANCHORS), box)[:, 0] == 0
    assert far.any() and (class_targets[far] == 0).all()
    assert (box_targets[class_targets <= 0] == 0).all()


def test_in_between_anchors_are_ignored_and_every_box_gets_an_anchor() -> None:
    tiny = np.array([[0.50, 0.50, 0.52, 0.53]], np.float32)  # no anchor reaches IoU 0.5
    _, class_targets = match_anchors(tiny, np.array([0]), ANCHORS)
    assert (class_targets == 1).sum() == 1
    box = np.array([[0.1, 0.1, 0.6, 0.6]], np.float32)
    iou = box_iou(anchor_corners(ANCHORS), box)[:, 0]
    _, class_targets = match_anchors(box, np.array([0]), ANCHORS)
    between = (iou >= 0.4) & (iou < 0.5) & (iou < iou.max())
    assert between.any() and (class_targets[between] == IGNORED).all()


def test_random_crop_keeps_boxes_whose_centre_stays_and_clips_them() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    boxes = np.array([[0, 0, 200, 100], [190, 90, 199, 99]], np.float32)
    rng = np.random.default_rng(0)
    crop, kept, classes = random_crop(image, boxes, np.array([0, 1]), rng, min_crop=0.5)
    h, w = crop.shape[:2]
    assert 0 in classes  # the whole-image box always has its centre inside
    assert (kept >= 0).all() and (kept[:, [0, 2]] <= w).all() and (kept[:, [1, 3]] <= h).all()


def test_unaugmented_input_is_the_device_preprocessing(shapes: Path) -> None:
    dataset = load_dataset(shapes)
    config = SSDConfig(num_classes=3, input_size=96, alpha=0.35)
    anchors = generate_anchors(config.anchors, [(6, 6), (3, 3), (2, 2), (1, 1)])
    batches = training_batches(dataset, anchors, 96, 24, seed=0, augmentation=None)
    pixels, _ = next(iter(batches))
    device = np.stack([
        frame_to_model_pixels(cv2.imread(str(s.image)), 96, 96) for s in dataset.samples
    ]).astype(np.float32)  # fmt: skip
    # The batch is shuffled: match each image to the device's own pixels exactly.
    for image in pixels.numpy():
        assert any(np.array_equal(image, d) for d in device)


def test_augmented_batches_repeat_with_the_seed(shapes: Path) -> None:
    dataset = load_dataset(shapes)
    anchors = ANCHORS

    def first_batch() -> np.ndarray:
        return next(iter(training_batches(dataset, anchors, 64, 8, seed=7)))[0].numpy()

    np.testing.assert_array_equal(first_batch(), first_batch())


@pytest.mark.slow
def test_loss_falls_on_a_fixed_batch(shapes: Path) -> None:
    tf.keras.utils.set_random_seed(0)
    dataset = load_dataset(shapes)
    config = SSDConfig(num_classes=3, input_size=96, alpha=0.35)
    model = build_model(config, "none")
    anchors = model_anchors(model, config)
    pixels, (boxes, classes) = next(
        iter(training_batches(dataset, anchors, 96, 8, seed=0, augmentation=None))
    )
    options = TrainOptions(data="", out="", learning_rate=3e-3, warmup_epochs=0, epochs=1)
    step = train_step(model, _optimizer(options, steps_per_epoch=40))
    losses = [float(step(pixels, boxes, classes)[0]) for _ in range(25)]
    assert np.isfinite(losses).all()
    assert min(losses[-5:]) < 0.5 * losses[0]


@pytest.mark.slow
def test_a_tiny_run_writes_a_loadable_detector(shapes: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    out = tmp_path / "model" / "tiny.keras"
    result = train(
        TrainOptions(
            data=shapes,
            out=out,
            input_size=96,
            alpha=0.35,
            epochs=2,
            batch_size=8,
            eval_every=1,
            val_fraction=0.25,
            command="pisight train --data shapes",
        )
    )
    assert time.monotonic() - start < 120
    assert result.model_path == out and result.epochs_run == 2
    assert result.best_map50 is not None and 0.0 <= result.best_map50 <= 1.0
    model, config = load_detector(out)
    assert config.labels == ("circle", "square", "triangle") and config.input_size == 96
    assert model.outputs[1].shape[-1] == 4
    record = config.training  # how it was made, for every bundle converted from it
    assert (record["command"], record["seed"], record["epochs"]) == (
        "pisight train --data shapes",
        0,
        2,
    )
    assert (record["images"], record["val_images"]) == (18, 6)
    assert record["best_val_map50"] == round(result.best_map50, 4)
    assert record["seconds"] == round(result.seconds)


def test_imagenet_weights_offline_give_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tf_keras.src.utils import data_utils

    def offline(*args: object, **kwargs: object) -> str:
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None")

    monkeypatch.setattr(data_utils, "get_file", offline)
    config = SSDConfig(num_classes=3, input_size=96, alpha=0.35)
    with pytest.raises(RuntimeError) as error:
        build_model(config, "imagenet")
    assert str(error.value) == OFFLINE_MESSAGE


def test_missing_backbone_weights_file_is_named(tmp_path: Path) -> None:
    config = SSDConfig(num_classes=3, input_size=96, alpha=0.35)
    with pytest.raises(FileNotFoundError, match="no backbone weights file"):
        build_model(config, str(tmp_path / "missing.h5"))


def test_cli_builds_the_options(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import argparse

    from pisight.convert.cli import train as cli_train
    from pisight.convert.ssd.train import TrainResult

    seen: list[TrainOptions] = []

    def fake_train(options: TrainOptions) -> TrainResult:
        seen.append(options)
        return TrainResult(0.5, 3, 1.0, Path(options.out))

    monkeypatch.setattr(cli_train, "train", fake_train)
    parser = argparse.ArgumentParser()
    cli_train.add_arguments(parser)
    args = parser.parse_args(
        ["--data", "d", "--out", "m.keras", "--input-size", "160", "--lr", "0.01",
         "--backbone-weights", "imagenet", "--anchor-scales", "0.1", "0.8",
         "--anchor-ratios", "1", "0.5", "--full-first-layer", "--crop", "0",
         "--finest-stride", "8"]
    )  # fmt: skip
    assert cli_train.main(args) == 0
    options = seen[0]
    assert (options.input_size, options.learning_rate, options.backbone_weights) == (
        160, 0.01, "imagenet"
    )  # fmt: skip
    assert options.anchors.aspect_ratios == (1.0, 0.5) and not options.anchors.reduce_first_layer
    assert options.augmentation is not None and options.augmentation.crop == 0.0
    assert options.finest_stride == 8
    assert "best_map50=0.500" in capsys.readouterr().out


def test_a_trained_detector_starts_one_of_another_input_size() -> None:
    from pisight.convert.ssd.train import copy_matching_weights

    source = build_ssd(SSDConfig(num_classes=3, input_size=96, alpha=0.35))
    target = build_ssd(SSDConfig(num_classes=3, input_size=64, alpha=0.35))
    copied, total = copy_matching_weights(source, target)
    assert copied == total > 100  # convolutions do not depend on the input size
    kernel = "block_3_expand"
    np.testing.assert_array_equal(
        target.get_layer(kernel).get_weights()[0], source.get_layer(kernel).get_weights()[0]
    )
    wider = build_ssd(SSDConfig(num_classes=3, input_size=64, alpha=0.5))
    assert copy_matching_weights(source, wider)[0] < total  # other widths: shapes differ
