"""Progress lines of a run: counts, rates and the time left."""

from __future__ import annotations

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
