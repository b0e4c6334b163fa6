"""What a search found: the Pareto front as a table and a plot, and the chosen bundle.

    rows = trial_rows(study)
    front = pareto_front(rows, budget_ms=8.0)
    write_report(study, options, Path("tune-out"), command="pisight tune ...")
    # tune-out/report.md, pareto.png, tune.json, bundle/ (the chosen trial's bundle)

A trial is on the front when no other completed trial is at least as good in all three
objectives (mAP@0.5 up, latency and bytes down) and better in one. With a budget only
trials within it compete. The chosen trial is the front's most accurate (the faster of
equals): "the most accurate detector that still runs at 10 fps".
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from pisight.convert.tune.samplers import LATENCY_ATTR
from pisight.convert.tune.study import FINISHED, TuneOptions, best_trial, storage_url


@dataclass(frozen=True)
class Row:
    number: int
    state: str
    plan: str
    map50: float | None
    latency_ms: float | None
    bytes: int | None
    seconds: float | None
    cpu: str | None
    bundle: str | None
    error: str | None

    def dominates(self, other: Row) -> bool:
        mine = (self.map50, -self.latency_ms, -self.bytes)
        theirs = (other.map50, -other.latency_ms, -other.bytes)
        return all(a >= b for a, b in zip(mine, theirs, strict=True)) and mine != theirs


def trial_rows(study: optuna.Study) -> list[Row]:
    rows = []
    # Pruned trials are the surplus ones a worker asked for and did not run (study.py).
    for trial in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING)):
        attrs = trial.user_attrs
        rows.append(Row(
            trial.number, trial.state.name.lower(), attrs.get("plan", ""), attrs.get("map50"),
            attrs.get(LATENCY_ATTR), attrs.get("bytes"), attrs.get("seconds"), attrs.get("cpu"),
            attrs.get("bundle"), _error(trial),
        ))  # fmt: skip
    return rows


def _error(trial: optuna.trial.FrozenTrial) -> str | None:
    if trial.state != TrialState.FAIL:
        return None
    # A trial failed by the heartbeat check has no error of its own: its worker died.
    return (trial.user_attrs.get("error") or trial.system_attrs.get("fail_reason")
            or "no heartbeat: its worker was killed")  # fmt: skip


def pareto_front(rows: list[Row], budget_ms: float | None = None) -> list[Row]:
    done = [r for r in rows if r.state == "complete"]
    if budget_ms is not None:
        done = [r for r in done if r.latency_ms <= budget_ms]
    front = [r for r in done if not any(o.dominates(r) for o in done)]
    return sorted(front, key=lambda r: (r.latency_ms, -r.map50))


def write_report(
    study: optuna.Study, options: TuneOptions, out: Path, command: str = ""
) -> dict[str, Any]:
    """report.md, pareto.png, tune.json and the chosen bundle; returns tune.json's content."""
    rows = trial_rows(study)
    front = pareto_front(rows, options.budget_ms)
    best = best_trial(study, options.budget_ms)
    chosen = None if best is None else next(r for r in rows if r.number == best.number)
    bundle = _copy_bundle(chosen, out) if chosen is not None else None
    summary = {
        "study": study.study_name, "storage": storage_url(options), "sampler": options.sampler,
        "command": command, "budget_ms": options.budget_ms,
        "trials": {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
                   for state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)},
        "pareto": [r.number for r in front],
        "chosen": None if chosen is None else {**_row_json(chosen), "bundle_copy": bundle},
    }  # fmt: skip
    (out / "tune.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "pareto.png").write_bytes(plot_front(rows, front, options.budget_ms))
    (out / "report.md").write_text(_markdown(summary, rows, front, chosen), encoding="utf-8")
    return summary


def _row_json(row: Row) -> dict[str, Any]:
    return {key: getattr(row, key) for key in Row.__dataclass_fields__}


def _copy_bundle(chosen: Row, out: Path) -> str | None:
    """The chosen trial's bundle as OUT/bundle, swapped in whole (never half old, half new)."""
    source = Path(chosen.bundle or "")
    if not (source / "model.tflite").is_file():
        return None  # another machine's worker ran it: its path is in the report
    target, staged = out / "bundle", out / ".bundle.partial"
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(source, staged)
    if target.exists():
        old = out / ".bundle.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(staged, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, target)
    return str(target)


def _markdown(summary: dict, rows: list[Row], front: list[Row], chosen: Row | None) -> str:
    budget = summary["budget_ms"]
    counts = summary["trials"]
    cpus = sorted({r.cpu for r in rows if r.cpu})
    lines = [
        "# pisight tune", "",
        f"- command: `{summary['command'] or 'pisight tune (API)'}`",
        f"- study `{summary['study']}` in `{summary['storage']}`, {summary['sampler']} sampler",
        f"- trials: {counts['complete']} completed, {counts['fail']} failed, "
        f"{counts['running']} running",
        f"- latency budget: {'none' if budget is None else f'{budget:g} ms (p50)'}",
        f"- latency measured on: {'; '.join(cpus) or '-'}",
        "- objectives: mAP@0.5 of the INT8 bundle on the held-out data (up), invoke p50 "
        "latency (down), model bytes (down)", "",
        "## Pareto front" + (" within the budget" if budget is not None else ""), "",
        *_table(front), "", "![Pareto front](pareto.png)", "",
    ]  # fmt: skip
    if chosen is None:
        lines += ["No completed trial " + ("within the budget." if budget else "yet."), ""]
    else:
        lines += [
            "## Chosen", "",
            f"Trial {chosen.number} ({chosen.plan}): mAP@0.5 {chosen.map50:.3f}, "
            f"p50 {chosen.latency_ms:.2f} ms, {chosen.bytes:,} bytes; bundle "
            f"`{summary['chosen']['bundle_copy'] or chosen.bundle}`.", "",
        ]  # fmt: skip
    lines += ["## All trials", "", *_table(rows), ""]
    return "\n".join(lines)


def _table(rows: list[Row]) -> list[str]:
    lines = [
        "| trial | state | plan | mAP@0.5 | p50 ms | bytes | seconds | error |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cells = [
            str(r.number), r.state, r.plan,
            "-" if r.map50 is None else f"{r.map50:.3f}",
            "-" if r.latency_ms is None else f"{r.latency_ms:.2f}",
            "-" if r.bytes is None else f"{r.bytes:,}",
            "-" if r.seconds is None else f"{r.seconds:.0f}",
            (r.error or "").replace("|", "/"),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_front(rows: list[Row], front: list[Row], budget_ms: float | None) -> bytes:
    """mAP@0.5 against latency, every completed trial; the front joined; the budget a line."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a build machine
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6.4, 4.2), dpi=100)
    done = [r for r in rows if r.state == "complete"]
    axes.scatter([r.latency_ms for r in done], [r.map50 for r in done], c="0.6", label="trials")
    axes.plot([r.latency_ms for r in front], [r.map50 for r in front], "o-", c="C0",
              label="Pareto front")  # fmt: skip
    for r in front:
        axes.annotate(f"#{r.number}", (r.latency_ms, r.map50), textcoords="offset points",
                      xytext=(4, 4), fontsize=8)  # fmt: skip
    if budget_ms is not None:
        axes.axvline(budget_ms, color="C3", linestyle="--", label=f"budget {budget_ms:g} ms")
    axes.set_xlabel("invoke p50 latency (ms)")
    axes.set_ylabel("mAP@0.5 (INT8, held out)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return buffer.getvalue()
