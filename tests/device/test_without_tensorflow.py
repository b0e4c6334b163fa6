"""The Pi installs only the device half: it must import and run with TensorFlow absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pisight.device.sources.testpattern import write_video
from tests.helpers import project_modules

# sys.modules[name] = None makes `import name` raise ImportError, as on a device install.
BLOCK = (
    "import sys\n"
    "for name in ('tensorflow', 'tf_keras', 'keras', 'tensorflow_model_optimization'):\n"
    "    sys.modules[name] = None\n"
    "from pisight.device.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "loaded = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras')]\n"
    "assert not [m for m in loaded if sys.modules[m] is not None], loaded\n"
    "sys.exit(code)\n"
)


def run_without_tensorflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK, *args], capture_output=True, text=True, timeout=120
    )


def test_every_device_module_imports_without_tensorflow() -> None:
    """Every module of every sub-package, so a split can never hide a TensorFlow import."""
    modules = project_modules("device")
    assert {"pisight.device.model.detector", "pisight.device.live.server"} <= set(modules)
    code = (
        "import sys\n"
        "for name in ('tensorflow', 'tf_keras', 'keras', 'tensorflow_model_optimization'):\n"
        "    sys.modules[name] = None\n"
        + "".join(f"import {m}\n" for m in modules)
        + "assert not [m for m in sys.modules if m.startswith('pisight.convert')]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_run_and_bench_without_tensorflow(ssd_bundle: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", frames=10)
    run = run_without_tensorflow(
        "run", "--model", str(ssd_bundle), "--source", str(video), "--no-serve"
    )
    assert run.returncode == 0, run.stderr
    assert "frames=10 " in run.stdout
    bench = run_without_tensorflow("bench", str(ssd_bundle), "--runs", "3")
    assert bench.returncode == 0, bench.stderr
    assert "runtime=litert" in bench.stdout


def test_forcing_tensorflow_runtime_without_it_is_one_line(ssd_bundle: Path) -> None:
    result = run_without_tensorflow("bench", str(ssd_bundle), "--runtime", "tensorflow")
    assert result.returncode == 2
    assert "pip install 'pisight[convert]'" in result.stderr
    assert "Traceback" not in result.stderr
