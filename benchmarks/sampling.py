"""Process CPU and memory readings for the benchmarks, from /proc and rusage.

This process's resident set and CPU seconds (read inside a measured child), a sampler of a
whole process tree's summed RSS and CPU seconds (run by the parent while a child works)
and stopping a process tree that overran its time.
"""

from __future__ import annotations

import os
import threading
import time

SAMPLE_EVERY_S = 0.2  # period of the process-tree RSS sampler
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_now_mb() -> float:
    """This process's current resident set (VmRSS) in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _tree_usage(root: int) -> tuple[int, dict[int, float]]:
    """Summed VmRSS (kB) of ``root`` and all its descendants, and each one's own CPU
    seconds so far (utime + stime), from /proc."""
    total, cpu, stack, seen = 0, {}, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            cpu[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total, cpu


class TreeSampler(threading.Thread):
    """Samples a process tree every SAMPLE_EVERY_S: the peak of its summed RSS and the
    last CPU seconds seen of each process (worker processes that are never reaped are
    missing from rusage; this counts them, less up to one period each)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self._stop_event = pid, 0, threading.Event()
        self._cpu: dict[int, float] = {}

    @property
    def cpu_s(self) -> float:
        return sum(self._cpu.values())

    def run(self) -> None:
        while not self._stop_event.is_set():
            rss_kb, cpu = _tree_usage(self.pid)
            self.peak_kb = max(self.peak_kb, rss_kb)
            self._cpu.update(cpu)
            self._stop_event.wait(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def kill_tree(root: int) -> None:
    """SIGTERM ``root``'s descendants (deepest first) and ``root``; SIGKILL what is left
    after 10 s. Only processes the benchmark started are touched."""
    import signal

    order, stack = [], [root]
    while stack:
        pid = stack.pop()
        order.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 0.0)):
        for pid in reversed(order):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(
                os.path.exists(f"/proc/{pid}") and _state(pid) != "Z" for pid in order):
            time.sleep(0.2)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "X"
