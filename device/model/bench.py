"""`pisight bench`: invoke latency percentiles of a model on this machine.

    pisight bench models/demo/bundle --threads 2 --runs 200 --json bench.json

Only `invoke()` is timed, on a fixed input of the model's own type, after warm-up
runs (the first invokes allocate and pack weights).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pisight.device.model.bundle import locate_model
from pisight.device.model.cpu import this_cpu
from pisight.device.model.probe import check_model
from pisight.device.model.runtime import RUNTIMES, default_threads, make_interpreter


@dataclass(frozen=True)
class BenchResult:
    runtime: str
    threads: int | None
    runs: int
    latencies_ms: np.ndarray

    def to_json(self) -> dict:
        p50, p90, p99 = (float(np.percentile(self.latencies_ms, q)) for q in (50, 90, 99))
        return {
            "runtime": self.runtime,
            "threads": self.threads,
            "runs": self.runs,
            "latency_ms": {"p50": round(p50, 3), "p90": round(p90, 3), "p99": round(p99, 3)},
            "fps": round(1000.0 / float(np.mean(self.latencies_ms)), 2),
            "cpu": this_cpu().to_json(),
        }


def benchmark(
    model: str | Path, runtime: str | None, threads: int | None, runs: int, warmup: int = 10
) -> BenchResult:
    files = locate_model(model)
    interpreter, runtime_name = make_interpreter(files.model, runtime, threads)
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        rng = np.random.default_rng(0)
        if dtype.kind == "f":
            value = rng.uniform(-1, 1, detail["shape"]).astype(dtype)
        else:
            info = np.iinfo(dtype)
            value = rng.integers(info.min, info.max, detail["shape"], dtype=dtype, endpoint=True)
        interpreter.set_tensor(detail["index"], value)
    for _ in range(warmup):
        interpreter.invoke()
    latencies = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        latencies[i] = (time.perf_counter() - start) * 1000.0
    return BenchResult(runtime_name, threads, runs, latencies)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="bundle directory or .tflite file")
    parser.add_argument(
        "--threads", type=int, default=default_threads(),
        help="interpreter threads (default: as pisight run, all cores but one: %(default)s here)",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=100, help="timed invokes (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed invokes first")
    parser.add_argument("--runtime", choices=list(RUNTIMES), default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the result here")
    parser.add_argument(
        "--no-probe", action="store_true",
        help="trusted model: skip loading it in a sandboxed child process first",
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise ValueError("--runs must be at least 1")
    if not args.no_probe:
        check_model(locate_model(args.model).model, args.runtime)
    result = benchmark(args.model, args.runtime, args.threads, args.runs, args.warmup).to_json()
    latency = result["latency_ms"]
    print(
        f"runtime={result['runtime']} threads={result['threads']} runs={result['runs']} "
        f"p50={latency['p50']:.2f}ms p90={latency['p90']:.2f}ms p99={latency['p99']:.2f}ms "
        f"fps={result['fps']:.1f}"
    )
    print(f"cpu: {this_cpu().describe()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
