"""The one exception hierarchy of call-triage.

Every failure the code expects (bad input, a bad model bundle, a bad option) raises a
subclass of :class:`CallTriageError`. Pipelines route the per-call ones
(:class:`CallInputError`) to the errors report; anything else is a bug and fails loudly.
"""

from __future__ import annotations


class CallTriageError(Exception):
    """Root of every error call-triage raises on purpose."""


class ConfigError(CallTriageError):
    """An option or configuration value is invalid."""


class ArchiveError(CallTriageError):
    """The archive as a whole cannot be read (no manifest or audio, unreadable manifest)."""


class CallInputError(CallTriageError):
    """One call's input is unusable; the call goes to the errors report, the job goes on.

    ``stage`` names the pipeline stage the errors report shows for this kind of failure.
    """

    stage = "read"


class ManifestRowError(CallInputError):
    """A manifest row or sidecar is invalid: empty or duplicate id, path outside the archive."""


class SourceError(CallInputError):
    """A file a call refers to is missing or cannot be read."""


class AudioError(CallInputError):
    """Audio bytes cannot be decoded or hold no usable signal (empty, truncated, NaN/Inf)."""

    stage = "decode"


class FeatureError(CallInputError):
    """Decoded audio gave unusable features (e.g. non-finite log-mel values)."""

    stage = "features"


class TranscriptError(CallInputError):
    """A transcript cannot be decoded (neither UTF-8 nor CP949) or parsed."""


class TokenizerError(CallInputError):
    """The tokenizer failed on one transcript."""

    stage = "tokenise"


class InferenceError(CallInputError):
    """The model gave unusable outputs (NaN or Inf) for one call's inputs."""

    stage = "inference"


class BundleError(CallTriageError):
    """A model bundle is incomplete, corrupt, or does not match the feature code."""


class ReportError(CallTriageError):
    """A night's reports fail their integrity check (input = scored + errors), or the
    night asked for is not published."""


class LeaseError(CallTriageError):
    """Another run holds the night: two runs of one night into one output never mix."""
