"""`pisight tune` end to end on real tiny trials: train, INT8, score, time, report, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import pisight_in_process

TINY = (
    "--alphas", "0.35", "--input-sizes", "64", "--finest-strides", "16", "--epochs", "1",
    "--batch-size", "8", "--lrs", "0.002", "0.004", "--sampler", "random", "--seed", "1",
)  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from pisight.convert.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("tune-data")
    generate_dataset(root / "train", images=12, seed=7)
    generate_dataset(root / "held-out", images=6, seed=8)
    return root / "train", root / "held-out"


@pytest.mark.slow
def test_real_trials_give_a_report_and_a_bundle_and_a_second_run_continues(
    data: tuple[Path, Path], tmp_path: Path
) -> None:
    train, held_out = data
    out = tmp_path / "tune"
    args = ("tune", "--data", str(train), "--eval-data", str(held_out), "--out", str(out),
            "--budget-ms", "1000", *TINY)  # fmt: skip
    done = pisight_in_process(*args, "--trials", "1")
    assert done.returncode == 0, done.stderr
    assert "trial 0 [1/1] mAP@0.5" in done.stdout and "best under budget: #0" in done.stdout
    # The same command asking for two: the study goes on from its one trial.
    again = pisight_in_process(*args, "--trials", "2")
    assert again.returncode == 0, again.stderr
    assert "trial 1 [2/2] mAP@0.5" in again.stdout and "trial 0 [" not in again.stdout
    summary = json.loads((out / "tune.json").read_text())
    assert summary["trials"]["complete"] == 2
    chosen = summary["chosen"]
    assert 0.0 <= chosen["map50"] <= 1.0 and chosen["latency_ms"] > 0 and chosen["cpu"]
    assert (out / "bundle" / "model.tflite").stat().st_size == chosen["bytes"]
    metadata = json.loads((out / "bundle" / "pisight.json").read_text())
    assert metadata["converter"]["mode"] == "int8"
    assert "## Pareto front within the budget" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--teachers", "yes"), "--teachers yes needs --teacher BIG.keras"),
        (("--teacher", "missing.keras"), "no teacher model at missing.keras"),
        (("--sparsities", "1.5"), "pruning shares must be within 0..1"),
        (("--finest-strides", "4"), "finest strides must be among (8, 16)"),
        (("--trials", "0"), "--trials must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    data: tuple[Path, Path], tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    train, held_out = data
    done = pisight_in_process("tune", "--data", str(train), "--eval-data", str(held_out),
                              "--out", str(tmp_path / "t"), *TINY, *extra)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"pisight: error: {done.stderr.strip().split(': ', 2)[2]}"
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_missing_data_is_named(tmp_path: Path) -> None:
    done = pisight_in_process("tune", "--data", str(tmp_path / "nothing"), "--eval-data",
                              str(tmp_path), "--out", str(tmp_path / "t"))  # fmt: skip
    assert done.returncode == 2 and f"--data {tmp_path / 'nothing'} does not exist" in done.stderr


@pytest.mark.slow
def test_ctrl_c_mid_trial_keeps_the_study_and_the_same_command_continues_it(
    data: tuple[Path, Path], tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    import optuna

    train, held_out = data
    out = tmp_path / "tune"
    args = ("tune", "--data", str(train), "--eval-data", str(held_out), "--out", str(out),
            "--trials", "2", *TINY)  # fmt: skip
    search = subprocess.Popen(
        [sys.executable, "-m", "pisight.device.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out / "trials" / "0000").exists() and time.monotonic() < deadline:
        time.sleep(0.2)  # trial 0 has started
    time.sleep(1.0)
    search.send_signal(signal.SIGINT)
    stdout, stderr = search.communicate(timeout=120)
    assert search.returncode == 130, (stdout, stderr[-2000:])
    assert "interrupted; the study in sqlite:///" in stderr and "run the same command" in stderr
    study = optuna.load_study(study_name="pisight-tune", storage=f"sqlite:///{out / 'study.db'}")
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL"], (states, stdout, stderr[-2000:])  # recorded, not lost
    again = pisight_in_process(*args)
    assert again.returncode == 0, again.stderr
    assert "trial 0 [1/2] failed" not in again.stdout and "trial 1 [2/2] mAP@0.5" in again.stdout
