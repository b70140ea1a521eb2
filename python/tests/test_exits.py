"""Classifier and tagger predictions equal `offramp predict`'s for every policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List

import numpy as np
import pytest

import offramp
from conftest import json_lines, run

CLASSIFIER_POLICIES = [
    ("full", {}),
    ("budget", {"layer": 2}),
    ("entropy", {"threshold": 0.3}),
    ("entropy", {"threshold": 0.9}),
    ("confidence", {"threshold": 0.8}),
    ("patience", {"patience": 1}),
    ("patience-confidence", {"patience": 2, "threshold": 0.2}),
]
TAGGER_POLICIES = [
    ("full", {}),
    ("budget", {"layer": 3}),
    ("sentee", {"threshold": 0.3}),
    ("sentee-confidence", {"threshold": 0.8}),
    ("tokee", {"threshold": 0.3, "window": 1}),
    ("tokee", {"threshold": 0.2}),
    ("tokee-confidence", {"threshold": 0.9, "window": 0}),
]


def options(policy: str, settings: dict) -> List[str]:
    return ["--policy", policy] + [a for k, v in settings.items() for a in (f"--{k}", str(v))]


def texts(tiny: dict) -> List[str]:
    return [line.split("\t")[1] for line in (tiny["dir"] / "test.tsv").read_text().splitlines()]


def predict_cli(cli: Path, model: Path, lines: List[str], tmp_path: Path, *extra: str) -> List[dict]:
    f = tmp_path / "inputs.txt"
    f.write_text("\n".join(lines) + "\n")
    return json_lines(run(cli, "predict", "--model", str(model), "--file", str(f), "--batch-size", "7", *extra))


def assert_same(p: offramp.Predictions, rows: List[dict], labels: List[str]) -> None:
    assert p.labels == [r["label"] for r in rows]
    assert p.exit_layers.tolist() == [r["exit_layer"] for r in rows]
    expected = np.array([[r["probabilities"][name] for name in labels] for r in rows], dtype=np.float32)
    assert np.max(np.abs(p.probabilities - expected)) <= 1e-6


@pytest.mark.parametrize("policy,settings", CLASSIFIER_POLICIES)
def test_classifier_equals_the_command_line(tiny, cli, tmp_path, policy, settings):
    clf = offramp.Classifier.load(tiny["classifier"])
    lines = texts(tiny)
    rows = predict_cli(cli, tiny["classifier"], lines, tmp_path, *options(policy, settings))
    p = clf.predict(lines, policy=policy, batch_size=7, **settings)
    assert len(p) == len(lines) and p.probabilities.shape == (len(lines), 2)
    assert_same(p, rows, clf.labels)


def test_exit_layers_differ_between_policies(tiny):
    """The comparison above means something only if the policies exit at different layers."""
    clf = offramp.Classifier.load(tiny["classifier"])
    lines = texts(tiny)
    seen = {tuple(clf.predict(lines, policy=p, **s).exit_layers.tolist()) for p, s in CLASSIFIER_POLICIES}
    assert len(seen) >= 3


def test_sentence_pairs_equal_the_command_line(tiny, cli, tmp_path):
    clf = offramp.Classifier.load(tiny["classifier"])
    lines = texts(tiny)
    pairs = list(zip(lines, lines[1:] + lines[:1]))
    rows = predict_cli(cli, tiny["classifier"], [f"{a}\t{b}" for a, b in pairs], tmp_path, "--pairs", "--policy", "entropy",
                       "--threshold", "0.5")
    assert_same(clf.predict(pairs, policy="entropy", threshold=0.5, batch_size=7), rows, clf.labels)


def test_default_policy_is_the_saved_one(tiny, cli, tmp_path):
    model = tmp_path / "calibrated"
    shutil.copytree(tiny["classifier"], model)
    config = json.loads((model / "config.json").read_text())
    config["offramp"]["policy"] = "entropy:0.5"
    (model / "config.json").write_text(json.dumps(config))
    clf = offramp.Classifier.load(model)
    assert clf.default_policy == "entropy:0.5"
    lines = texts(tiny)
    assert_same(clf(lines, batch_size=7), predict_cli(cli, model, lines, tmp_path), clf.labels)
    assert clf.predict(lines).exit_layers.tolist() == clf.predict(lines, policy="entropy", threshold=0.5).exit_layers.tolist()
    assert offramp.Classifier.load(tiny["classifier"]).default_policy == "full"


@pytest.mark.parametrize("policy,settings", TAGGER_POLICIES)
def test_tagger_equals_the_command_line(tiny, cli, tmp_path, policy, settings):
    tagger = offramp.Tagger.load(tiny["tagger"])
    sentences = [[line.split("\t")[0] for line in block.splitlines()]
                 for block in (tiny["dir"] / "test.conll").read_text().split("\n\n") if block.strip()]
    rows = predict_cli(cli, tiny["tagger"], [" ".join(s) for s in sentences], tmp_path, *options(policy, settings))
    tagged = tagger.tag(sentences, policy=policy, batch_size=7, **settings)
    assert len(tagged) == len(rows)
    for words, row in zip(tagged, rows):
        assert [(w.word, w.label, w.exit_layer) for w in words] == [(r["word"], r["label"], r["exit_layer"]) for r in row["words"]]
        assert max(abs(w.probability - r["probability"]) for w, r in zip(words, row["words"])) <= 1e-6


def test_words_past_the_maximum_length_are_unlabeled(tiny):
    tagger = offramp.Tagger.load(tiny["tagger"])
    words = tagger.tag([["w5"] * 30])[0]  # 16 positions: [CLS], 14 words, [SEP]
    assert words[0].label in tagger.labels and words[0].exit_layer >= 1
    assert words[-1].label is None and words[-1].exit_layer == 0
