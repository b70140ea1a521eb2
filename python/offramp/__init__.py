"""Offramp from Python: adaptive (early-exit) inference of BERT-family
encoders on the CPU, in-process, through the library's C ABI.

    import offramp
    encoder = offramp.Encoder.load("~/.cache/offramp/models/minilm-l6")
    vectors = encoder.embed(["A gorgeous, witty film."], normalize=True)   # (1, 384) float32
    clf = offramp.Classifier.load("runs/mr-classifier")
    p = clf.predict(["A gorgeous, witty film."])   # the model's calibrated policy
    p.labels, p.probabilities, p.exit_layers

The native library is the one bundled in the wheel, or $OFFRAMP_LIBRARY.
It needs the system's OpenBLAS (Debian/Ubuntu: apt install libopenblas0).
"""

from ._version import __version__
from .classifier import Classifier, Predictions
from .encoder import Encoder
from .errors import InputTypeError, ModelNotFoundError, OfframpError
from .tagger import TaggedWord, Tagger

__all__ = [
    "Classifier",
    "Encoder",
    "InputTypeError",
    "ModelNotFoundError",
    "OfframpError",
    "Predictions",
    "TaggedWord",
    "Tagger",
    "__version__",
]
