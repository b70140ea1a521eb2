"""Bad input is a Python exception with the library's message, never a crash."""

from __future__ import annotations

import pytest

import offramp


@pytest.fixture(scope="module")
def encoder(minilm):
    return offramp.Encoder.load(minilm)


@pytest.fixture(scope="module")
def clf(tiny):
    return offramp.Classifier.load(tiny["classifier"])


def test_exception_classes():
    assert issubclass(offramp.OfframpError, ValueError)
    assert issubclass(offramp.ModelNotFoundError, offramp.OfframpError)
    assert issubclass(offramp.ModelNotFoundError, FileNotFoundError)
    assert issubclass(offramp.InputTypeError, TypeError) and issubclass(offramp.InputTypeError, offramp.OfframpError)


@pytest.mark.parametrize("load", [offramp.Encoder.load, offramp.Classifier.load, offramp.Tagger.load])
def test_missing_model_directory(load, tmp_path):
    with pytest.raises(offramp.ModelNotFoundError, match=r"nowhere/config.json"):
        load(tmp_path / "nowhere")


def test_a_directory_that_is_no_model(tmp_path):
    with pytest.raises(offramp.OfframpError, match="config.json") as e:
        offramp.Encoder.load(tmp_path)
    assert not isinstance(e.value, OSError)


def test_wrong_precision(minilm):
    with pytest.raises(offramp.OfframpError, match=r'precision "fp64" is not a precision \(known: fp32, bf16, int8\)'):
        offramp.Encoder.load(minilm, precision="fp64")
    with pytest.raises(offramp.InputTypeError, match="precision must be a str"):
        offramp.Encoder.load(minilm, precision=32)


def test_a_classifier_is_not_a_tagger(tiny):
    with pytest.raises(offramp.OfframpError, match="use AdaptiveClassifier"):
        offramp.Tagger.load(tiny["classifier"])
    with pytest.raises(offramp.OfframpError, match="not a multi-exit model"):
        offramp.Classifier.load(tiny["dir"] / "pretrained")


@pytest.mark.parametrize("call", ["embed", "predict"])
def test_bad_texts(call, encoder, clf):
    f = encoder.embed if call == "embed" else clf.predict
    with pytest.raises(offramp.InputTypeError, match="texts must be a list, got None"):
        f(None)
    with pytest.raises(offramp.InputTypeError, match="put one text in a list"):
        f("one text")
    with pytest.raises(offramp.InputTypeError, match=r"text 2 is not a str \(got int\)"):
        f(["w5 w10", 3])
    with pytest.raises(offramp.InputTypeError, match=r"text 3 is not a str \(got NoneType\)"):
        f(["w5 w10", "w20", None])
    with pytest.raises(offramp.OfframpError, match="no texts to (embed|classify)"):
        f([])
    # Blank texts: the library's message, with the position in the whole list across batches.
    with pytest.raises(offramp.OfframpError, match="text 5 is empty"):
        f(["w5 w10"] * 4 + ["  "], batch_size=2)
    with pytest.raises(offramp.OfframpError, match="text 1 is not valid Unicode"):
        f(["\ud800 lone surrogate"])
    with pytest.raises(offramp.OfframpError, match="batch_size 0 must be at least 1"):
        f(["w5"], batch_size=0)


def test_empty_pairs(clf):
    with pytest.raises(offramp.OfframpError, match="no texts to classify"):
        clf.predict(())
    with pytest.raises(offramp.InputTypeError, match="text 2 is not a .text, text_pair. pair"):
        clf.predict([("w5", "w10"), "w20"])
    with pytest.raises(offramp.OfframpError, match="text 1 is empty"):
        clf.predict([("w5", " ")])


def test_bad_pooling(encoder):
    with pytest.raises(offramp.OfframpError, match='pooling "max" is not one of mean, cls'):
        encoder.embed(["a"], pooling="max")
    with pytest.raises(offramp.OfframpError, match='pooling "none"'):
        encoder.embed(["a"], pooling="none")


def test_bad_policies(clf):
    with pytest.raises(offramp.OfframpError, match=r'unknown policy "entropi" \(known for a classify model: full, budget, entropy'):
        clf.predict(["w5"], policy="entropi", threshold=0.3)
    with pytest.raises(offramp.OfframpError, match="policy tokee does not apply to this classify model"):
        clf.predict(["w5"], policy="tokee", threshold=0.3)
    with pytest.raises(offramp.OfframpError, match="policy entropy needs threshold T"):
        clf.predict(["w5"], policy="entropy")
    with pytest.raises(offramp.OfframpError, match=r"threshold 1.5 is out of range: it must be in \[0, 1\]"):
        clf.predict(["w5"], policy="entropy", threshold=1.5)
    with pytest.raises(offramp.OfframpError, match=r"layer 9 is out of range: the model has layers 1...4"):
        clf.predict(["w5"], policy="budget", layer=9)
    with pytest.raises(offramp.OfframpError, match="patience does not apply to policy entropy"):
        clf.predict(["w5"], policy="entropy", threshold=0.3, patience=2)
    with pytest.raises(offramp.OfframpError, match="threshold given without a policy"):
        clf.predict(["w5"], threshold=0.3)
    with pytest.raises(offramp.InputTypeError, match="patience must be an int, got float"):
        clf.predict(["w5"], policy="patience", patience=1.5)
    with pytest.raises(offramp.InputTypeError, match="policy must be a str or None"):
        clf.predict(["w5"], policy=3)


def test_bad_sentences(tiny):
    tagger = offramp.Tagger.load(tiny["tagger"])
    with pytest.raises(offramp.OfframpError, match="no sentences to label"):
        tagger.tag([])
    with pytest.raises(offramp.OfframpError, match="sentence 2 has no words"):
        tagger.tag([["w5"], []])
    with pytest.raises(offramp.InputTypeError, match="sentence 1 must be a list, got a str"):
        tagger.tag(["w5 w6"])
    with pytest.raises(offramp.InputTypeError, match=r"word 2 is not a str \(got int\)"):
        tagger.tag([["w5", 6]])
    with pytest.raises(offramp.OfframpError, match="policy entropy does not apply to this label model"):
        tagger.tag([["w5"]], policy="entropy", threshold=0.3)
