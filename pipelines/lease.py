"""One run at a time per night and output root: a lease file created atomically.

A run takes ``<out>/_leases/run_date=YYYY-MM-DD.json`` before it starts and gives it back
when it ends, published or failed. The file is created only if absent (``O_EXCL`` on a
local disk, a generation-0 precondition on ``gs://``), so of two runs of the same night
into the same root exactly one gets it; the other fails with :class:`LeaseError`, naming
the holder. (The GCS emulator of the tests ignores the precondition; the lease is read
before it is created, which settles runs that do not start in the same instant there.) A lease names its run and when it expires (:data:`DEFAULT_TTL_S` after it was
taken): a crashed run's lease is taken over once expired.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
from typing import Optional

from apache_beam.io.filesystems import FileSystems
from google.api_core.exceptions import NotFound, PreconditionFailed

from transforms.errors import LeaseError

LOG = logging.getLogger(__name__)

LEASES = "_leases"
#: How long a lease holds without its run giving it back (s): longer than any night's run.
DEFAULT_TTL_S = 12 * 3600.0


@dataclasses.dataclass(frozen=True)
class Lease:
    """A night's lease: its file ``uri``, the ``run_id`` holding it and until when."""

    uri: str
    run_id: str
    expires_at: dt.datetime

    def to_json(self, *, acquired_at: dt.datetime) -> str:
        return json.dumps({"run_id": self.run_id, "acquired_at": acquired_at.isoformat(),
                           "expires_at": self.expires_at.isoformat()})


def lease_uri(out: str, run_date: str) -> str:
    """Where the lease of night ``run_date`` under ``out`` lives."""
    return FileSystems.join(out, LEASES, f"run_date={run_date}.json")


def acquire(*, out: str, run_date: str, run_id: str, now: dt.datetime,
            ttl_s: float = DEFAULT_TTL_S) -> Lease:
    """Take the night's lease for ``run_id``; LeaseError when a live lease of another run
    holds it (an expired one is taken over, with a warning). The lease is read first, then
    created only if absent, so a race between two runs is settled by the store."""
    uri = lease_uri(out, run_date)
    lease = Lease(uri=uri, run_id=run_id, expires_at=now + dt.timedelta(seconds=ttl_s))
    for _ in range(2):
        holder = _read(uri)
        if holder is not None:
            expires = dt.datetime.fromisoformat(holder["expires_at"])
            if expires > now:
                raise LeaseError(
                    f"run {holder['run_id']} (since {holder['acquired_at']}) is writing the "
                    f"night of {run_date} under {out}; its lease {uri} holds until "
                    f"{expires.isoformat()} (delete it if that run is known to be dead)")
            LOG.warning("taking over the expired lease of run %s (expired %s)",
                        holder["run_id"], expires.isoformat())
            _delete(uri)
        if _create_exclusive(uri, lease.to_json(acquired_at=now)):
            return lease
    raise LeaseError(f"could not take the lease {uri}: another run took it meanwhile")


def release(lease: Lease) -> None:
    """Give the lease back, if it is still this run's."""
    holder = _read(lease.uri)
    if holder is not None and holder["run_id"] == lease.run_id:
        _delete(lease.uri)


def _create_exclusive(uri: str, text: str) -> bool:
    """Create ``uri`` holding ``text`` only if it does not exist; whether it was created."""
    data = text.encode("utf-8")
    if uri.startswith("gs://"):
        blob = _gcs_blob(uri)
        try:
            blob.upload_from_string(data, content_type="application/json",
                                    if_generation_match=0)
        except PreconditionFailed:
            return False
        return True
    os.makedirs(os.path.dirname(uri), exist_ok=True)
    try:
        descriptor = os.open(uri, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return True


def _read(uri: str) -> Optional[dict]:
    """The lease at ``uri``, or None when there is none."""
    try:
        with FileSystems.open(uri) as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, NotFound):
        return None


def _delete(uri: str) -> None:
    try:
        FileSystems.delete([uri])
    except OSError:
        pass  # already gone


def _gcs_blob(uri: str):
    """The google-cloud-storage blob of ``uri``, on the client Beam's GCS filesystem uses
    (same credentials, same endpoint)."""
    from apache_beam.io.gcp import gcsio

    bucket, name = gcsio.parse_gcs_path(uri)
    return gcsio.GcsIO().client.bucket(bucket).blob(name)
