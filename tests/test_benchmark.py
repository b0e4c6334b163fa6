"""scripts/benchmark.py: its measuring pieces on a tiny real model, and the report they make."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pisight.device.sources.testpattern import write_video
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import benchmark  # a script: importable once scripts/ is on the path


@pytest.fixture(scope="module")
def measured(ssd_bundle: Path, ssd_int8: Path, tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("benchmark")
    options = type("Args", (), {"rounds": 2, "runs": 3})()
    data = ssd_int8.read_bytes()
    variants = {name: data for name in ("fp32", "int8", "pruned int8", "channel-pruned int8")}
    rows = benchmark.measure_models("demo", variants, work, options)
    rows += benchmark.measure_models("full-size", variants, work, options)
    video = write_video(work / "clip.avi", frames=30)
    viewers = [
        {"viewers": count, **benchmark.run_pisight(str(ssd_bundle), video, 1, 80, viewers=count)}
        for count in (0, 2)
    ]
    return rows, viewers


def test_model_rows_have_every_figure(measured) -> None:
    rows, _ = measured
    assert len(rows) == 8
    for row in rows:
        assert row["bytes"] > row["bytes_gzip"] > 0
        for threads in (1, 2):
            assert 0 < row[f"litert_{threads}t_p50_ms"] <= row[f"litert_{threads}t_p90_ms"]
        assert row["map50"] is None  # no data given
    assert all("INT8/FP32 LiteRT latency" in line for line in benchmark.ratios(rows))


def test_pisight_run_serves_every_viewer(measured) -> None:
    _, viewers = measured
    for row in viewers:
        assert row["fps"] > 0 and 0 < row["rss_mb_max"] < 512


def test_report_renders_every_section(measured) -> None:
    rows, viewers = measured
    e2e = {"bench_fps": 100.0, "run_fps_no_viewer": 97.0, "run_fps_one_viewer": 95.5,
           "serial_loop_fps": 60.0, "ratio_no_viewer": 0.97, "ratio_one_viewer": 0.955,
           "ratio_serial_loop": 0.6, "rss_mb_max": 110.0, "private_mb_max": 60.0,
           "run_fps_counting": 96.5,
           "ratio_counting": 0.965,
           "launch_to_first_frame_s": 0.5}  # fmt: skip
    report = {
        "date": "2026-11-22", "command": "python scripts/benchmark.py",
        "machine": {"description": "x86_64, 2 cores"}, "threads": 1, "rounds": 2,
        "models": rows, "ratios": benchmark.ratios(rows), "end_to_end": e2e,
        "viewers": [{"viewers": v["viewers"], "fps": v["fps"], "cpu_percent": v["cpu_percent"],
                     "system_cpu_percent": v["system_cpu_percent"]} for v in viewers],
    }  # fmt: skip
    text = benchmark.render(report)
    assert "    python scripts/benchmark.py" in text
    assert text.count("| demo |") == 4 and text.count("| full-size |") == 4
    assert "| `pisight run`, no viewer | 97.00 | 0.970 |" in text
    assert "serial read-resize-invoke-draw loop | 60.00 | 0.600 |" in text
    assert "| 2 |" in text.split("## Viewers")[1]
    assert "| `pisight run` / bare interpreter, no viewer >= 0.97 | 0.970 | met |" in text
    assert "| peak private memory of `pisight run` < 96 MB | 60.000 | met |" in text


def test_the_int8_target_applies_only_to_cpus_with_integer_dot_products() -> None:
    vnni = {"cpu": {"simd": ["avx2", "avx512f", "avx512_vnni"]}}
    avx2_only = {"cpu": {"simd": ["sse4_2", "avx2", "fma"]}}
    assert benchmark.int8_target(vnni, 0.46)[2] is True
    assert benchmark.int8_target(vnni, 0.9)[2] is False
    name, ratio, verdict = benchmark.int8_target(avx2_only, 1.1)
    assert verdict is None and ratio == 1.1 and "this CPU has none" in name
    assert benchmark.int8_target({"description": "old report"}, 0.5)[2] is True


def test_only_bundles_made_from_this_checkpoint_are_used(tmp_path: Path) -> None:
    import json

    from pisight.convert.ssd.model import SSDConfig

    record = {"command": "pisight train --seed 0", "finished": "2026-11-22T17:05:43+00:00"}
    config = SSDConfig(num_classes=3, training=record)
    bundle = tmp_path / "unstructured"
    bundle.mkdir()
    assert not benchmark._made_from(bundle, config)  # no bundle at all
    (bundle / "pisight.json").write_text(json.dumps({"provenance": {"training": record}}))
    assert benchmark._made_from(bundle, config)
    older = {**record, "finished": "2026-11-21T10:00:00+00:00"}
    assert not benchmark._made_from(bundle, SSDConfig(num_classes=3, training=older))
    (bundle / "pisight.json").write_text(json.dumps({"task": "detection"}))  # before records
    assert not benchmark._made_from(bundle, config)


def test_the_limit_section_measures_every_setting_and_replaces_its_old_self(
    ssd_bundle: Path, tmp_path: Path
) -> None:
    import benchmark_limit

    from pisight.device.pipeline.inference import InferenceSetting

    settings = benchmark_limit.bare_settings(2)
    assert [s.short for s in settings] == ["1x1", "1x2", "2x1"]
    assert benchmark_limit.bare_rate(str(ssd_bundle), InferenceSetting(1, 2), 0.3) > 0
    report = {
        "model": str(ssd_bundle), "chosen": "2 interpreters x 1 thread: 90.0 fps (1x1 50.0)",
        "best_bare_one_interpreter": 80.0, "best_bare": 95.0, "ratio_no_viewer": 1.1,
        "ratio_one_viewer": 1.05, "ratio_old_default": 0.6, "pinned_ratio": 1.0,
        "steal_percent": 2.5, "bare": {"1x1": 50.0, "1x2": 80.0, "2x1": 95.0},
        "fps": {"default": 88.0, "default_viewer": 84.0, "old_default": 48.0,
                "pinned_default": 45.0, "pinned_old": 45.0},
    }  # fmt: skip
    section = benchmark_limit.render([report], "python scripts/benchmark_limit.py")
    assert "| 88.0 fps (1.100) | 84.0 (1.050) | 48.0 (0.600) | 45.0 / 45.0 (1.000) | 2.5 |" in (
        section
    )
    target = tmp_path / "BENCHMARKS.md"
    target.write_text("# Benchmarks\n\n## Targets\n\nx\n\n## Tracking: which tracker\n\nkept\n")
    benchmark_limit.update(target, section)
    benchmark_limit.update(target, section.replace("88.0 fps", "77.0 fps"))
    text = target.read_text()
    assert text.count(benchmark_limit.SECTION) == 1 and "77.0 fps" in text
    assert text.index("## Targets") < text.index(benchmark_limit.SECTION) < text.index("kept")
