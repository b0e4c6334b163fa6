"""Runtime compatibility as data (convert/conversion/compatibility.py), end to end.

The seed tutorial's command converts Keras MobileNetV2 to a dynamic-range model whose
FULLY_CONNECTED is version 12, which LiteRT runs and tflite-runtime 2.14 lacks: it must
succeed by default and say so in pisight.json; `--target-runtime tflite-runtime` makes it
fatal with nothing written. The tflite-runtime check is the real one (the cached Python 3.11
environment of legacy_runtime.py); the tests skip where it cannot be built.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pisight.device.model.compatibility import runtime_version
from tests.helpers import pisight, pisight_in_process

TUTORIAL = ("convert", "keras:mobilenet_v2", "--weights", "none", "--mode", "dynamic")
CHECKED = {"PISIGHT_SKIP_LEGACY_RUNTIME": "0"}  # tests.helpers skips it unless told


def test_tflite_runtime_target_needs_its_check(tmp_path: Path) -> None:
    out = tmp_path / "cls"
    result = pisight_in_process(*TUTORIAL, "--out", str(out), "--target-runtime",
                                "tflite-runtime", "--skip-tflite-runtime-check")  # fmt: skip
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "drop --skip-tflite-runtime-check" in errors[0], errors
    assert not out.exists()


def test_unknown_target_runtime_lists_the_choices(tmp_path: Path) -> None:
    from pisight.convert.conversion.options import ConvertOptions

    with pytest.raises(ValueError, match="choose one of litert, tflite-runtime"):
        ConvertOptions("keras:mobilenet_v2", tmp_path / "cls", target_runtime="coral")


@pytest.mark.slow
def test_seed_tutorial_succeeds_and_records_why_tflite_runtime_cannot_run_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cls"
    result = pisight(*TUTORIAL, "--out", str(out), **CHECKED)
    assert result.returncode == 0, result.stderr
    runtimes = json.loads((out / "pisight.json").read_text())["runtimes"]
    legacy = runtimes["tflite_runtime_2_14"]
    if legacy["status"] == "skipped":
        pytest.skip(legacy["detail"])
    assert runtimes["litert"]["runs"] is True
    assert runtimes["litert"]["version"] == runtime_version("litert")
    assert (legacy["runs"], legacy["version"]) == (False, "2.14.0")
    assert legacy["missing_op"] == {"op": "FULLY_CONNECTED", "version": 12}
    assert legacy["reason"] == (
        "tflite-runtime 2.14.0 cannot run it: it has no FULLY_CONNECTED version 12"
    )
    warnings = [line for line in result.stderr.splitlines() if legacy["reason"] in line]
    assert len(warnings) == 1 and "--target-runtime tflite-runtime" in warnings[0]

    strict = tmp_path / "strict"
    refused = pisight(*TUTORIAL, "--out", str(strict), "--target-runtime", "tflite-runtime",
                      **CHECKED)  # fmt: skip
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("pisight: error")]
    assert errors == [
        "pisight: error: --target-runtime tflite-runtime: tflite-runtime 2.14.0 cannot run it: "
        "it has no FULLY_CONNECTED version 12; nothing was written. Convert with another "
        "--mode, or run LiteRT on the Pis (install-pi.sh installs it)"
    ]
    assert not strict.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cls"]  # no half-written bundle
