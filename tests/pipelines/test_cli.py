"""The ``call-triage`` command line: one convention for every command, and its exit codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pipelines.cli import EXIT_USAGE, main
from pipelines.options import EXIT_ERROR_RATE

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_CALL = os.path.join(REPO, "examples", "archive", "audio", "syn7-00000.wav")


def test_an_unknown_option_of_a_command_fails_before_any_work(tmp_path, capsys):
    out = tmp_path / "synth"
    with pytest.raises(SystemExit) as caught:
        main(["synth", "--out", str(out), "--calls", "2", "--seed", "1", "--sample-rate", "8000"])
    assert caught.value.code == EXIT_USAGE
    assert "unknown option(s): --sample-rate" in capsys.readouterr().err
    assert not out.exists()


def test_a_mistyped_option_of_the_nightly_job_is_refused_with_a_suggestion(tmp_path, capsys):
    out = tmp_path / "reports"
    with pytest.raises(SystemExit) as caught:
        main(["run", "--archive", str(tmp_path), "--out", str(out), "--flag-mn", "0.3"])
    assert caught.value.code == EXIT_USAGE
    assert "unknown option(s): --flag-mn (did you mean --flag" in capsys.readouterr().err
    assert not out.exists()


def test_beam_options_still_reach_beam_and_bad_values_fail_early(tmp_path, capsys):
    status = main(["run", "--archive", str(tmp_path / "nothing-here"), "--out",
                   str(tmp_path / "reports"), "--max-error-rate", "2", "--runner=FnApiRunner"])
    assert status == EXIT_USAGE
    assert "max_error_rate=2.0 must be in [0, 1]" in capsys.readouterr().err


def test_version_and_verbose_after_the_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0 and capsys.readouterr().out.startswith("call-triage ")

    out = tmp_path / "synth"
    assert main(["synth", "--out", str(out), "--calls", "1", "--seed", "3", "--workers", "1",
                 "--long-fraction", "0", "-v"]) == 0
    assert (out / "manifest.csv").exists()


def test_a_run_with_too_many_failed_calls_publishes_and_exits_3(tmp_path, capsys):
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(EXAMPLE_CALL, archive / "good.wav")
    (archive / "manifest.csv").write_text(
        "call_id,audio\ngood,good.wav\ngone,missing.wav\n", encoding="utf-8")
    (tmp_path / "caller.key").write_text("k", encoding="utf-8")
    argv = ["run", "--archive", str(archive), "--out", str(tmp_path / "reports"),
            "--run-date", "2026-12-01", "--caller-hash-key-file", str(tmp_path / "caller.key")]

    assert main(argv + ["--max-error-rate", "0.1"]) == EXIT_ERROR_RATE
    assert "1 of 2 calls failed (50.0%), more than --max-error-rate 10.0%" in \
        capsys.readouterr().err
    assert (tmp_path / "reports" / "summaries" / "run_date=2026-12-01" / "summary.json").exists()
    assert main(argv + ["--max-error-rate", "0.5"]) == 0


def test_a_missing_archive_fails_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "reports"
    status = main(["run", "--archive", str(tmp_path / "no-such-night"), "--out", str(out)])
    assert status == EXIT_USAGE
    assert "does not exist or holds no files" in capsys.readouterr().err
    assert not out.exists()


def test_run_help_and_option_checks_do_not_load_tensorflow():
    code = ("import sys\nfrom pipelines.cli import main\ntry:\n    main(['run', '--help'])\n"
            "except SystemExit:\n    pass\nprint('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=True)
    assert "--caller-hash-key-file" in done.stdout
    assert done.stdout.strip().endswith("False")
