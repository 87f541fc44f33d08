"""The nightly job's full graph builds and translates for Dataflow (``--dry_run``: no network)."""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.triage import DEFAULT_BUNDLE, build_pipeline, settings_from_options



def test_dataflow_dry_run_serialises_and_translates_every_step():
    options = PipelineOptions([
        "--runner=DataflowRunner", "--dry_run=True",
        "--project=call-triage-test", "--region=asia-northeast3",
        "--temp_location=gs://call-triage-test/tmp",
        "--sdk_container_image=asia-northeast3-docker.pkg.dev/p/r/call-triage:0.1.0",
        "--archive=gs://call-archive/2026-11-22", "--out=gs://call-reports/triage",
        f"--model={DEFAULT_BUNDLE}", "--run_date=2026-11-22", "--caller_hash_key=k",
    ])
    settings = settings_from_options(options, environ={}, today=dt.date(2026, 11, 23))
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, settings=settings)

    result = pipeline.run()

    transforms = result.job.proto_pipeline.components.transforms.values()
    labels = {transform.unique_name for transform in transforms}
    for step in ("ReadArchive", "ExtractFeatures", "RunInference", "Aggregate",
                 "GroupByCaller", "WriteCalls", "WriteEmergencies", "WritePrankCandidates",
                 "WriteErrors", "WriteInputIds"):
        assert step in labels, f"{step} missing from the Dataflow graph"
    # every user DoFn was pickled into the graph
    payloads = [t.spec.payload for t in transforms if t.spec.urn == "beam:transform:pardo:v1"]
    assert len(payloads) > 10
