"""convert/tf.py: TensorFlow imported the project's way, its start-up lines off the console."""

from __future__ import annotations

import subprocess
import sys


def test_tensorflow_start_up_lines_stay_off_the_console() -> None:
    code = "import pisight.convert.tf as t; print(t.keras.__name__, t.tf.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("tf_keras 2.21")
    noise = [line for line in result.stderr.splitlines()
             if line.startswith(("I0000 ", "W0000 ", "WARNING: All log messages"))]  # fmt: skip
    assert noise == []
