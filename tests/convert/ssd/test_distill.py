"""Distillation: the teacher's outputs on the student's anchors, the losses, a distilled student."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisight.convert.data.datasets import load_dataset
from pisight.convert.ssd.anchors import AnchorConfig, decode_boxes, encode_boxes, generate_anchors
from pisight.convert.ssd.distill import (
    DistillOptions,
    Teacher,
    decode_tf,
    encode_tf,
    nearest_anchors,
)
from pisight.convert.ssd.losses import box_distillation_loss, distillation_loss
from pisight.convert.ssd.model import SSDConfig, load_detector, model_anchors, save_detector
from pisight.convert.ssd.optimization import train_step
from pisight.convert.ssd.train import TrainOptions, _optimizer, build_model, train
from pisight.convert.ssd.train_data import training_batches
from pisight.convert.tf import tf
from tests.models import SSD_LABELS, live_random_ssd

SMALL = generate_anchors(AnchorConfig(), [(4, 4), (2, 2), (1, 1)])
LARGE = generate_anchors(AnchorConfig(), [(6, 6), (3, 3), (2, 2), (1, 1)])


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pisight.convert.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("shapes")
    generate_dataset(root, images=16, seed=5)
    return root


@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A live random SSD at 96 px saved as pisight train saves one: a teacher of its own.

    Its heads are scaled down, so it finds every anchor half likely to hold each class:
    far from what the labels teach, near enough for a few steps to move a student.
    """
    model, config = live_random_ssd(96)
    for layer in model.layers:
        if layer.name.endswith("_predict"):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel * 0.05, bias * 0])
    path = tmp_path_factory.mktemp("teacher") / "teacher.keras"
    save_detector(model, config, path)
    return path


def test_equal_anchors_map_onto_themselves_and_others_to_their_nearest() -> None:
    assert (nearest_anchors(SMALL, SMALL) == np.arange(len(SMALL))).all()
    found = nearest_anchors(SMALL, LARGE)
    # Same shape of anchor, the cell nearest to the same place.
    np.testing.assert_allclose(LARGE[found, 2:], SMALL[:, 2:], rtol=0.35)
    assert np.abs(LARGE[found, :2] - SMALL[:, :2]).max() < 0.15


def test_tensorflow_box_coding_matches_the_numpy_one() -> None:
    rng = np.random.default_rng(0)
    encoded = rng.normal(0, 1, (len(SMALL), 4)).astype(np.float32)
    boxes = decode_tf(tf.constant(encoded[None]), tf.constant(SMALL)).numpy()[0]
    np.testing.assert_allclose(boxes, decode_boxes(encoded, SMALL), atol=1e-5)
    again = encode_tf(tf.constant(boxes[None]), tf.constant(SMALL)).numpy()[0]
    np.testing.assert_allclose(again, encode_boxes(boxes, SMALL), atol=1e-4)


def test_the_temperature_and_the_box_term() -> None:
    rng = np.random.default_rng(1)
    teacher = tf.constant(rng.normal(0, 3, (2, 50, 4)), tf.float32)
    targets = tf.constant(rng.integers(-1, 4, (2, 50)), tf.int32)
    for temperature in (1.0, 2.0, 4.0):
        agree = distillation_loss(targets, teacher, teacher, temperature=temperature)
        assert float(agree) == pytest.approx(0.0, abs=1e-6)
        assert (
            float(distillation_loss(targets, teacher + 1.0, teacher, temperature=temperature)) > 0
        )
    boxes = tf.constant(rng.normal(0, 1, (2, 50, 4)), tf.float32)
    assert float(box_distillation_loss(targets, boxes, boxes, teacher)) == pytest.approx(0.0)
    unsure = tf.fill(teacher.shape, -20.0)  # the teacher sees nothing: its boxes weigh nothing
    assert float(box_distillation_loss(targets, boxes + 1, boxes, unsure)) < 1e-6
    assert float(box_distillation_loss(targets, boxes + 1, boxes, teacher)) > 0


