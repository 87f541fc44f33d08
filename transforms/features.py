"""From a listed call to model inputs: the one path shared by training and scoring."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

from transforms import spec
from transforms.archive import open_audio, read_transcript
from transforms.audio import audio_features, mfcc_from_log_mel
from transforms.errors import ConfigError, FeatureError
from transforms.lexicon import lexicon_features
from transforms.records import CallRecord
from transforms.speech import SpeechProbes
from transforms.spec import FeatureConfig
from transforms.text import OktTokenizer
from transforms.vocabulary import Vocabulary


@dataclasses.dataclass(frozen=True)
class CallFeatures:
    """One call's features, ready for a model.

    ``log_mel`` is float32 (n_windows, n_mels, n_frames) in dB, one 7-s window per row,
    starting at ``window_starts_s`` (float32 (n_windows,), seconds into the call).
    ``tokens`` are the Okt tokens of the caller's transcript (empty when there is none).
    ``duration_s``, ``sample_rate_hz`` and ``n_channels`` describe the original audio.
    ``speech``: the speech detector's probes, until serving measures them into
    ``speech_s`` (seconds of speech, :func:`transforms.speech.measure_speech`); training
    reads neither (both ``None`` in its feature cache). ``audio_warnings``: what is wrong
    with the file but still scored (``"truncated"``).
    """

    record: CallRecord
    log_mel: np.ndarray
    window_starts_s: np.ndarray
    tokens: tuple[str, ...]
    duration_s: float
    sample_rate_hz: int
    n_channels: int
    speech: Optional[SpeechProbes] = None
    speech_s: Optional[float] = None
    audio_warnings: tuple[str, ...] = ()

    @property
    def n_windows(self) -> int:
        return int(self.log_mel.shape[0])


def extract_call_features(
    record: CallRecord, *, config: FeatureConfig, tokenizer: OktTokenizer,
    keep_transcript: bool = False,
) -> CallFeatures:
    """Read, decode and featurise one call. The result's record is ``record`` completed
    from its sidecar (:func:`transforms.archive.read_transcript`); with ``keep_transcript``
    it holds the transcript text inline too (read once, for reports that include it).

    Raises the :class:`~transforms.errors.CallInputError` subclass of the stage that failed:
    ``SourceError``/``TranscriptError`` (read), ``AudioError`` (decode),
    ``FeatureError`` (features), ``TokenizerError`` (tokenise). Okt tokenises on its own
    thread while the audio is decoded (:meth:`OktTokenizer.tokenize_async`); a call that
    fails on both reports the audio's error, as the audio is checked first.
    """
    transcript, record = read_transcript(record)
    pending_tokens = tokenizer.tokenize_async(transcript) if transcript.strip() else None
    with open_audio(record.audio_uri) as audio_file:
        audio = audio_features(audio_file, config=config, name=record.audio_uri)
    if not np.isfinite(audio.log_mel).all():
        raise FeatureError(f"non-finite log-mel values for {record.audio_uri}")
    return CallFeatures(
        record=dataclasses.replace(record, transcript=transcript) if keep_transcript else record,
        log_mel=audio.log_mel,
        window_starts_s=audio.window_starts_s,
        tokens=tuple(pending_tokens.result()) if pending_tokens is not None else (),
        duration_s=audio.duration_s,
        sample_rate_hz=audio.sample_rate_hz,
        n_channels=audio.n_channels,
        speech=audio.speech,
        audio_warnings=audio.warnings,
    )


def window_inputs(
    calls: Sequence[CallFeatures],
    *,
    vocab: Vocabulary,
    config: FeatureConfig,
    input_names: Sequence[str],
) -> dict[str, np.ndarray]:
    """Stack the windows of ``calls`` into the named model inputs.

    Returns, for the names asked for, with N = total windows of all calls in order:
    ``logmel`` float32 (N, n_mels, n_frames, 1), ``mfcc`` float32 (N, n_frames, n_mfcc),
    ``tokens`` int32 (N, text_length) and ``lexicon`` float32 (N, lexicon.N_GROUPS) of
    all the call's tokens (each window carries its call's transcript).
    The arrays may share memory with the calls' own: treat them as read-only.
    """
    unknown = sorted(set(input_names) - set(spec.MODEL_INPUTS))
    if unknown:
        raise ConfigError(f"unknown model inputs {unknown}")
    if not calls:
        raise ConfigError("calls must not be empty")
    # One call (an hour-long one is a model batch of its own) needs no copy of its log-mel.
    log_mel = (calls[0].log_mel if len(calls) == 1
               else np.concatenate([call.log_mel for call in calls], axis=0))
    inputs: dict[str, np.ndarray] = {}
    if spec.LOGMEL_INPUT in input_names:
        inputs[spec.LOGMEL_INPUT] = log_mel[..., np.newaxis]
    if spec.MFCC_INPUT in input_names:
        inputs[spec.MFCC_INPUT] = mfcc_from_log_mel(log_mel, config=config)
    if spec.TOKENS_INPUT in input_names:
        inputs[spec.TOKENS_INPUT] = np.concatenate([
            np.tile(vocab.encode(call.tokens, length=config.text_length), (call.n_windows, 1))
            for call in calls
        ], axis=0)
    if spec.LEXICON_INPUT in input_names:
        inputs[spec.LEXICON_INPUT] = np.concatenate([
            np.tile(lexicon_features(call.tokens), (call.n_windows, 1)) for call in calls
        ], axis=0)
    return inputs
