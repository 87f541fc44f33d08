"""The bundle's MODEL_CARD.md: what the model is, what it was trained on, its figures on
the held-out splits, its intended use and its limits, written from ``bundle.json``'s
metadata and the bundle's metrics."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from models.evaluate import EMERGENCY_MIN_RECALL, format_precision_check
from models.precision import PRECISION_CHECKS_KEY, resolve_precision

#: The bundle.json key recording how the words models were refitted and the verdict calibrated.
GATE_FIT_KEY = "gate_fit"


def _figure(value: Optional[float], digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _precision_line(metadata: Mapping[str, Any]) -> str:
    """The model card's line on the bfloat16 check ``train`` made
    (:func:`models.evaluate.precision_check`)."""
    check = metadata.get(PRECISION_CHECKS_KEY, {}).get("bfloat16")
    if check is None:
        return ""
    precision, _ = resolve_precision("auto", metadata=metadata, native=True)
    verdict = ("so `--inference_precision auto` scores in bfloat16 on CPUs that compute it "
               "natively" if precision == "bfloat16" else
               "so `--inference_precision auto` keeps float32")
    return (f"- bfloat16 on the {check['split']} split ({check['calls']} calls): "
            f"{format_precision_check(check)};\n  {verdict}.\n")


def _calibration_rows(calibration: Mapping[str, Any]) -> str:
    """The reliability table's rows: one per score bin with calls."""
    return "\n".join(f"| {score:.3f} | {share:.3f} | {calls} |" for score, share, calls in zip(
        calibration["mean_score"], calibration["fraction_positive"], calibration["calls"]))


def _reviewed_line(training: Mapping[str, Any]) -> str:
    """The model card's line on the analysts' reviewed calls added to the train split
    (``call-triage train --reviewed``), or nothing."""
    sources = training.get("reviewed") or []
    if not sources:
        return ""
    nights = "; ".join(f"{source['calls']} of the night {source['run_date']} under "
                       f"`{source['out']}`" for source in sources)
    return (f"\nThe train split also holds {sum(source['calls'] for source in sources)} "
            f"calls labelled by analysts (`call-triage review`): {nights}. The validation "
            f"and test splits are the archive's own.\n")


#: Each label source (``transforms.records.LABEL_SOURCES``): what the data is, and the note
#: on its licence the model card gives.
DATA_SOURCE_NOTES = {
    "manifest": ("labels in the archive's manifest",
                 "the archive owner's terms; a corpus of `call-triage synth` is generated "
                 "by call-triage (synthetic voices, sounds and scripts) and carries its "
                 "licence"),
    "aihub_119": ("labels in the AI Hub 119-call JSON layout (`disasterLarge`, "
                  "`disasterMedium`) mapped onto the taxonomy",
                  "AI Hub's data (위급상황 음성/음향, the 119-call sets) comes under AI Hub's "
                  "terms of use (aihub.or.kr): it may not be redistributed; read the terms "
                  "before sharing a model trained on it. A centre's own calls in this layout "
                  "come under its data-protection rules"),
    "emotion_dialogue": ("the AI Hub emotion-dialogue table (감정 분류를 위한 대화 음성 "
                         "데이터셋, KAIST) as everyday calls, label normal",
                         "AI Hub's terms of use (aihub.or.kr): the data may not be "
                         "redistributed; read the terms before sharing a model trained on it"),
    "reviewed": ("analysts' verdicts on the centre's own calls (`call-triage review`)",
                 "the centre's own recordings, under its data-protection rules"),
    "label_file": ("a label file (`--labels`)", "its owner's terms"),
    "unknown": ("labels whose origin was not recorded", "unknown: find out before sharing"),
}


def _data_sources(training: Mapping[str, Any]) -> str:
    """The model card's table of label sources with their licence notes, and the AI Hub
    label mapping used (every value it maps), or nothing for an older bundle."""
    sources = training.get("data_sources")
    if not sources:
        return ""
    rows = "\n".join(f"| {DATA_SOURCE_NOTES[name][0]} | {calls} | {DATA_SOURCE_NOTES[name][1]} |"
                     for name, calls in sources["labels"].items())
    text = f"""
Where the labels of these calls come from:

| source | calls | licence |
|---|---|---|
{rows}
"""
    aihub = sources.get("aihub_labels")
    if aihub:
        problems = ", ".join(f"{count} {problem}" for problem, count in aihub["problems"].items())
        mapped = "; ".join(f"`{field}`: " + ", ".join(f"{value} → {name}" for value, name in names.items())
                           for field, names in aihub["names"].items())
        text += (f"\nAI Hub 119-call labels were mapped with `{aihub['mapping']}`"
                 + (f"; calls left unlabelled by it: {problems}" if problems else "")
                 + f". The mapping: {mapped}.\n")
    return text


