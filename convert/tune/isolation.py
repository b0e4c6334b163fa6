"""Run one trial in a child process it can kill: a time limit that holds, a crash that stays there.

    result = run_isolated(run_trial, (plan, settings, directory), timeout_s=900)

A trial that trains past its time cannot be stopped from inside TensorFlow's loop, and a
segfault in a converter or interpreter would take the whole search with it; in a
process of its own (spawned: no forked TensorFlow threads) the first is killed at the
limit and the second is one failed trial (the frigate detector's pattern, STYLE.md).
Without a limit the trial runs in this process: no second TensorFlow start.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import queue
import signal
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("pisight.tune")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class TrialTimeoutError(RuntimeError):
    """The trial ran past --trial-timeout and was killed."""


class TrialCrashedError(RuntimeError):
    """The trial's process died without an answer (a signal, out of memory)."""


def run_isolated(function: Callable[..., Any], args: tuple, timeout_s: float | None) -> Any:
    if timeout_s is None:
        return function(*args)
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    child = context.Process(
        target=_child, args=(answers, function, args, _log_levels()),
        name="pisight-trial", daemon=True,
    )  # fmt: skip
    child.start()
    try:
        answer = _wait(answers, child, timeout_s)
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
    kind, value = answer
    if kind == "error":
        raise RuntimeError(value)
    return value


def _wait(answers: Any, child: Any, timeout_s: float) -> tuple[str, Any]:
    """The child's answer; polled, so a child that dies silently is noticed at once."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            return answers.get(timeout=min(1.0, left))
        except queue.Empty:
            pass
        if not child.is_alive():
            try:  # it may have answered just before it ended
                return answers.get(timeout=1.0)
            except queue.Empty:
                raise TrialCrashedError(
                    f"the trial's process died (exit status {child.exitcode})"
                ) from None
    raise TrialTimeoutError(f"the trial ran out of time ({timeout_s:g} s, --trial-timeout)")


def _log_levels() -> dict[str, int]:
    """The root's level and every pisight logger's, so the child logs as this process does."""
    levels = {"": logging.getLogger().level}
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pisight"):
            levels[name] = logging.getLogger(name).level
    return levels


def _child(answers: Any, function: Callable[..., Any], args: tuple, levels: dict[str, int]) -> None:
    _die_with_parent()
    logging.basicConfig(format="pisight: %(message)s", level=levels.pop("", logging.INFO))
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    try:
        answers.put(("ok", function(*args)))
    except BaseException as exc:  # every failure goes back as one line, the parent records it
        answers.put(("error", one_line(exc)))


def _die_with_parent() -> None:
    """A search killed outright (SIGKILL, the machine's OOM killer) takes its trial along
    instead of leaving it training as an orphan; Linux only, elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def one_line(exc: BaseException) -> str:
    """An exception as the one line a trial's record and the progress line show."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
