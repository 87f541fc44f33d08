"""The nightly job's command-line options (``call-triage run``), apart from the job so
that ``run --help`` and option checks do not load TensorFlow."""

from __future__ import annotations

import argparse
import dataclasses

from apache_beam.options.pipeline_options import PipelineOptions

from models import DEFAULT_BUNDLE
from models.precision import PRECISION_CHOICES
from pipelines.rules import PrankRules

CALLER_KEY_ENV = "CALL_TRIAGE_CALLER_KEY"
DEFAULT_TIMEZONE = "Asia/Seoul"
DEFAULT_MAX_ERROR_RATE = 0.05
#: Exit code of a run that finished and published with too many failed calls.
EXIT_ERROR_RATE = 3


class TriageOptions(PipelineOptions):
    """Options of the nightly job; every other flag goes to Beam (runner, project, …)."""

    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        defaults = PrankRules()
        parser.add_argument("--archive",
                            help="archive folder or gs:// prefix (layout: docs/archive.md)")
        parser.add_argument("--out",
                            help="report root, folder or gs:// prefix (reports: docs/reports.md)")
        parser.add_argument("--bundle", dest="bundle", default=DEFAULT_BUNDLE,
                            help="model bundle folder or gs:// prefix (default: the bundled "
                                 "model)")
        # --bundle's old name, kept for existing cron lines (hidden: train's --model names
        # an architecture)
        parser.add_argument("--model", dest="bundle", help=argparse.SUPPRESS)
        parser.add_argument("--run-date", "--run_date", dest="run_date", default=None,
                            help="YYYY-MM-DD partition to write (default: yesterday in "
                                 "--timezone, the day a run after midnight closes)")
        parser.add_argument("--timezone", default=DEFAULT_TIMEZONE,
                            help="the call centre's time zone (IANA name): the time of a "
                                 "started_at without an offset, and the default run date "
                                 "(default: %(default)s)")
        parser.add_argument("--caller-hash-key-file", "--caller_hash_key_file",
                            dest="caller_hash_key_file", default=None,
                            help="file (local or gs://) holding the key of the caller-id "
                                 "hash, read by each worker (default: "
                                 f"${CALLER_KEY_ENV} on each worker; without either, a random "
                                 "per-run key)")
        parser.add_argument("--caller-hash-key", "--caller_hash_key", dest="caller_hash_key",
                            default=None, help=argparse.SUPPRESS)
        parser.add_argument("--max-error-rate", "--max_error_rate", dest="max_error_rate",
                            type=float, default=DEFAULT_MAX_ERROR_RATE,
                            help="share of the calls that may fail before the run exits with "
                                 f"code {EXIT_ERROR_RATE} (it still publishes; default "
                                 "%(default)s)")
        parser.add_argument("--allow-empty", "--allow_empty", dest="allow_empty",
                            action="store_true",
                            help="let an archive that lists no calls replace a published "
                                 "night (refused by default: an empty manifest is more often "
                                 "a broken export than a quiet night)")
        parser.add_argument("--include-transcripts", "--include_transcripts",
                            dest="include_transcripts", action="store_true",
                            help="copy transcripts into the calls report (off by default)")
        parser.add_argument("--no-report", "--no_report", dest="report", action="store_false",
                            help="do not write the night's HTML report (written by default: "
                                 "call-triage report)")
        parser.add_argument("--include-audio-clips", "--include_audio_clips",
                            dest="include_audio_clips", action="store_true",
                            help="embed each flagged call's evidence window in the HTML "
                                 "report (off by default: recordings are sensitive)")
        parser.add_argument("--max-batch-size", "--max_batch_size", dest="max_batch_size",
                            type=int, default=128,
                            help="windows per model call (default: %(default)s)")
        parser.add_argument("--inference-precision", "--inference_precision",
                            dest="inference_precision", choices=PRECISION_CHOICES,
                            default="auto",
                            help="arithmetic of the model: float32 (as trained), bfloat16 "
                                 "(faster on CPUs with AVX512-BF16 or AMX; scores move a "
                                 "little: check-precision measures it), or auto (default): "
                                 "bfloat16 where the CPU has it natively and the bundle's bfloat16 check changed no "
                                 "emergency or prank decision, float32 otherwise; chosen on "
                                 "each worker")
        for field in dataclasses.fields(PrankRules):
            flag = field.name.replace("_", "-")
            parser.add_argument(f"--{flag}", f"--{field.name}", dest=field.name,
                                type=type(getattr(defaults, field.name)),
                                default=getattr(defaults, field.name),
                                help=f"{field.metadata['help']} (default: %(default)s)")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    TriageOptions._add_argparse_args(parser)
