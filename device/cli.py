"""The `pisight` command: one console script, a `main(argv) -> int` per subcommand.

    pisight run --model models/demo/bundle --source video.mp4 --frames 200
    pisight bench models/demo/bundle --threads 2

Device subcommands import only the device half. Workstation subcommands import
pisight.convert lazily, so a device-only install fails with one line naming the extra.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from pisight.device.fleet import deploy, flash
from pisight.device.model import bench
from pisight.device.pipeline import run
from pisight.device.sources.base import SourceError

# Subcommand -> (module with add_arguments/main, one-line help). Host-only commands are
# imported on use: their modules import TensorFlow.
DEVICE_COMMANDS: dict[str, tuple[object, str]] = {
    "run": (run, "stream a camera through a model: live view, logs, metrics"),
    "bench": (bench, "interpreter latency percentiles of a model"),
    "deploy": (deploy, "push a bundle to Pis over SSH, verified, with health check and rollback"),
    "flash": (flash, "make a freshly written Pi OS card boot into the detector service"),
}
HOST_COMMANDS: dict[str, tuple[str, str]] = {
    "convert": ("pisight.convert.cli.convert", "quantize a detector into a verified bundle"),
    "synth": ("pisight.convert.cli.synth", "write a synthetic detection dataset and/or video"),
    "demo": ("pisight.convert.cli.demo", "the whole kit end to end on synthetic data, no camera"),
    "train": ("pisight.convert.cli.train", "train an SSD-MobileNetV2 detector"),
    "eval": ("pisight.convert.cli.eval", "mAP@0.5 and mAP@[.5:.95] of a model on a dataset"),
    "tune": (
        "pisight.convert.cli.tune",
        "search for the most accurate detector under a latency budget",
    ),
}

# Set once SIGINT/SIGTERM reached a workstation command.
_interrupted = threading.Event()

# Exit status of a command stopped by Ctrl-C or SIGTERM, as shells report it.
INTERRUPTED = 130

# Errors that are the user's input, not our bug: one line on stderr, exit 2.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    OSError,
    RuntimeError,
    ImportError,
    SourceError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pisight",
        description="Object detection on a Raspberry Pi, from training to live stream.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in DEVICE_COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
    for name, (_, summary) in HOST_COMMANDS.items():
        commands.add_parser(name, help=f"{summary} (workstation)", description=summary)
    return parser


def _host_command(module_name: str, name: str, argv: Sequence[str]) -> int:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if "tensorflow" not in str(exc) and "pisight[convert]" not in str(exc):
            raise
        print(
            f"pisight {name}: needs the workstation half; install it with "
            f"pip install 'pisight[convert]'",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog=f"pisight {name}", description=HOST_COMMANDS[name][1])
    module.add_arguments(parser)
    # What the user typed, for commands that record how their output was made.
    parser.set_defaults(command_line=shlex.join(["pisight", name, *argv]))
    args = parser.parse_args(list(argv))
    # SIGTERM unwinds like Ctrl-C, so temporary files are removed and nothing half-written
    # is left behind.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    status = _call(module.main, args)
    if status == INTERRUPTED:
        # Interrupted mid-load, TensorFlow's own threads can still be running, and its
        # teardown at interpreter exit then segfaults now and then (seen in CI: exit -11 after
        # our cleanup had finished). Cleanup is done, so leave without that teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(INTERRUPTED)
    return status


def interrupted() -> bool:
    """Whether Ctrl-C or SIGTERM reached this workstation command (`pisight tune` asks when
    a trial fails: TensorFlow can turn the KeyboardInterrupt into another exception)."""
    return _interrupted.is_set()


def _raise_interrupt(signum: int, _frame: object) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def _call(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return command(args)
    except BaseException as exc:
        # An interrupt raised inside TensorFlow's Python callbacks can surface as another
        # exception (a SystemError from CPython, seen in CI); it is still the user's stop.
        if isinstance(exc, KeyboardInterrupt) or _interrupted.is_set():
            # `run` ends on signals by itself; anything interrupted here did not finish.
            print("pisight: interrupted; nothing was written", file=sys.stderr)
            return INTERRUPTED
        if not isinstance(exc, USER_ERRORS):
            raise
        logging.getLogger("pisight").debug("details", exc_info=True)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"pisight: error: {message}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv or "--verbose" in argv
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="pisight: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:  # TensorFlow's INFO through absl ("Function `_serve` contains input
        logging.getLogger("absl").setLevel(logging.WARNING)  # name(s) ..."): -v shows it
    # Host commands parse their own arguments once their module (and TensorFlow) loads;
    # argparse's REMAINDER cannot pass on arguments that start with "--".
    positional = [i for i, arg in enumerate(argv) if not arg.startswith("-")]
    if positional and argv[positional[0]] in HOST_COMMANDS:
        name = argv[positional[0]]
        return _host_command(HOST_COMMANDS[name][0], name, argv[positional[0] + 1 :])
    args = build_parser().parse_args(argv)
    module = DEVICE_COMMANDS[args.command][0]
    return _call(module.main, args)


if __name__ == "__main__":
    sys.exit(main())
