"""A hung invoke: the stream stays up, marked stale, and inference restarts by itself."""

from __future__ import annotations

import time
from pathlib import Path

from pisight.device.pipeline.options import PipelineOptions
from tests.faults.rig import PacedCamera, start_rig
from tests.faults.test_sources import health, snapshot, wait_until


def test_stuck_invoke_restarts_inference_on_a_fresh_interpreter(ssd_bundle: Path) -> None:
    options = PipelineOptions(invoke_timeout_s=1.0, stale_after_s=0.3, metrics_interval_s=0.2)
    rig = start_rig(ssd_bundle, PacedCamera(fps=20.0), pipeline=options)
    try:
        assert wait_until(lambda: rig.pipeline.stats.frames > 5)
        snapshot(rig.url("/snapshot.jpg"))
        rig.interpreter.hang.set()
        assert rig.interpreter.hung.wait(5)
        picture = snapshot(rig.url("/snapshot.jpg"))  # the stream is still served ...
        assert picture[2, 100, 2] > 200 and picture[2, 100, 1] < 60  # ... marked stale
        assert wait_until(lambda: rig.pipeline.status().inference_restarts == 1, 5)
        frames = rig.pipeline.stats.frames
        assert wait_until(lambda: rig.pipeline.stats.frames > frames + 10)
        assert health(rig.url("/healthz"))[0] == 200
        time.sleep(0.5)
        assert rig.pipeline.error is None
    finally:
        rig.close()


def test_a_hung_invoke_among_two_interpreters_costs_one_frame_not_the_order(
    ssd_bundle: Path,
) -> None:
    from pisight.device.pipeline.inference import InferenceSetting

    options = PipelineOptions(invoke_timeout_s=1.0, stale_after_s=0.3, metrics_interval_s=0.2,
                              inference=InferenceSetting(1, 2))  # fmt: skip
    rig = start_rig(ssd_bundle, PacedCamera(fps=20.0), pipeline=options)
    try:
        assert wait_until(lambda: rig.pipeline.stats.frames > 5)
        rig.interpreter.hang.set()  # the first interpreter's next invoke never returns
        assert rig.interpreter.hung.wait(5)
        assert wait_until(lambda: rig.pipeline.status().inference_restarts == 1, 5)
        frames = rig.pipeline.stats.frames
        assert wait_until(lambda: rig.pipeline.stats.frames > frames + 10)
        assert rig.pipeline.status().inference == "2x1" and rig.pipeline.error is None
    finally:
        rig.close()