def model_card(*, metadata: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """The bundle's MODEL_CARD.md: data, date, figures, intended use and limits."""
    training, test, validation = metadata["training"], metrics["test"], metrics["validation"]
    sizes = training["splits"]
    rows = "\n".join(
        f"| {split} | {size['calls']} | {size['windows']} | {size['emergency']} | "
        f"{size['normal']} | {size['prank']} |" for split, size in sizes.items())
    categories = "\n".join(
        f"| {slug} | {entry['correct']}/{entry['n']} | {entry['accuracy']:.3f} |"
        for slug, entry in test["category"]["per_category"].items())
    prank = test.get("prank")
    prank_line = ("" if prank is None else
                  f"- prank head (threshold {prank['threshold']:.3f}): precision "
                  f"{_figure(prank['precision'])}, recall {_figure(prank['recall'])}, "
                  f"ROC AUC {_figure(prank['roc_auc'])}\n")
    counts = test["confusion_matrix"]
    pooling = ("" if training["audio_pooling"] is None
               else f"; audio pooling `{training['audio_pooling']}`")
    gate = metadata.get(GATE_FIT_KEY)
    made_by = ("`call-triage refit-gate` from a bundle of `call-triage train`"
               if gate is not None and "refitted_from" in gate else "`call-triage train`")
    gate_line = ("" if gate is None else
                 f"- the words models (gate, prank, category: n-grams and lexicon groups) "
                 f"were refitted after the fit and the verdict calibrated: {gate['method']}, "
                 f"L2 {gate['l2']:g}, {gate['words_models']['text_ngrams']['calls']} "
                 f"transcripts of `{gate['archive']}`"
                 + (f", from version {gate['refitted_from']}" if "refitted_from" in gate
                    else "")
                 + f"; verdict coefficients {gate['verdict_coefficients']};\n")
    return f"""# Model card: {metadata['model_name']} {metadata['model_version']}

Created {metadata['created_at']} by {made_by} (seed {training['seed']}).

## Model
- architecture `{metadata['model_name']}` ({training['parameter_count']:,} parameters{pooling}),
  weights from `{metadata['weights_origin']}`;
- input: 7-s log-mel windows ({training['feature_config']}) plus, for the multimodal
  model, the caller's transcript as Okt tokens (vocabulary of {training['vocabulary_size']});
- outputs per window: emergency probability, category (16-way), and for the multimodal
  model audio-only, text-only (a claim), prank and text-gate probabilities; the multimodal
  emergency probability is a logistic combination of the gate (the words report a real
  emergency), the audio-only and the text-only scores, calibrated on the validation split
  (of the audio alone without a transcript or with one longer than the token input); the
  category and prank come from the words models when there is a transcript;
- per call: the emergency score (and the audio-only one) is the highest over its windows,
  the category is that of the window with the highest emergency score, the prank score is
  the mean over its windows and the text-only score is the transcript's, the same in
  every window.
{gate_line}- emergency threshold {metadata['thresholds']['emergency']:.4f}: chosen on the validation
  split (call level) to keep recall >= {training.get('recall_target', EMERGENCY_MIN_RECALL)}
  with the fewest false alarms.
{_precision_line(metadata)}
## Data
Archive `{training['archive']}` ({training['hours']:.2f} h of audio), split by the
manifest's `split` column (calls without one by a hash of their id):

| split | calls | windows | emergency | normal | prank |
|---|---|---|---|---|---|
{rows}
{_data_sources(training)}{_reviewed_line(training)}
Fitted for {training['epochs_run']} epochs (kept: {training['best_epoch']}, early stopping on
{training['early_stopping']}) in {training['train_seconds']:.0f} s on
{training['train_windows']} training windows; transcript dropout {training['text_dropout']},
token dropout {training['token_dropout']}, transcript swap {training['text_swap']},
log-mel time shift {'on' if training['time_shift'] else 'off'},
Adam {training['learning_rate']}, batch {training['batch_size']}.

## Figures on the held-out test split (call level)
- accuracy {_figure(test['accuracy'])}, precision {_figure(test['precision'])},
  recall {_figure(test['recall'])}, F1 {_figure(test['f1'])}, ROC AUC {_figure(test['roc_auc'])}
- confusion: {counts['tp']} emergencies flagged, {counts['fn']} missed,
  {counts['fp']} false alarms, {counts['tn']} correctly not flagged
- category accuracy {_figure(test['category']['accuracy'])}
{prank_line}
| category | correct | accuracy |
|---|---|---|
{categories}

## Figures on the validation split (call level; thresholds and calibration fitted here)
- accuracy {_figure(validation['accuracy'])}, recall {_figure(validation['recall'])},
  precision {_figure(validation['precision'])}, ROC AUC {_figure(validation['roc_auc'])},
  category accuracy {_figure(validation['category']['accuracy'])}

## Calibration of the emergency score (call level)
Expected calibration error: validation {_figure(validation['calibration']['ece'])},
test {_figure(test['calibration']['ece'])}. Validation calls per score bin:

| mean score | share of emergencies | calls |
|---|---|---|
{_calibration_rows(validation['calibration'])}

## Intended use
Ranking and flagging archived emergency calls for review by analysts of an emergency
call centre (nightly `call-triage run`), never to decide how a live call is handled.

## Limits
- Trained on the archive above. When it is the synthetic corpus of `call-triage synth`
  (synthetic speech and sounds, template transcripts), the figures say that the pipeline
  learns what it is shown, not how it does on real calls: retrain and re-evaluate on real,
  labelled calls (e.g. AI Hub 119 data) before relying on it.
- Pranks are learned only as far as the archive has them; the prank head is one of
  several prank reasons in the triage job.
- Korean transcripts only (Okt tokens); audio at 16 kHz after resampling, 7-s windows.
"""
