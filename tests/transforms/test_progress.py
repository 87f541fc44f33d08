"""Progress lines of a run: counts, rates and the time left."""

from __future__ import annotations

import io
import logging

from transforms import progress


def test_describe_gives_the_rate_and_the_time_left_when_the_total_is_known():
    assert progress.describe("featurised", done=120, elapsed_s=30.0, expected=500) == \
        "featurised 120 of 500 calls (4.0 calls/s, about 95 s to go)"
    assert progress.describe("scored", done=500, elapsed_s=50.0, expected=500) == \
        "scored 500 of 500 calls (10.0 calls/s)"
    assert progress.describe("scored", done=7, elapsed_s=2.0, expected=None) == \
        "scored 7 calls (3.5 calls/s)"


def test_a_step_logs_at_most_every_interval_and_when_it_is_done(caplog, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress, "clock", lambda: now[0])
    with caplog.at_level(logging.INFO, logger=progress.__name__):
        progress.expect_calls(25)
        step = progress.step_progress("featurised")
        lines = []
        for _ in range(25):
            now[0] += 1.0  # one call a second
            lines.append(step.add())
    logged = [line for line in lines if line]
    # every 10 s, and the last call; the rate counts from the listing
    assert logged == ["featurised 10 of 25 calls (1.0 calls/s, about 15 s to go)",
                      "featurised 20 of 25 calls (1.0 calls/s, about 5 s to go)",
                      "featurised 25 of 25 calls (1.0 calls/s)"]
    assert [record.getMessage() for record in caplog.records
            if record.name == progress.__name__] == ["listed 25 calls"] + logged


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_counted_step_draws_a_bar_on_a_terminal_and_logs_lines_elsewhere(caplog,
                                                                            monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress, "clock", lambda: now[0])
    terminal = _Terminal()
    bar = progress.CountedProgress("featurised", total=4, stream=terminal)
    for _ in range(4):
        now[0] += 1.0
        bar.add()
    frames = terminal.getvalue().split("\r")[1:]
    assert frames[0].startswith("[" + "#" * 7 + "." * 23 + "] featurised 1 of 4 calls")
    assert frames[-1] == "[" + "#" * 30 + "] featurised 4 of 4 calls (1.0 calls/s)\n"

    plain = io.StringIO()
    with caplog.at_level(logging.INFO, logger="transforms.progress"):
        lines = progress.CountedProgress("featurised", total=30, stream=plain)
        for _ in range(30):
            now[0] += 1.0
            lines.add()
    assert plain.getvalue() == ""  # no bar drawn off a terminal
    assert [record.getMessage() for record in caplog.records] == [
        "featurised 10 of 30 calls (1.0 calls/s, about 20 s to go)",
        "featurised 20 of 30 calls (1.0 calls/s, about 10 s to go)",
        "featurised 30 of 30 calls (1.0 calls/s)"]