def test_a_teacher_of_another_input_size_speaks_on_the_student_s_anchors(
    teacher_file: Path,
) -> None:
    config = SSDConfig(num_classes=3, input_size=64, alpha=0.5, labels=SSD_LABELS)
    student = build_model(config, "none")
    anchors = model_anchors(student, config)
    teacher = Teacher.load(teacher_file, config, anchors)
    assert teacher.index is not None and teacher.input_size == 96
    boxes, logits = teacher.targets(tf.zeros((2, 64, 64, 3)))
    assert boxes.shape == (2, len(anchors), 4) and logits.shape == (2, len(anchors), 4)
    record = teacher.record()
    assert record["model"] == str(teacher_file) and record["alpha"] == 0.35
    assert record["input_size"] == 96 and record["temperature"] == 2.0


def test_a_teacher_with_other_classes_is_refused(teacher_file: Path) -> None:
    config = SSDConfig(num_classes=2, input_size=96, alpha=0.35, labels=("cat", "dog"))
    with pytest.raises(ValueError, match="knows circle, square, triangle"):
        Teacher.load(teacher_file, config, SMALL)
    with pytest.raises(FileNotFoundError, match="no teacher model at"):
        Teacher.load(teacher_file.with_name("none.keras"), config, SMALL)
    with pytest.raises(ValueError, match="--temperature"):
        DistillOptions(temperature=0)


@pytest.mark.slow
def test_a_distilled_student_learns_what_its_teacher_says(shapes: Path, teacher_file: Path) -> None:
    """Same data, steps and seed, a student of another input size: with the teacher its
    class scores end closer to the teacher's than from the labels alone."""
    dataset = load_dataset(shapes)
    config = SSDConfig(num_classes=3, input_size=64, alpha=0.35, labels=dataset.labels)
    # A high rate: eight steps must move the class biases visibly.
    options = TrainOptions(data="", out="", learning_rate=3e-2, warmup_epochs=0, epochs=1)

    def gap_after_training(distil: bool) -> float:
        tf.keras.utils.set_random_seed(0)
        student = build_model(config, "none")
        anchors = model_anchors(student, config)
        teacher = Teacher.load(teacher_file, config, anchors)
        # Eight steps run eagerly (train_step): no graph tracing in a unit test.
        step = train_step(student, _optimizer(options, 40), teacher if distil else None, 8)
        batches = training_batches(dataset, anchors, 64, 16, seed=0, augmentation=None)
        pixels, (boxes, classes) = next(iter(batches))
        for _ in range(8):
            step(pixels, boxes, classes)
        _, logits = student(pixels, training=False)
        _, teacher_logits = teacher.targets(pixels)
        return float(distillation_loss(classes, logits, teacher_logits, temperature=2.0))

    with_teacher, alone = gap_after_training(distil=True), gap_after_training(distil=False)
    assert with_teacher < 0.92 * alone, (with_teacher, alone)


@pytest.mark.slow
def test_train_with_a_teacher_records_it(shapes: Path, teacher_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "student.keras"
    result = train(TrainOptions(
        data=shapes, out=out, input_size=64, alpha=0.35, epochs=1, batch_size=8, eval_every=1,
        teacher=teacher_file, distill=DistillOptions(temperature=3.0, box_weight=0.5),
    ))  # fmt: skip
    assert result.epochs_run == 1
    _, config = load_detector(out)
    teacher = config.training["teacher"]
    assert teacher["model"] == str(teacher_file) and teacher["input_size"] == 96
    assert (teacher["temperature"], teacher["box_weight"]) == (3.0, 0.5)


def test_train_refuses_a_missing_teacher_in_one_line(shapes: Path, tmp_path: Path) -> None:
    from tests.helpers import pisight_in_process

    out, teacher = tmp_path / "s.keras", tmp_path / "big.keras"
    done = pisight_in_process("train", "--data", str(shapes), "--out", str(out),
                              "--input-size", "64", "--teacher", str(teacher))  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"pisight: error: no teacher model at {tmp_path / 'big.keras'}: "
        "give a .keras from pisight train"
    )
