"""Read the bundled sample zip codes with both recognisers and their combination (no network, no
MNIST needed).

Run from the repository root:  .venv/bin/python examples/read_fields.py

Each sample in ``docrec/samples`` was made by ``docrec synth`` from MNIST *test* digits; its true text
is in ``labels.csv``. The segmentation system cuts the field into candidate pieces and runs LeNet-5
on every piece; the SDNN system slides LeNet-5 over the whole field. Both compose their graph with
the zip-code grammar and decode it. The combined system rescores the readings of both with both.
"""

from pathlib import Path

from data.folder import FieldFolder
from docrec.recognizers import get_recognizer, resolve_grammar

samples = FieldFolder(Path(__file__).resolve().parents[1] / "docrec" / "samples")
images = [image for image, _ in samples]
truths = [text for _, text in samples]
grammar = resolve_grammar("zip")  # \d{5}(-\d{4})?

for system in ("seg", "sdnn", "combo"):
    recognizer = get_recognizer(system)  # bundled weights
    results = recognizer.recognize(images, grammar=grammar)  # one batched call
    correct = 0
    print(f"--- {system}")
    for truth, r in zip(truths, results):
        correct += r.text == truth
        mark = "ok " if r.text == truth else "ERR"
        print(f"{mark} truth {truth:<11} read {r.text:<11} confidence {r.confidence:.3f} "
              f"first box {r.boxes[0] if r.boxes else None}")
    print(f"{system}: {correct}/{len(truths)} read exactly")
