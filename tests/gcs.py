"""A real GCS emulator on loopback for tests, with Beam's GCS filesystem pointed at it.

:func:`running_emulator` starts gcp-storage-emulator (in memory) on 127.0.0.1 at a free
port and, while it runs:

- sets ``STORAGE_EMULATOR_HOST``, which google-cloud-storage's ``Client`` honours, so every
  client Beam creates talks to the emulator;
- makes Beam's GCS filesystem connect anonymously. ``GcsIO`` always builds its client
  with ``apache_beam.io.gcp.gcsio.create_storage_client(options)``, which first looks for
  Application Default Credentials; without them Beam retries for ~25 s before it falls
  back to an anonymous client, and with them it would send real credentials to the
  emulator. So the function is replaced by itself with ``use_credentials=False`` (its
  public anonymous mode). This holds in this process only: run pipelines in-process
  (DirectRunner's default), not in worker subprocesses.

Both are undone when the emulator stops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import socket
from pathlib import Path
from typing import Iterator

import pytest
from apache_beam.io.gcp import gcsio
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

HOST = "127.0.0.1"
DEFAULT_BUCKET = "call-triage-test"


@dataclasses.dataclass(frozen=True)
class GcsEmulator:
    """A running emulator: its ``endpoint``, a ``client`` on it and a ready ``bucket``."""

    endpoint: str
    client: storage.Client
    bucket: str

    def upload_folder(self, folder: Path, uri: str) -> list[str]:
        """Uploads every file under ``folder`` to ``uri`` (``gs://bucket/prefix``), keeping
        relative paths; returns the object URIs, sorted."""
        # prefix is "" for gs://bucket, else "prefix/"
        bucket_name, prefix = gcsio.parse_gcs_path(uri.rstrip("/") + "/", object_optional=True)
        bucket = self.client.bucket(bucket_name)
        uploaded = []
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            name = prefix + path.relative_to(folder).as_posix()
            bucket.blob(name).upload_from_filename(str(path))
            uploaded.append(f"gs://{bucket_name}/{name}")
        return uploaded


@contextlib.contextmanager
def running_emulator(*, bucket: str = DEFAULT_BUCKET) -> Iterator[GcsEmulator]:
    """Runs an in-memory emulator holding an empty ``bucket``; see the module docstring."""
    port = _free_port()
    server = create_server(HOST, port, in_memory=True, default_bucket=bucket)
    server.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            endpoint = f"http://{HOST}:{port}"
            patch.setenv("STORAGE_EMULATOR_HOST", endpoint)
            patch.setattr(gcsio, "create_storage_client",
                          functools.partial(gcsio.create_storage_client, use_credentials=False))
            client = storage.Client(project="call-triage-test",
                                    credentials=AnonymousCredentials())
            yield GcsEmulator(endpoint=endpoint, client=client, bucket=bucket)
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]
