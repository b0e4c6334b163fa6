"""The bundle report's account of how its model was made."""

from __future__ import annotations

from pisight.convert.report.packaging import _provenance_lines

TRAINING = {
    "command": "pisight train --data synth/train --seed 0", "seed": 0,
    "data": "synth/train", "images": 1500, "val_data": "synth/val", "val_images": 300,
    "epochs": 60, "best_val_map50": 0.91234, "seconds": 2712, "cpus": 2,
    "finished": "2026-11-22T16:40:00+00:00", "tensorflow": "2.21.0",
}  # fmt: skip


def test_a_trained_model_names_its_training_run_and_its_conversion() -> None:
    lines = _provenance_lines(
        {"training": TRAINING, "convert_command": "pisight convert demo.keras --out b"}
    )
    text = "\n".join(lines)
    assert "- trained: `pisight train --data synth/train --seed 0`" in text
    assert "seed 0; 1500 images from synth/train, validated on 300 from synth/val" in text
    assert "60 epochs in 2,712 s on 2 CPUs" in text and "mAP@0.5 0.9123" in text
    assert text.endswith("- converted: `pisight convert demo.keras --out b`")


def test_a_model_of_unknown_origin_gets_no_section() -> None:
    assert _provenance_lines({"training": {}, "convert_command": ""}) == []
    assert _provenance_lines(None) == []
