"""The model bundle: everything the nightly job needs to score calls, in one directory.

A bundle is a directory, local or ``gs://…`` (any Beam FileSystems scheme), holding

- ``model.keras`` — the Keras model (``.keras`` zip: config JSON + weights, no pickle);
- ``vocabulary.json`` — :meth:`transforms.vocabulary.Vocabulary.to_json`;
- ``features.json`` — :meth:`transforms.spec.FeatureConfig.to_dict` of the training run;
- ``metrics.json`` — evaluation metrics (free-form JSON object);
- ``MODEL_CARD.md`` — the human-readable model card;
- ``bundle.json`` — the manifest: ``format`` ``"call-triage-bundle"``, ``format_version``
  1, ``model_name`` (architecture), ``model_version``, ``created_at`` (ISO 8601 UTC),
  ``thresholds`` (``{"emergency": 0.5, …}``), ``input_names``, ``output_names``,
  ``weights_origin`` (``"random-init"`` or ``"imagenet-local:<file>"``),
  ``feature_fingerprint``, ``training`` (summary), optionally ``precision_checks``
  (:func:`record_precision_check`) and any further metadata keys.

:func:`load_bundle` checks all of it against the code (feature config, input shapes,
outputs, vocabulary size) and raises :class:`BundleError` saying what is wrong.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
import zipfile
from typing import TYPE_CHECKING, Any, Mapping

import keras
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from models.layers import CUSTOM_LAYERS
from models.precision import (PRECISION_CHECKS_KEY, check_precision_checks,
                              precision_check_record)
from transforms.errors import BundleError, ConfigError
from transforms.spec import (
    CATEGORIES,
    CATEGORY_OUTPUT,
    EMERGENCY_OUTPUT,
    MODEL_INPUTS,
    SIGMOID_OUTPUTS,
    FeatureConfig,
)

if TYPE_CHECKING:
    from transforms.vocabulary import Vocabulary

BUNDLE_FORMAT = "call-triage-bundle"
BUNDLE_FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
VOCABULARY_FILE = "vocabulary.json"
FEATURES_FILE = "features.json"
METRICS_FILE = "metrics.json"
MODEL_CARD_FILE = "MODEL_CARD.md"
MANIFEST_FILE = "bundle.json"
#: The files of a bundle, in the order they are written (the manifest last).
BUNDLE_FILES = (MODEL_FILE, VOCABULARY_FILE, FEATURES_FILE, METRICS_FILE, MODEL_CARD_FILE,
                MANIFEST_FILE)

#: Manifest keys save_bundle computes; metadata may not set them.
_COMPUTED_KEYS = ("format", "format_version", "thresholds", "input_names", "output_names",
                  "feature_fingerprint")
_REQUIRED_STR_KEYS = ("model_name", "model_version", "created_at", "weights_origin")


@dataclasses.dataclass(frozen=True, eq=False)
class ModelBundle:
    """A loaded, checked bundle.

    ``metadata`` is the parsed ``bundle.json``; ``thresholds`` its thresholds as floats;
    ``path`` where the bundle was loaded from (a ``gs://`` URI stays as given);
    ``precision`` the arithmetic its model computes in (:func:`with_precision`).
    """

    model: keras.Model
    vocabulary: "Vocabulary"
    config: FeatureConfig
    metadata: dict[str, Any]
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    path: str
    precision: str = "float32"

    @property
    def model_name(self) -> str:
        """The architecture, e.g. ``"multimodal"``."""
        return self.metadata["model_name"]

    @property
    def model_version(self) -> str:
        return self.metadata["model_version"]

    @property
    def input_names(self) -> tuple[str, ...]:
        """The feature inputs the model takes (``transforms.spec`` ``*_INPUT``)."""
        return tuple(tensor.name for tensor in self.model.inputs)


def _is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) is None


def _check_model(model: keras.Model, *, config: FeatureConfig, vocab_size: int) -> None:
    """Raise BundleError unless ``model`` takes ``config``'s inputs and has the outputs
    and vocabulary size the scorer relies on."""
    expected = {name: spec.shape(config) for name, spec in MODEL_INPUTS.items()}
    if not model.inputs:
        raise BundleError("the model has no inputs")
    for tensor in model.inputs:
        if tensor.name not in expected:
            raise BundleError(f"model input {tensor.name!r} is not a feature input; "
                              f"known: {sorted(expected)}")
        shape = tuple(tensor.shape[1:])
        if shape != expected[tensor.name]:
            raise BundleError(f"model input {tensor.name!r} has shape {shape}, the feature "
                              f"config gives {expected[tensor.name]}")
    outputs = {name: tuple(tensor.shape[1:])
               for name, tensor in zip(model.output_names, model.outputs)}
    missing = [name for name in (EMERGENCY_OUTPUT, CATEGORY_OUTPUT) if name not in outputs]
    if missing:
        raise BundleError(f"model outputs {sorted(outputs)} lack {missing}")
    wanted = {CATEGORY_OUTPUT: (len(CATEGORIES),)} | {name: (1,) for name in SIGMOID_OUTPUTS}
    for name, shape in outputs.items():
        if name in wanted and shape != wanted[name]:
            raise BundleError(f"model output {name!r} has shape {shape}, expected {wanted[name]}")
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding) and layer.input_dim != vocab_size:
            raise BundleError(f"the vocabulary has {vocab_size} tokens but the model's "
                              f"Embedding {layer.name!r} has input_dim={layer.input_dim}")


def _check_thresholds(thresholds: object) -> dict[str, float]:
    """Thresholds as ``{name: float in [0, 1]}``, with at least ``"emergency"``."""
    if not isinstance(thresholds, Mapping) or EMERGENCY_OUTPUT not in thresholds:
        raise BundleError(f"thresholds={thresholds!r} must be a mapping with an "
                          f"{EMERGENCY_OUTPUT!r} entry")
    checked = {}
    for name, value in thresholds.items():
        if (not isinstance(name, str) or isinstance(value, bool)
                or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0):
            raise BundleError(f"threshold {name!r}={value!r} must be a number in [0, 1]")
        checked[name] = float(value)
    return checked


def _manifest(*, model: keras.Model, config: FeatureConfig, metadata: Mapping[str, Any],
              thresholds: dict[str, float]) -> dict[str, Any]:
    """The ``bundle.json`` content: ``metadata`` plus defaults plus the computed keys."""
    reserved = sorted(set(metadata) & set(_COMPUTED_KEYS))
    if reserved:
        raise BundleError(f"metadata may not set {reserved}: save_bundle computes them")
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "model_name": model.name,
        "model_version": now.strftime("%Y%m%d.%H%M%S"),
        "created_at": now.isoformat(timespec="seconds"),
        "weights_origin": "random-init",
        "training": {},
        **metadata,
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "thresholds": thresholds,
        "input_names": [tensor.name for tensor in model.inputs],
        "output_names": list(model.output_names),
        "feature_fingerprint": config.fingerprint(),
    }


def saved_metadata(bundle: ModelBundle) -> dict[str, Any]:
    """``bundle``'s ``bundle.json`` without the keys :func:`save_bundle` computes: the
    metadata to save a changed copy of it with."""
    return {key: value for key, value in bundle.metadata.items() if key not in _COMPUTED_KEYS}


def _to_json(value: object, *, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{what} cannot be written as JSON: {exc}") from exc


def _write_bundle_files(directory: str, *, model: keras.Model, texts: Mapping[str, str]) -> None:
    """Write ``model.keras`` and the text files ``{file name: content}`` into ``directory``."""
    model.save(os.path.join(directory, MODEL_FILE))
    for name, text in texts.items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as handle:
            handle.write(text)


def _replace_local_dir(*, source: str, target: str) -> None:
    """Move directory ``source`` to ``target``, replacing an existing bundle there."""
    if os.path.lexists(target):
        if not os.path.isdir(target) or (
                os.listdir(target) and not os.path.isfile(os.path.join(target, MANIFEST_FILE))):
            raise BundleError(f"refusing to overwrite {target!r}: it exists and is not a bundle")
        old = f"{target}.old-{os.getpid()}"
        os.rename(target, old)
        try:
            os.rename(source, target)
        except OSError:
            os.rename(old, target)
            raise
        shutil.rmtree(old)
    else:
        os.rename(source, target)


def _upload(*, local_dir: str, remote_dir: str) -> None:
    """Copy the bundle files from ``local_dir`` to ``remote_dir``, the manifest last."""
    for name in BUNDLE_FILES:
        with open(os.path.join(local_dir, name), "rb") as source, FileSystems.create(
                FileSystems.join(remote_dir, name),
                compression_type=CompressionTypes.UNCOMPRESSED) as target:
            shutil.copyfileobj(source, target)


def save_bundle(*, path: str, model: keras.Model, vocabulary: "Vocabulary",
                config: FeatureConfig, metadata: Mapping[str, Any],
                thresholds: Mapping[str, float], metrics: Mapping[str, Any],
                model_card: str) -> None:
    """Write a bundle to directory ``path`` (local or ``gs://``).

    ``metadata`` goes into ``bundle.json``; it may set ``model_name`` (default: the Keras
    model's name, which the builders set to the architecture), ``model_version`` (default:
    UTC ``YYYYMMDD.HHMMSS``), ``created_at``, ``weights_origin`` (default
    ``"random-init"``; see :func:`models.builders.weights_origin`), ``training`` (a
    summary: epochs, data, seed…) and further JSON keys. ``thresholds`` maps names to
    probabilities in [0, 1] and must include ``"emergency"``.

    The model is checked as :func:`load_bundle` would, so a bundle that would not load is
    never written. Locally the files go into ``path + ".tmp-<pid>"``, which then replaces
    ``path`` (an existing bundle there is replaced; any other existing content is
    refused). Remote files are uploaded one by one, ``bundle.json`` last.
    Raises :class:`BundleError`.
    """
    path = path.rstrip("/")
    _check_model(model, config=config, vocab_size=len(vocabulary))
    manifest = _manifest(model=model, config=config, metadata=metadata,
                         thresholds=_check_thresholds(thresholds))
    _check_manifest(manifest, path=path)
    texts = {
        VOCABULARY_FILE: vocabulary.to_json(),
        FEATURES_FILE: _to_json(config.to_dict(), what="the feature config"),
        METRICS_FILE: _to_json(dict(metrics), what="metrics"),
        MODEL_CARD_FILE: model_card,
        MANIFEST_FILE: _to_json(manifest, what="metadata"),
    }
    try:
        if not _is_local(path):
            with tempfile.TemporaryDirectory(prefix="bundle-") as local_dir:
                _write_bundle_files(local_dir, model=model, texts=texts)
                _upload(local_dir=local_dir, remote_dir=path)
            return
        staging = f"{path}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        try:
            _write_bundle_files(staging, model=model, texts=texts)
            _replace_local_dir(source=staging, target=path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise BundleError(f"cannot write bundle {path!r}: {exc}") from exc


def _check_files(path: str) -> None:
    """Raise BundleError if the bundle directory or any of its files is missing."""
    if _is_local(path) and not os.path.isdir(path):
        raise BundleError(f"bundle directory {path!r} does not exist")
    try:
        missing = [name for name in BUNDLE_FILES
                   if not FileSystems.exists(FileSystems.join(path, name))]
    except OSError as exc:
        raise BundleError(f"cannot list bundle {path!r}: {exc}") from exc
    if len(missing) == len(BUNDLE_FILES) and not _is_local(path):
        raise BundleError(f"bundle directory {path!r} does not exist or is empty")
    if missing:
        raise BundleError(f"bundle {path!r} is missing {', '.join(missing)}")


def _read_bytes(path: str, name: str) -> bytes:
    try:
        with FileSystems.open(FileSystems.join(path, name),
                              compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            return handle.read()
    except OSError as exc:
        raise BundleError(f"cannot read {name} of bundle {path!r}: {exc}") from exc


def _read_text(path: str, name: str) -> str:
    try:
        return _read_bytes(path, name).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name} of bundle {path!r} is not UTF-8: {exc}") from exc


def _read_json_object(path: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(_read_text(path, name))
    except json.JSONDecodeError as exc:
        raise BundleError(f"{name} of bundle {path!r} is malformed JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise BundleError(
            f"{name} of bundle {path!r} must hold a JSON object, not {type(value).__name__}")
    return value


def _check_manifest(manifest: dict[str, Any], *, path: str) -> dict[str, float]:
    """Check ``bundle.json``'s format and keys; return its thresholds."""
    where = f"{MANIFEST_FILE} of bundle {path!r}"
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{where} has format={manifest.get('format')!r}, "
                          f"expected {BUNDLE_FORMAT!r}")
    if manifest.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise BundleError(f"{where} has format_version={manifest.get('format_version')!r}, "
                          f"this code reads version {BUNDLE_FORMAT_VERSION}")
    for key in _REQUIRED_STR_KEYS:
        if not isinstance(manifest.get(key), str):
            raise BundleError(f"{where}: {key}={manifest.get(key)!r} must be a string")
    names = manifest.get("input_names")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise BundleError(f"{where}: input_names={names!r} must be a list of strings")
    try:
        check_precision_checks(manifest.get(PRECISION_CHECKS_KEY, {}))
        return _check_thresholds(manifest.get("thresholds"))
    except BundleError as exc:
        raise BundleError(f"{where}: {exc}") from exc


def _read_config(path: str, *, expected: FeatureConfig | None) -> FeatureConfig:
    """The bundle's FeatureConfig; BundleError if incomplete, invalid or not ``expected``."""
    values = _read_json_object(path, FEATURES_FILE)
    fields = [field.name for field in dataclasses.fields(FeatureConfig)]
    missing = [name for name in fields if name not in values]
    if missing:
        raise BundleError(f"{FEATURES_FILE} of bundle {path!r} lacks keys {missing}")
    try:
        config = FeatureConfig.from_dict(values)
    except (ConfigError, TypeError) as exc:
        raise BundleError(f"{FEATURES_FILE} of bundle {path!r} is invalid: {exc}") from exc
    if expected is not None and config != expected:
        diffs = "; ".join(f"{name}: bundle={getattr(config, name)!r}, "
                          f"code={getattr(expected, name)!r}"
                          for name in fields if getattr(config, name) != getattr(expected, name))
        raise BundleError(f"feature config of bundle {path!r} differs from the code's: {diffs}")
    return config


def _load_model(path: str) -> keras.Model:
    """``keras.saving.load_model`` in safe mode; a remote file is copied to a temp dir."""
    with tempfile.TemporaryDirectory(prefix="bundle-model-") as local_dir:
        if _is_local(path):
            local_file = os.path.join(path, MODEL_FILE)
        else:
            local_file = os.path.join(local_dir, MODEL_FILE)
            with open(local_file, "wb") as handle:
                handle.write(_read_bytes(path, MODEL_FILE))
        if not zipfile.is_zipfile(local_file):
            raise BundleError(f"{MODEL_FILE} of bundle {path!r} is not a .keras zip archive "
                              f"(truncated or corrupt)")
        try:
            model = keras.saving.load_model(local_file, safe_mode=True, compile=False,
                                             custom_objects=CUSTOM_LAYERS)
        # Keras raises many types for a bad file (zipfile.BadZipFile, ValueError, KeyError,
        # OSError, TypeError…); each is reported with its cause, none is swallowed.
        except Exception as exc:  # noqa: BLE001
            raise BundleError(f"{MODEL_FILE} of bundle {path!r} cannot be loaded: "
                              f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(model, keras.Model):
        raise BundleError(f"{MODEL_FILE} of bundle {path!r} holds a {type(model).__name__}, "
                          f"not a keras.Model")
    return model


def _read_checked_manifest(path: str, *, expected_config: FeatureConfig | None
                           ) -> tuple[dict[str, Any], dict[str, float], FeatureConfig]:
    _check_files(path)
    manifest = _read_json_object(path, MANIFEST_FILE)
    thresholds = _check_manifest(manifest, path=path)
    return manifest, thresholds, _read_config(path, expected=expected_config)


def read_bundle_metadata(path: str, *, expected_config: FeatureConfig | None = None
                         ) -> dict[str, Any]:
    """``bundle.json`` of the bundle at ``path``, checked, with ``thresholds`` and the
    ``feature_config`` dict — without loading the model (for launchers and summaries).

    Raises :class:`BundleError` as :func:`load_bundle` does for the files it reads.
    """
    path = path.rstrip("/")
    manifest, thresholds, config = _read_checked_manifest(path, expected_config=expected_config)
    return {**manifest, "thresholds": thresholds, "feature_config": config.to_dict()}


def load_bundle(path: str, *, expected_config: FeatureConfig | None = None
                ) -> ModelBundle:
    """Load and check the bundle in directory ``path`` (local or ``gs://``).

    ``expected_config`` is the feature config the calling code extracts features with
    (``None``: accept the bundle's own). Raises :class:`BundleError` naming what is
    wrong: a missing directory or file, malformed JSON, a wrong format or version, a
    feature config that differs from ``expected_config`` (each differing key with both
    values), a model file that fails to load, a model whose inputs or outputs do not fit
    the feature config, or a vocabulary whose size differs from the model's Embedding.
    """
    from transforms.vocabulary import Vocabulary

    path = path.rstrip("/")
    manifest, thresholds, config = _read_checked_manifest(path, expected_config=expected_config)
    try:
        vocabulary = Vocabulary.from_json(_read_text(path, VOCABULARY_FILE),
                                          source=f"{VOCABULARY_FILE} of bundle {path!r}")
    except ConfigError as exc:
        raise BundleError(str(exc)) from exc
    metrics = _read_json_object(path, METRICS_FILE)
    model = _load_model(path)
    _check_model(model, config=config, vocab_size=len(vocabulary))
    model_inputs = sorted(tensor.name for tensor in model.inputs)
    if model_inputs != sorted(manifest["input_names"]):
        raise BundleError(f"{MANIFEST_FILE} of bundle {path!r} lists inputs "
                          f"{manifest['input_names']} but the model takes {model_inputs}")
    return ModelBundle(model=model, vocabulary=vocabulary, config=config, metadata=manifest,
                       thresholds=thresholds, metrics=metrics, path=path)


def record_precision_check(path: str, check: Mapping[str, Any]) -> None:
    """Store ``check`` (:func:`models.evaluate.precision_check`) as
    ``precision_checks[check["precision"]]`` (:func:`precision_check_record`, for the
    model version and thresholds in the manifest) in the ``bundle.json`` of the bundle at
    ``path`` (local or ``gs://``), replacing an earlier check of that precision. The model,
    ``MODEL_CARD.md`` (which describes the check ``train`` made) and the other files are
    left as they are. Raises :class:`BundleError`.
    """
    path = path.rstrip("/")
    manifest, thresholds, _ = _read_checked_manifest(path, expected_config=None)
    record = precision_check_record(check, model_version=manifest["model_version"],
                                    thresholds=thresholds)
    manifest[PRECISION_CHECKS_KEY] = {**manifest.get(PRECISION_CHECKS_KEY, {}),
                                      check["precision"]: record}
    _check_manifest(manifest, path=path)
    text = _to_json(manifest, what="metadata")
    target = FileSystems.join(path, MANIFEST_FILE)
    try:
        if _is_local(path):
            staging = f"{target}.tmp-{os.getpid()}"
            try:
                with open(staging, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(staging, target)
            finally:
                if os.path.exists(staging):
                    os.remove(staging)
        else:
            with FileSystems.create(target, mime_type="application/json",
                                    compression_type=CompressionTypes.UNCOMPRESSED) as handle:
                handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise BundleError(f"cannot write {MANIFEST_FILE} of bundle {path!r}: {exc}") from exc
