"""Progress of a run in the log: how many calls each step has handled in this process, at
what rate, and when the process also listed the archive (the DirectRunner, in-process or
one worker of a small job), how long the rest should take.

Each step (``featurised``, ``scored``) counts in a process-wide :class:`StepProgress`; a
line is logged at most every :data:`LOG_EVERY_S` seconds per step, and once more when its
last expected call is done. Rates count from the listing when this process listed the
archive, else from the step's first call.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Callable, Optional, TextIO

LOG = logging.getLogger(__name__)

#: Namespace of the job's Beam counters (and of RunInference's own metrics).
METRICS_NAMESPACE = "call_triage"

#: Seconds between two progress lines of one step.
LOG_EVERY_S = 10.0
#: Seconds between two redraws of a progress bar on a terminal, and its width in characters.
BAR_EVERY_S = 0.2
BAR_WIDTH = 30

_LOCK = threading.Lock()
_STEPS: dict[str, "StepProgress"] = {}
_expected: Optional[int] = None
_listed_at: Optional[float] = None


#: The clock of the rates (s; tests replace it).
clock: Callable[[], float] = time.monotonic


class StepProgress:
    """One step's calls in this process."""

    def __init__(self, step: str) -> None:
        self.step = step
        self._started = _listed_at if _listed_at is not None else clock()
        self._logged = clock()
        self.done = 0

    def add(self, calls: int = 1) -> Optional[str]:
        """Count ``calls`` more; returns the line logged, if one was due."""
        with _LOCK:
            self.done += calls
            now = clock()
            finished = _expected is not None and self.done == _expected
            if now - self._logged < LOG_EVERY_S and not finished:
                return None
            self._logged = now
            line = describe(self.step, done=self.done, elapsed_s=now - self._started,
                            expected=_expected)
        LOG.info("%s", line)
        return line


def describe(step: str, *, done: int, elapsed_s: float, expected: Optional[int]) -> str:
    """``"featurised 120 of 500 calls (4.0 calls/s, about 95 s to go)"``; without an
    expected total, the count and the rate."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    if expected is None:
        return f"{step} {done} calls ({rate:.1f} calls/s)"
    left = max(0, expected - done)
    eta = f", about {left / rate:.0f} s to go" if rate > 0 and left else ""
    return f"{step} {done} of {expected} calls ({rate:.1f} calls/s{eta})"


def step_progress(step: str) -> StepProgress:
    """This process's progress of ``step``, created on first use."""
    with _LOCK:
        if step not in _STEPS:
            _STEPS[step] = StepProgress(step)
        return _STEPS[step]


def expect_calls(total: int) -> None:
    """The archive listed ``total`` calls (in this process): a new run starts its counts,
    and later lines give an ETA."""
    global _expected, _listed_at
    with _LOCK:
        _expected, _listed_at = total, clock()
        _STEPS.clear()
    LOG.info("listed %d calls", total)


class CountedProgress:
    """Progress through ``total`` items of ``step`` in this process: on a terminal
    (``stream.isatty()``) a bar redrawn in place, at most every :data:`BAR_EVERY_S`
    seconds; off one, a log line every :data:`LOG_EVERY_S` seconds; both at the end."""

    def __init__(self, step: str, *, total: int, stream: TextIO = sys.stderr) -> None:
        self.step, self.total, self.done = step, total, 0
        self._stream = stream
        self._terminal = stream.isatty()
        self._started = self._shown = clock()

    def add(self, items: int = 1) -> None:
        self.done += items
        now = clock()
        every = BAR_EVERY_S if self._terminal else LOG_EVERY_S
        if now - self._shown < every and self.done < self.total:
            return
        self._shown = now
        line = describe(self.step, done=self.done, elapsed_s=now - self._started,
                        expected=self.total)
        if not self._terminal:
            LOG.info("%s", line)
            return
        filled = BAR_WIDTH * self.done // max(self.total, 1)
        end = "\n" if self.done >= self.total else ""
        self._stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {line}{end}")
        self._stream.flush()
