"""The nightly job's options as a run's settings: dates, time zones, the caller-hash key."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shutil
from zoneinfo import ZoneInfo

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from models import DEFAULT_BUNDLE
from pipelines.options import CALLER_KEY_ENV, configure_parser
from pipelines.reports import parse_started_at
from pipelines.rules import PrankRules
from pipelines.settings import CallerKeySource, settings_from_options
from transforms.errors import ConfigError

SEOUL = dt.timezone(dt.timedelta(hours=9))


def _settings(*flags: str, environ: dict | None = None, today: dt.date | None = None):
    options = PipelineOptions(["--archive=/a", "--out=/o", f"--model={DEFAULT_BUNDLE}",
                               *flags])
    return settings_from_options(options, environ=environ or {}, today=today)


def test_a_started_at_without_an_offset_is_the_call_centres_local_time():
    seoul = ZoneInfo("Asia/Seoul")
    assert parse_started_at("2026-12-05T23:30:00", timezone=seoul) == dt.datetime(
        2026, 12, 5, 14, 30, tzinfo=dt.timezone.utc)
    assert parse_started_at("2026-12-05T23:30:00Z", timezone=seoul) == dt.datetime(
        2026, 12, 5, 23, 30, tzinfo=dt.timezone.utc)
    assert parse_started_at("2026-12-05T23:30:00+01:00", timezone=seoul) == dt.datetime(
        2026, 12, 5, 22, 30, tzinfo=dt.timezone.utc)
    assert parse_started_at("yesterday", timezone=seoul) is None


def test_the_default_run_date_is_yesterday_in_the_call_centres_time_zone():
    assert _settings(today=dt.date(2026, 12, 6)).run_date == "2026-12-05"
    assert _settings("--run-date=2026-11-30", today=dt.date(2026, 12, 6)).run_date == \
        "2026-11-30"
    # without a clock given: the centre's calendar, not the launcher's
    yesterday = dt.datetime.now(SEOUL).date() - dt.timedelta(days=1)
    assert _settings().run_date == yesterday.isoformat()


def test_the_time_zone_is_checked_and_recorded():
    settings = _settings("--timezone=Europe/Copenhagen")
    assert settings.timezone == "Europe/Copenhagen"
    assert settings.describe()["timezone"] == "Europe/Copenhagen"
    assert _settings().timezone == "Asia/Seoul"
    with pytest.raises(ConfigError, match="'Mars/Olympus' is not an IANA time zone"):
        _settings("--timezone=Mars/Olympus")


def test_the_caller_hash_key_comes_from_a_file_the_environment_or_a_random_run_key(
        tmp_path, monkeypatch):
    key = tmp_path / "caller.key"
    key.write_text("s3cret\n", encoding="utf-8")
    from_file = _settings(f"--caller-hash-key-file={key}").caller_key
    assert from_file == CallerKeySource(file=str(key)) and from_file.read() == b"s3cret"

    from_env = _settings(environ={CALLER_KEY_ENV: "e"}).caller_key
    assert from_env == CallerKeySource(file=None)
    monkeypatch.setenv(CALLER_KEY_ENV, "from-the-worker")
    assert from_env.read() == b"from-the-worker"
    monkeypatch.delenv(CALLER_KEY_ENV)
    with pytest.raises(ConfigError, match="not set on this worker"):
        from_env.read()

    random_key = _settings().caller_key
    assert random_key.random and random_key.file.endswith("/_caller_key")
    assert random_key.file.startswith("/o/_staging/")


def test_a_key_on_the_command_line_and_unreadable_key_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="would put the key into the job's options"):
        _settings("--caller-hash-key=s3cret")
    with pytest.raises(ConfigError, match="cannot read the caller hash key file"):
        _settings(f"--caller-hash-key-file={tmp_path / 'missing.key'}")
    (tmp_path / "empty.key").write_text("  \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is empty"):
        _settings(f"--caller-hash-key-file={tmp_path / 'empty.key'}")


def test_the_bundle_is_named_as_every_command_names_it_and_model_still_works(tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, copy)
    for flag in ("--bundle", "--model"):
        options = PipelineOptions(["--archive=/a", "--out=/o", f"{flag}={copy}"])
        settings = settings_from_options(options, environ={})
        assert settings.bundle == str(copy)
        assert settings.describe()["model"] == str(copy)


def test_each_prank_rule_option_carries_its_own_help():
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    helps = {action.dest: action.help for action in parser._actions}
    assert "text_audio_mismatch" in helps["mismatch_text_min"]
    assert "repeat_caller" in helps["repeat_min_calls"]
    assert "model_prank" in helps["model_min"]
    assert len({helps[field.name] for field in dataclasses.fields(PrankRules)}) == 6
