"""Model arithmetic: which precisions a bundle's model may compute in, and when ``auto``
picks bfloat16.

No TensorFlow here (launchers and benchmarks import it cheaply);
:func:`models.serving.with_precision` builds the bfloat16 copy of a model and
:func:`models.bundle.record_precision_check` writes a check into a bundle.
"""

from __future__ import annotations

from typing import Any, Mapping

from transforms.errors import BundleError, ConfigError

#: Manifest key of the lower-precision checks (:func:`precision_check_record`).
PRECISION_CHECKS_KEY = "precision_checks"
#: Arithmetic a loaded model can compute in: ``float32`` (as trained and as its thresholds
#: were chosen) or ``bfloat16`` (weights kept in float32, layers compute in bfloat16).
PRECISIONS = ("float32", "bfloat16")
#: What ``--inference_precision`` accepts: a precision, or ``auto`` (:func:`resolve_precision`).
PRECISION_CHOICES = ("auto",) + PRECISIONS
#: The thresholded decisions a precision check must leave unchanged for ``auto``.
FLAG_DECISIONS = ("emergency", "prank")
_CPU_FLAGS_FILE = "/proc/cpuinfo"
_NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bfloat16(cpu_flags_file: str = _CPU_FLAGS_FILE) -> bool | None:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16), read from
    ``cpu_flags_file`` (Linux's ``/proc/cpuinfo``); None where that file is missing."""
    try:
        with open(cpu_flags_file, encoding="utf-8") as handle:
            flags = set(handle.read().split())
    except OSError:
        return None
    return any(flag in flags for flag in _NATIVE_BF16_FLAGS)


def check_precision_checks(checks: object) -> None:
    """Raise BundleError unless ``checks`` maps lower precisions to records whose
    ``decisions_changed`` maps head names to counts >= 0 (:func:`precision_check_record`)."""
    if not isinstance(checks, Mapping):
        raise BundleError(f"{PRECISION_CHECKS_KEY}={checks!r} must be a JSON object")
    for precision, check in checks.items():
        if precision not in PRECISIONS[1:]:
            raise BundleError(f"{PRECISION_CHECKS_KEY} has a check for {precision!r}; "
                              f"lower precisions are {PRECISIONS[1:]}")
        changed = check.get("decisions_changed") if isinstance(check, Mapping) else None
        if not isinstance(changed, Mapping) or not changed or not all(
                isinstance(count, int) and not isinstance(count, bool) and count >= 0
                for count in changed.values()):
            raise BundleError(f"{PRECISION_CHECKS_KEY}[{precision!r}] needs "
                              f"decisions_changed as {{head: count >= 0}}, got {check!r}")


def precision_check_record(check: Mapping[str, Any], *, model_version: str,
                           thresholds: Mapping[str, float]) -> dict[str, Any]:
    """What ``bundle.json`` keeps of a :func:`models.evaluate.precision_check` (all but its
    ``precision``, which is the key), tied to the ``model_version`` and ``thresholds`` it
    was made for: :func:`resolve_precision` ignores a record of another model or other
    thresholds."""
    return {**{key: value for key, value in check.items() if key != "precision"},
            "model_version": model_version, "thresholds": dict(thresholds)}


def resolve_precision(requested: str, *, metadata: Mapping[str, Any], native: bool | None
                      ) -> tuple[str, str]:
    """The precision to compute in, and why (a phrase for the log).

    A precision of :data:`PRECISIONS` is used as requested. ``"auto"`` gives bfloat16
    only when the CPU computes it natively (``native``, as :func:`native_bfloat16`
    answers) and the bundle's ``metadata`` (its ``bundle.json``) records a bfloat16 check
    of this model version and these thresholds that covered, and changed none of, the
    bundle's thresholded :data:`FLAG_DECISIONS` (``emergency``, and ``prank`` when the
    bundle has a prank threshold); otherwise float32, the arithmetic the thresholds were
    chosen in. A changed top category (a near-tie of two of the 16) does not count.
    Raises ConfigError for an unknown ``requested``, BundleError for malformed checks.
    """
    if requested in PRECISIONS:
        return requested, "as requested"
    if requested != "auto":
        raise ConfigError(f"precision={requested!r} must be one of {PRECISION_CHOICES}")
    if native is None:
        return "float32", "auto: cannot tell whether this CPU has native bfloat16"
    if not native:
        return "float32", "auto: this CPU has no native bfloat16 (avx512_bf16 or amx_bf16)"
    checks = metadata.get(PRECISION_CHECKS_KEY, {})
    check_precision_checks(checks)
    check = checks.get("bfloat16")
    if check is None:
        return "float32", ("auto: the bundle records no bfloat16 check "
                           "(call-triage check-precision)")
    thresholds = metadata.get("thresholds", {})
    if (check.get("model_version") != metadata.get("model_version")
            or check.get("thresholds") != thresholds):
        return "float32", ("auto: the bundle's bfloat16 check was made for another model "
                           "version or other thresholds (call-triage check-precision)")
    heads = [head for head in FLAG_DECISIONS if head in thresholds]
    unchecked = [head for head in heads if head not in check["decisions_changed"]]
    if unchecked:
        return "float32", f"auto: the bundle's bfloat16 check did not cover {unchecked}"
    changed = sum(check["decisions_changed"][head] for head in heads)
    if changed:
        return "float32", (f"auto: bfloat16 changed {changed} emergency or prank "
                           f"decision(s) on the bundle's {check.get('split', '?')} split")
    return "bfloat16", (f"auto: native bfloat16; no emergency or prank decision changed on "
                        f"the bundle's {check.get('split', '?')} split "
                        f"({check.get('calls', '?')} calls)")


def scored_windows_counter(precision: str) -> str:
    """Name of the Beam counter of the windows the model scored in ``precision``."""
    return f"windows_scored_{precision}"
