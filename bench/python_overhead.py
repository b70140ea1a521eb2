"""What the Python API adds over the library it wraps (issue 19's benchmark).

In one process, interleaved round by round, on the same inputs:
- api: `Classifier.predict(texts, batch_size=32)`, the whole Python path
  (checking and encoding the texts, numpy results, label names);
- library: the same C ABI call per batch of 32 with everything prepared
  beforehand (the texts already UTF-8, the result buffers allocated), i.e.
  the Swift library's own time plus one ctypes call.
At batch 32 over the MR test split it reports the overhead in percent; at
batch 1 (one text of about 16 tokens) in microseconds per call.

    OFFRAMP_LIBRARY=.build/x86_64-unknown-linux-gnu/release/libOfframpC.so python bench/python_overhead.py MODEL_DIR MR_TEST_TSV
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
import offramp  # noqa: E402
from offramp import _inputs, _native  # noqa: E402


def raw_predictor(clf: offramp.Classifier, texts: list[str], batch: int):
    """The C ABI call alone, per batch, with its arguments built once."""
    lib = _native.library()
    strings = _inputs.texts(texts)
    n, classes = len(texts), len(clf.labels)
    ids = np.zeros(n, dtype=np.int32)
    probs = np.zeros((n, classes), dtype=np.float32)
    layers = np.zeros(n, dtype=np.int32)
    message = _native.message_buffer()
    policy = _inputs.name(None, "policy")
    t, p, k = _inputs.threshold(None), _inputs.setting(None, "patience"), _inputs.setting(None, "layer")
    calls = []
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        a, lengths = strings.slice(start, stop)
        rows = probs[start:stop]
        calls.append((a, lengths, stop - start, start, _native.int32s(ids[start:]), _native.floats(rows), rows.size,
                      _native.int32s(layers[start:])))

    def run() -> None:
        assert strings.count == n  # the closure keeps the strings (and so the pointers) alive
        for a, lengths, count, start, i, f, size, l in calls:
            status = clf._call(lambda h: lib.offramp_classifier_predict(h, a, lengths, None, None, count, start, policy, t, p,
                                                                        k, batch, i, f, size, l, message, _native.MESSAGE_BYTES))
            _native.check(status, message)
    return run, ids, layers


def timed(body, seconds: float) -> float:
    """Median seconds of one call of body over at least `seconds` (and 5 calls)."""
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter(); body(); times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    model, data = sys.argv[1], sys.argv[2]
    texts = [line.split("\t", 1)[1].rstrip("\n") for line in open(data, encoding="utf-8") if "\t" in line]
    clf = offramp.Classifier.load(model)
    short = min(texts, key=lambda s: abs(len(s.split()) - 12))  # about 16 word pieces with [CLS] and [SEP]
    rows = []
    for name, inputs, batch, seconds in [("MR test, batch 32", texts, 32, 3.0), ("one text, batch 1", [short], 1, 1.0)]:
        raw, ids, layers = raw_predictor(clf, inputs, batch)
        raw(); got = clf.predict(inputs, batch_size=batch)
        assert np.array_equal(got.label_ids, ids) and np.array_equal(got.exit_layers, layers), "same answers both ways"
        if batch > 1:
            api_t, lib_t = [], []
            for _ in range(3):  # interleaved rounds
                api_t.append(timed(lambda: clf.predict(inputs, batch_size=batch), seconds))
                lib_t.append(timed(raw, seconds))
            a, l = statistics.median(api_t), statistics.median(lib_t)
        else:
            # A call takes ~1-2 ms and moves by more than the overhead from one
            # moment to the next: alternate the two call by call, and take the
            # median of each pair's difference.
            api_t, lib_t = [], []
            for i in range(4000):  # which goes first alternates too
                if i % 2:
                    t0 = time.perf_counter(); clf.predict(inputs, batch_size=batch); t1 = time.perf_counter(); raw()
                    t2 = time.perf_counter(); api_t.append(t1 - t0); lib_t.append(t2 - t1)
                else:
                    t0 = time.perf_counter(); raw(); t1 = time.perf_counter(); clf.predict(inputs, batch_size=batch)
                    t2 = time.perf_counter(); lib_t.append(t1 - t0); api_t.append(t2 - t1)
            l = statistics.median(lib_t)
            a = l + statistics.median([x - y for x, y in zip(api_t, lib_t)])
        rows.append((name, len(inputs), l, a))
    print(f"policy: the model's default ({clf.default_policy if hasattr(clf, 'default_policy') else 'saved'})")
    print("| inputs | texts | library (ms/call) | Python API (ms/call) | overhead |")
    print("|---|--:|--:|--:|--:|")
    for name, n, l, a in rows:
        over = f"{100 * (a - l) / l:+.1f}%" if n > 1 else f"{1e6 * (a - l):+.0f} µs/call"
        print(f"| {name} | {n} | {1e3 * l:.3f} | {1e3 * a:.3f} | {over} |")


if __name__ == "__main__":
    main()
