"""``call-triage features``: the feature-extraction job (archive → Parquet for training).

Writes under ``--out``:
  ``features/part-*.parquet`` — one row per 7-s window (schema :data:`FEATURES_SCHEMA`);
  ``errors/part-*.parquet`` — one row per call that failed (schema :data:`ERRORS_SCHEMA`).
Every listed call lands in exactly one of them.
"""

from __future__ import annotations

import argparse
import logging
from typing import Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from pipelines.reports import ERRORS_SCHEMA, PARQUET_CODEC, error_row
from transforms.beam import CALLS, ERRORS, ExtractFeatures, ReadArchive
from transforms.features import CallFeatures
from transforms.spec import DEFAULT_FEATURES, FeatureConfig

LOG = logging.getLogger(__name__)

def features_schema(config: FeatureConfig) -> pa.Schema:
    """One row per window; ``log_mel`` is the (n_mels, n_frames) window, row-major, in dB."""
    return pa.schema([
        pa.field("call_id", pa.string(), nullable=False),
        pa.field("window_index", pa.int32(), nullable=False),
        pa.field("window_start_s", pa.float32(), nullable=False),
        pa.field("n_windows", pa.int32(), nullable=False),
        pa.field("duration_s", pa.float32(), nullable=False),
        pa.field("sample_rate_hz", pa.int32(), nullable=False),
        pa.field("n_channels", pa.int32(), nullable=False),
        pa.field("tokens", pa.list_(pa.string()), nullable=False),
        pa.field("label", pa.string()),
        pa.field("category", pa.string()),
        pa.field("split", pa.string()),
        pa.field("event_start_s", pa.float32()),
        pa.field("event_end_s", pa.float32()),
        pa.field("log_mel", pa.list_(pa.float32(), config.n_mels * config.n_frames),
                 nullable=False),
    ], metadata={"feature_config": FeatureConfig.to_json(config)})


def features_to_table(call: CallFeatures, *, schema: pa.Schema) -> pa.Table:
    """The windows of one call as a table of ``schema`` (n_windows rows)."""
    n = call.n_windows
    record = call.record
    flat = pa.array(np.ascontiguousarray(call.log_mel, dtype=np.float32).reshape(-1))
    columns = {
        "call_id": [record.call_id] * n,
        "window_index": np.arange(n, dtype=np.int32),
        "window_start_s": call.window_starts_s.astype(np.float32),
        "n_windows": [n] * n,
        "duration_s": [call.duration_s] * n,
        "sample_rate_hz": [call.sample_rate_hz] * n,
        "n_channels": [call.n_channels] * n,
        "tokens": [list(call.tokens)] * n,
        "label": [record.label] * n,
        "category": [record.category] * n,
        "split": [record.split] * n,
        "event_start_s": [record.event_start_s] * n,
        "event_end_s": [record.event_end_s] * n,
        "log_mel": pa.FixedSizeListArray.from_arrays(
            flat, schema.field("log_mel").type.list_size),
    }
    return pa.table(columns, schema=schema)


def build_pipeline(
    pipeline: beam.Pipeline, *, archive: str, out: str, config: FeatureConfig
) -> None:
    """Wire the job: read → featurise → Parquet; errors from both stages → errors Parquet."""
    listed = pipeline | "ReadArchive" >> ReadArchive(archive)
    featurised = listed[CALLS] | "ExtractFeatures" >> ExtractFeatures(config)
    schema = features_schema(config)
    (featurised[CALLS]
     | "ToTable" >> beam.Map(features_to_table, schema=schema)
     | "WriteFeatures" >> beam.io.WriteToParquetBatched(
         FileSystems.join(out, "features", "part"), schema=schema,
         codec=PARQUET_CODEC, file_name_suffix=".parquet"))
    ((listed[ERRORS], featurised[ERRORS])
     | "AllErrors" >> beam.Flatten()
     | "ErrorRows" >> beam.Map(error_row)
     | "WriteErrors" >> beam.io.WriteToParquet(
         FileSystems.join(out, "errors", "part"), schema=ERRORS_SCHEMA,
         codec=PARQUET_CODEC, file_name_suffix=".parquet", num_shards=1))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", required=True, help="archive folder or gs:// prefix")
    parser.add_argument("--out", required=True, help="output folder or gs:// prefix")
    parser.add_argument("--hop-s", type=float, default=DEFAULT_FEATURES.hop_s,
                        help="seconds between window starts (default: %(default)s)")


def run(argv: Sequence[str] | None = None, *, archive: str, out: str,
        config: FeatureConfig = DEFAULT_FEATURES) -> None:
    """Run the job; ``argv`` are Beam pipeline options (default: the DirectRunner)."""
    options = PipelineOptions(list(argv or []))
    options.view_as(SetupOptions).save_main_session = False
    with beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, archive=archive, out=out, config=config)
    LOG.info("features written under %s", out)


def run_command(args: argparse.Namespace) -> int:
    config = FeatureConfig.from_dict({**DEFAULT_FEATURES.to_dict(), "hop_s": args.hop_s})
    run(args.pipeline_args, archive=args.archive, out=args.out, config=config)
    return 0
