#!/usr/bin/env python3
"""Events benchmark: what events, MQTT, snapshots and clips cost `pisight run`, and how long
an event takes from the camera to the broker.

    .venv/bin/python scripts/benchmark_events.py [--model BUNDLE] [--threads 1] [--frames 600]
    .venv/bin/python scripts/benchmark_events.py --quick        # small and fast (a smoke test)

Needs Debian's mosquitto (started on a free loopback port). On a synthetic crossing
video (640x480, objects coming and going, so events keep happening), --rounds
interleaved rounds of: `pisight bench` (the bare interpreter), `pisight run` with
tracking only, `pisight run` with events, MQTT, snapshots and clips. Prints each run's
inference FPS over the bench rate of its round, its peak RSS, and, from one run in real
time (30 fps, as a camera), the detection-to-broker latency of every event message: its
arrival at a subscriber less its frame_time (the capture time of the frame that made
it; new and update messages), p50 and p99. Only ratios taken in one run are meant to be compared.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt

from pisight.convert.data.synth_video import generate_video
from pisight.device.model.runtime import default_threads

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "models" / "demo" / "bundle"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    process = subprocess.Popen([mosquitto, "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("mosquitto did not start")


class Arrivals:
    """A subscriber noting when each event message arrives (wall clock, as frame_time)."""

    def __init__(self, port: int, topic: str) -> None:
        self.latencies_ms: list[float] = []
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.on_message = self._arrived
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()

    def _arrived(self, client: object, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        event = json.loads(message.payload)
        # An end is sent when the track is given up (max_misses frames after its last
        # sighting, its frame_time): only new and update come from the frame they name.
        if event["type"] != "end":
            self.latencies_ms.append((now - event["after"]["frame_time"]) * 1e3)

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def bench_fps(model: str, threads: int, runs: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "bench.json"
        subprocess.run([sys.executable, "-m", "pisight.device.cli", "bench", model, "--threads",
                        str(threads), "--runs", str(runs), "--json", str(out)], check=True,
                       capture_output=True)  # fmt: skip
        return float(json.loads(out.read_text())["fps"])


def run(args: argparse.Namespace, video: Path, folder: Path, port: int | None,
        realtime: bool = False) -> dict:  # fmt: skip
    """One `pisight run`: with port, events go to MQTT with snapshots and clips on."""
    config = folder / "run.toml"
    text = f'[model]\npath = "{args.model}"\nthreads = {args.threads}\nprobe = false\n'
    text += "[live]\nenabled = false\n"
    if port is not None:
        text += (f'[media]\nsnapshots = true\nclips = true\nfolder = "{folder / "media"}"\n'
                 f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nname = "bench"\n'
                 f'spool = "{folder / "spool.sqlite"}"\n')  # fmt: skip
    config.write_text(text + '[[lines]]\nname = "middle"\nstart = [0, 0.5]\nend = [1, 0.5]\n')
    pace = ["--realtime"] if realtime else []
    result = subprocess.run(
        [sys.executable, "-m", "pisight.device.cli", "run", "--config", str(config), "--source",
         str(video), "--loop", "--frames", str(args.frames), *pace],
        capture_output=True, text=True, check=True, timeout=900,
    )  # fmt: skip
    summary = dict(part.split("=", 1) for part in result.stdout.strip().splitlines()[-1].split())
    return {"fps": float(summary["fps"]), "rss_mb_max": float(summary["rss_mb_max"]),
            "private_mb_max": float(summary.get("private_mb_max", "nan"))}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEMO))
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.rounds = 90, 1
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        video = generate_video(work / "crossing.avi", 150, 3, (640, 480), scenario="crossing")
        broker, port = start_broker(work)
        try:
            rows = []
            for index in range(args.rounds):
                bench = bench_fps(args.model, args.threads, 100 if args.quick else 300)
                plain = run(args, video, work, None)
                folder = work / f"full{index}"  # its own spool and media each round
                folder.mkdir()
                full = run(args, video, folder, port)
                rows.append({"bench_fps": bench, "plain": plain, "full": full})
                print(f"round {index + 1}: bench {bench:.1f} fps, tracking {plain['fps']:.1f}, "
                      f"events+mqtt+clips {full['fps']:.1f}", flush=True)  # fmt: skip
            arrivals = Arrivals(port, "pisight/bench/events")
            paced = work / "paced"
            paced.mkdir()
            latency_run = run(args, video, paced, port, realtime=True)
            time.sleep(1.0)
            arrivals.stop()
        finally:
            broker.kill()
            broker.wait()
    report = summarise(rows, arrivals.latencies_ms, latency_run)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def summarise(rows: list[dict], latencies: list[float], paced: dict) -> dict:
    def median(values: list[float]) -> float:
        return round(float(np.median(values)), 3)

    return {
        "plain_over_bench": median([r["plain"]["fps"] / r["bench_fps"] for r in rows]),
        "full_over_bench": median([r["full"]["fps"] / r["bench_fps"] for r in rows]),
        "full_over_plain": median([r["full"]["fps"] / r["plain"]["fps"] for r in rows]),
        "rss_mb_max_full": max(r["full"]["rss_mb_max"] for r in [*rows, {"full": paced}]),
        "private_mb_max_full": max(r["full"]["private_mb_max"] for r in [*rows, {"full": paced}]),
        "event_messages": len(latencies),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "latency_ms_p99": round(float(np.percentile(latencies, 99)), 1) if latencies else None,
        "rounds": rows,
    }


if __name__ == "__main__":
    sys.exit(main())
