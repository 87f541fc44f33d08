"""The nightly job's settings: its options (:mod:`pipelines.options`) checked, the
bundle's metadata read, and where the workers find the caller-hash key."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import secrets
import uuid
import zoneinfo
from typing import Any, Optional

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from models.bundle import read_bundle_metadata
from pipelines import publish, reports
from pipelines.options import CALLER_KEY_ENV, DEFAULT_TIMEZONE, TriageOptions
from pipelines.rules import PrankRules
from transforms.errors import ConfigError
from transforms.spec import FeatureConfig

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TriageSettings:
    """Validated settings of one run (no secrets are logged or written)."""

    archive: str
    out: str
    bundle: str
    run_date: str
    timezone: str
    run_id: str
    caller_key: CallerKeySource
    include_transcripts: bool
    report: bool
    include_audio_clips: bool
    allow_empty: bool
    max_error_rate: float
    max_batch_size: int
    inference_precision: str
    rules: PrankRules
    emergency_threshold: float
    model_name: str
    model_version: str
    config: FeatureConfig

    @property
    def staging(self) -> str:
        return publish.staging_root(self.out, self.run_id)

    def describe(self) -> dict[str, Any]:
        """The settings as written to the summary (the key itself is left out)."""
        return {
            "archive": self.archive, "out": self.out, "model": self.bundle,
            "run_date": self.run_date, "timezone": self.timezone, "run_id": self.run_id,
            "caller_hash_key_source": self.caller_key.describe(),
            "include_transcripts": self.include_transcripts,
            "report": self.report,
            "include_audio_clips": self.include_audio_clips,
            "allow_empty": self.allow_empty,
            "max_error_rate": self.max_error_rate,
            "max_batch_size": self.max_batch_size,
            "inference_precision": self.inference_precision,
            "prank_rules": dataclasses.asdict(self.rules),
            "emergency_threshold": self.emergency_threshold,
        }


def parse_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name``; ConfigError when there is none of that name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone={name!r} is not an IANA time zone name "
                          f"(e.g. {DEFAULT_TIMEZONE})") from None


def parse_run_date(value: Optional[str], *, today: dt.date) -> str:
    """``YYYY-MM-DD`` (default: the day before ``today``, the day a nightly run after
    midnight closes); anything else is a ConfigError."""
    if value is None:
        return (today - dt.timedelta(days=1)).isoformat()
    return reports.checked_run_date(value)


@dataclasses.dataclass(frozen=True)
class CallerKeySource:
    """Where the workers read the caller-hash key: ``file`` (local or ``gs://``), or
    without one the environment variable :data:`CALLER_KEY_ENV` of each worker. It holds
    no key, so the job graph, the options and the logs never do; ``random`` marks a
    per-run key the launcher wrote to ``file`` (in the run's staging folder)."""

    file: Optional[str]
    random: bool = False

    def read(self) -> bytes:
        """The key; ConfigError when its file is unreadable or empty, or no key is set."""
        if self.file is None:
            value = os.environ.get(CALLER_KEY_ENV, "").strip()
            if not value:
                raise ConfigError(f"${CALLER_KEY_ENV} is not set on this worker; give the "
                                  f"workers the key with --caller-hash-key-file")
            return value.encode("utf-8")
        try:
            with FileSystems.open(self.file) as handle:
                key = handle.read().strip()
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read the caller hash key file {self.file}: "
                              f"{type(error).__name__}") from None
        if not key:
            raise ConfigError(f"the caller hash key file {self.file} is empty")
        return key

    def describe(self) -> str:
        """Where the key comes from, for the summary (never the key)."""
        if self.random:
            return "random per-run key"
        return f"file {self.file}" if self.file else f"${CALLER_KEY_ENV}"


def caller_key_source(key_file: Optional[str], *, environ: dict, staging: str
                      ) -> CallerKeySource:
    """Where this run's workers will read the caller-hash key: ``key_file`` (checked
    readable now), else :data:`CALLER_KEY_ENV` when the launcher has it, else a random
    per-run key that :func:`write_random_key` puts in the staging folder."""
    if key_file:
        source = CallerKeySource(file=key_file)
        source.read()
        return source
    if environ.get(CALLER_KEY_ENV, "").strip():
        return CallerKeySource(file=None)
    LOG.warning("no caller hash key (--caller-hash-key-file or $%s): using a random key, "
                "so caller hashes cannot be linked across runs", CALLER_KEY_ENV)
    return CallerKeySource(file=FileSystems.join(staging, "_caller_key"), random=True)


def write_random_key(source: CallerKeySource) -> None:
    """Write a new random key to a random source's file (nothing for other sources)."""
    if not source.random:
        return
    if "://" not in source.file:
        os.makedirs(os.path.dirname(source.file), exist_ok=True)
    with FileSystems.create(source.file) as handle:
        handle.write(secrets.token_hex(32).encode("ascii"))


def remove_random_key(source: CallerKeySource) -> None:
    """Delete a random source's key file once the run is over (kept reports or not)."""
    if source.random and FileSystems.exists(source.file):
        FileSystems.delete([source.file])


def _absolute(path: str) -> str:
    """A local ``path`` made absolute (what the summary records is then valid from any
    folder); a ``gs://`` URI as it is."""
    return path if "://" in path else os.path.abspath(path)


def settings_from_options(options: PipelineOptions, *, environ: dict,
                          today: Optional[dt.date] = None) -> TriageSettings:
    """The run's settings, validated; ``today`` (in the call centre's time zone) stands for
    the clock in tests."""
    triage = options.view_as(TriageOptions)
    if not triage.archive or not triage.out:
        raise ConfigError("--archive and --out are required")
    if triage.max_batch_size < 1:
        raise ConfigError(f"max_batch_size={triage.max_batch_size} must be >= 1")
    if not 0.0 <= triage.max_error_rate <= 1.0:
        raise ConfigError(f"max_error_rate={triage.max_error_rate} must be in [0, 1]")
    if triage.caller_hash_key:
        raise ConfigError("--caller-hash-key would put the key into the job's options (and "
                          "the Dataflow console); give a file with --caller-hash-key-file "
                          f"or set ${CALLER_KEY_ENV}")
    metadata = read_bundle_metadata(triage.bundle)
    zone = parse_timezone(triage.timezone)
    run_date = parse_run_date(triage.run_date, today=today or dt.datetime.now(zone).date())
    run_id = f"{run_date}-{dt.datetime.now(dt.timezone.utc):%H%M%S}-{uuid.uuid4().hex[:8]}"
    out = triage.out.rstrip("/")
    return TriageSettings(
        archive=_absolute(triage.archive.rstrip("/")), out=out, bundle=_absolute(triage.bundle),
        run_date=run_date, timezone=triage.timezone, run_id=run_id,
        caller_key=caller_key_source(triage.caller_hash_key_file, environ=environ,
                                     staging=publish.staging_root(out, run_id)),
        include_transcripts=triage.include_transcripts,
        report=triage.report,
        include_audio_clips=triage.include_audio_clips,
        allow_empty=triage.allow_empty,
        max_error_rate=triage.max_error_rate,
        max_batch_size=triage.max_batch_size,
        inference_precision=triage.inference_precision,
        rules=PrankRules(**{f.name: getattr(triage, f.name)
                            for f in dataclasses.fields(PrankRules)}),
        emergency_threshold=float(metadata["thresholds"]["emergency"]),
        model_name=metadata["model_name"], model_version=metadata["model_version"],
        config=FeatureConfig.from_dict(metadata["feature_config"]),
    )
