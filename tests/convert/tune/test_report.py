"""The report of a search: the Pareto front, the chosen trial and its bundle, the plot."""

from __future__ import annotations

import json
from pathlib import Path

from pisight.convert.tune.report import Row, pareto_front, trial_rows, write_report
from pisight.convert.tune.study import TuneOptions, run_tune
from tests.convert.tune.fake_trials import SMALL_SPACE, FakeTrial


def row(number: int, map50: float, latency: float, size: int = 100) -> Row:
    return Row(number, "complete", "", map50, latency, size, 1.0, "cpu", None, None)


def test_the_front_holds_the_trials_nothing_beats() -> None:
    rows = [row(0, 0.8, 10.0), row(1, 0.7, 5.0), row(2, 0.6, 7.0), row(3, 0.9, 20.0),
            row(4, 0.7, 5.0, size=50)]  # fmt: skip
    front = pareto_front(rows)
    assert [r.number for r in front] == [4, 0, 3]  # by latency; 2 is beaten by 1 and 4
    assert [r.number for r in pareto_front(rows, budget_ms=9.0)] == [4]
    failed = Row(5, "fail", "", None, None, None, 1.0, None, None, "boom")
    assert pareto_front([*rows, failed]) == front


def test_the_report_shows_the_front_and_ships_the_chosen_bundle(tmp_path: Path) -> None:
    options = TuneOptions(out=tmp_path / "tune", trials=12, sampler="grid", space=SMALL_SPACE,
                          budget_ms=12.0)  # fmt: skip
    study = run_tune(options, FakeTrial(fail_alpha=0.5))
    summary = write_report(study, options, options.out, command="pisight tune --budget-ms 12")
    chosen = summary["chosen"]
    # alpha 0.5 fails; the best alpha 0.35 within 12 ms: 160 px (8.75 ms) at the better lr
    assert chosen["latency_ms"] == 8.75 and "alpha 0.35 160px" in chosen["plan"]
    assert summary["trials"] == {"complete": 6, "fail": 6, "running": 0}
    bundle = options.out / "bundle"
    assert (bundle / "model.tflite").read_bytes() == b"fake model"
    assert json.loads((options.out / "tune.json").read_text())["pareto"] == summary["pareto"]
    report = (options.out / "report.md").read_text()
    assert "## Pareto front within the budget" in report
    assert "ValueError: alpha 0.5 cannot train here" in report
    assert "latency budget: 12 ms (p50)" in report and "fake cpu" in report
    assert (options.out / "pareto.png").read_bytes().startswith(b"\x89PNG")
    assert len(trial_rows(study)) == 12
    write_report(study, options, options.out)  # again: the bundle is swapped, not mixed
    assert sorted(p.name for p in bundle.iterdir()) == ["model.tflite"]
    assert not list(options.out.glob(".bundle*"))
