"""Runtime compatibility as data: which runtimes were proven to run a converted model.

The verify step loads and invokes the model in LiteRT (installed on every Pi by
install-pi.sh) and in tflite-runtime 2.14 (isolated venv, `legacy_runtime.py`). What
they said goes into pisight.json's `runtimes`; tflite-runtime 2.14 refusing the model is
a warning, and fatal only when the user says the target runs it (`--target-runtime
tflite-runtime`): then nothing is written.

    record = judge_tflite_runtime(legacy_check, target="litert")    # warns, returns the record
    metadata["runtimes"] = runtimes_record(verification)
"""

from __future__ import annotations

import logging
from typing import Any

from pisight.convert.conversion.legacy_runtime import TFLITE_RUNTIME_VERSION
from pisight.convert.conversion.steps import ConversionError
from pisight.device.model.compatibility import cannot_run, missing_op, runtime_version

log = logging.getLogger("pisight.verify")
TARGET_RUNTIMES = ("litert", "tflite-runtime")
"""What the Pis that will run the bundle use; LiteRT is what install-pi.sh installs."""
DEFAULT_TARGET = "litert"


def check_target(target: str, check_legacy_runtime: bool) -> None:
    """Refuse a target that cannot be proven, before any model is loaded."""
    if target not in TARGET_RUNTIMES:
        raise ValueError(f"--target-runtime {target!r}: choose one of {', '.join(TARGET_RUNTIMES)}")
    if target == "tflite-runtime" and not check_legacy_runtime:
        raise ValueError(
            "--target-runtime tflite-runtime needs the tflite-runtime check: "
            "drop --skip-tflite-runtime-check"
        )


def judge_tflite_runtime(check: dict[str, Any], target: str) -> dict[str, Any]:
    """The tflite-runtime 2.14 record for pisight.json; raises if the target needs it to run.

    check: {status ok|failed|skipped, detail, invoke_ms} from the verify step.
    """
    status = check["status"]
    record: dict[str, Any] = {
        **check,
        "version": TFLITE_RUNTIME_VERSION,
        "runs": {"ok": True, "failed": False}.get(status),
        "reason": None,
        "missing_op": None,
    }
    if status == "failed":
        missing = missing_op(check["detail"])
        record["reason"] = cannot_run("tflite-runtime", TFLITE_RUNTIME_VERSION, check["detail"])
        record["missing_op"] = missing.to_json() if missing else None
    if target == "tflite-runtime" and status != "ok":
        why = record["reason"] or check["detail"]
        raise ConversionError(
            f"--target-runtime tflite-runtime: {why}; nothing was written. Convert with "
            "another --mode, or run LiteRT on the Pis (install-pi.sh installs it)"
        )
    if status == "failed":
        log.warning(
            "%s; the bundle is written for LiteRT, which install-pi.sh installs. "
            "Pis on tflite-runtime will refuse it (--target-runtime tflite-runtime makes "
            "this fatal)",
            record["reason"],
        )
    return record


def runtimes_record(litert: dict[str, Any], tflite_runtime: dict[str, Any]) -> dict[str, Any]:
    """pisight.json `runtimes`: LiteRT with the version that ran it, and tflite-runtime 2.14."""
    release = runtime_version("litert")
    proven = {
        "status": litert["status"],
        "version": release,
        "runs": litert["status"] == "ok",
        "detail": f"loaded and invoked in LiteRT {release}",
    }
    return {"litert": proven, "tflite_runtime_2_14": tflite_runtime}
