"""Untrusted models: malformed files get one typed line and exit 2; mutants never kill us."""

from __future__ import annotations

import collections
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pisight.device.model.probe import ModelRejectedError, check_model, probe_model
from pisight.device.sources.testpattern import write_video

MUTANTS = 200


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("media") / "clip.avi", frames=5)


def _bad_files(valid: bytes, directory: Path) -> dict[str, Path]:
    contents = {
        "empty": b"",
        "header-only": valid[:8],
        "truncated": valid[: len(valid) // 2],
        "random": random.Random(1).randbytes(4096),
        "wrong-identifier": valid[:4] + b"XXXX" + valid[8:],
    }
    files = {}
    for name, data in contents.items():
        files[name] = directory / f"{name}.tflite"
        files[name].write_bytes(data)
    (directory / "a-directory").mkdir()
    files["directory"] = directory / "a-directory"
    files["dev-zero"] = Path("/dev/zero")
    return files


@pytest.mark.parametrize(
    "case",
    ["empty", "header-only", "truncated", "random", "wrong-identifier", "directory", "dev-zero"],
)
def test_bad_model_file_is_one_line_exit_2(
    case: str, ssd_int8: Path, video: Path, tmp_path: Path
) -> None:
    model = _bad_files(ssd_int8.read_bytes(), tmp_path)[case]
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pisight.device.cli", "run", "--model", str(model),
         "--source", str(video), "--frames", "1", "--no-serve"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert time.monotonic() - start < 10.0
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("pisight: error")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_probe_accepts_the_valid_model_quickly(ssd_int8: Path) -> None:
    start = time.monotonic()
    check_model(ssd_int8)
    assert time.monotonic() - start < 3.0  # about 0.5 s; it runs at every start


def test_probe_rejects_with_the_typed_error(tmp_path: Path) -> None:
    (tmp_path / "m.tflite").write_bytes(b"TFL3" * 8)
    with pytest.raises(ModelRejectedError, match="model rejected"):
        check_model(tmp_path / "m.tflite")


def _mutate(valid: bytes, seed: int) -> bytes:
    """A few random bytes changed; half the mutants aim at the flatbuffer tables up front."""
    rng = random.Random(seed)
    data = bytearray(valid)
    span = 4096 if seed % 2 else len(data)
    for _ in range(rng.randint(1, 16)):
        data[rng.randrange(min(span, len(data)))] = rng.randrange(256)
    return bytes(data)


def test_seeded_mutants_are_all_classified(ssd_int8: Path, tmp_path: Path) -> None:
    valid = ssd_int8.read_bytes()
    paths = []
    for seed in range(MUTANTS):
        paths.append(tmp_path / f"mutant{seed}.tflite")
        paths[-1].write_bytes(_mutate(valid, seed))
    # Two probes at a time: each is a child process on its own core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda p: probe_model(p, timeout_s=5.0), paths))
    tally = collections.Counter(r.outcome for r in results)
    print(f"\n{MUTANTS} mutants: {dict(tally)}")
    assert sum(tally.values()) == MUTANTS
    assert set(tally) <= {"loaded", "rejected", "crashed", "hung"}
    assert all(r.detail and "\n" not in r.detail for r in results)
