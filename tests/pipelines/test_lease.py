"""One run at a time per night and output root, on a local disk and on gs://."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from apache_beam.io.filesystems import FileSystems

from pipelines import lease
from transforms.errors import LeaseError

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.timezone.utc)
NIGHT = "2026-12-05"


@pytest.fixture(params=["local", "gcs"])
def out(request, tmp_path):
    if request.param == "local":
        yield str(tmp_path / "reports")
    else:
        emulator = request.getfixturevalue("gcs_emulator")
        yield f"gs://{emulator.bucket}/reports"


def test_a_second_run_of_the_night_is_refused_while_the_first_holds_it(out):
    first = lease.acquire(out=out, run_date=NIGHT, run_id="run-a", now=NOW)

    with pytest.raises(LeaseError, match=r"run run-a \(since 2026-12-06T02:00:00\+00:00\) is "
                                         r"writing the night of 2026-12-05"):
        lease.acquire(out=out, run_date=NIGHT, run_id="run-b", now=NOW)
    # another night, or another output root, is free
    lease.acquire(out=out, run_date="2026-12-04", run_id="run-c", now=NOW)

    lease.release(first)
    second = lease.acquire(out=out, run_date=NIGHT, run_id="run-b", now=NOW)
    assert second.run_id == "run-b"


def test_an_expired_lease_is_taken_over_and_a_release_only_frees_its_own(out):
    crashed = lease.acquire(out=out, run_date=NIGHT, run_id="run-a", now=NOW, ttl_s=60)

    later = NOW + dt.timedelta(minutes=2)
    taken = lease.acquire(out=out, run_date=NIGHT, run_id="run-b", now=later)

    lease.release(crashed)  # the crashed run coming back must not free run-b's lease
    with FileSystems.open(taken.uri) as handle:
        assert json.loads(handle.read())["run_id"] == "run-b"
    with pytest.raises(LeaseError, match="run run-b"):
        lease.acquire(out=out, run_date=NIGHT, run_id="run-c", now=later)


def test_the_store_settles_two_runs_that_read_no_lease_at_once(tmp_path, monkeypatch):
    out = str(tmp_path / "reports")
    lease.acquire(out=out, run_date=NIGHT, run_id="run-a", now=NOW)
    real_read, reads = lease._read, []

    def read_late(uri):  # run-b's first read comes before run-a's create
        reads.append(uri)
        return None if len(reads) == 1 else real_read(uri)

    monkeypatch.setattr(lease, "_read", read_late)

    with pytest.raises(LeaseError, match="run run-a"):
        lease.acquire(out=out, run_date=NIGHT, run_id="run-b", now=NOW)
    assert len(reads) == 2  # its exclusive create failed, and the second read saw run-a
