"""Fixtures shared by all tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.gcs import GcsEmulator, running_emulator


@pytest.fixture
def gcs_emulator() -> Iterator[GcsEmulator]:
    """A fresh in-memory GCS emulator on 127.0.0.1 with an empty bucket
    ``gcs_emulator.bucket``; Beam's ``FileSystems`` reads and writes ``gs://`` on it.
    ``gcs_emulator.upload_folder(path, "gs://bucket/prefix")`` copies a local folder in.
    See :mod:`tests.gcs`."""
    with running_emulator() as emulator:
        yield emulator
