"""LeNet-5 on MNIST with the bundled weights: test error on the first 2,000 test digits.

Run from the repository root:  .venv/bin/python examples/lenet5_mnist.py [MNIST_DIR]

MNIST is read from MNIST_DIR, else $DOCREC_MNIST_DIR, else the user cache (downloaded with checksum
verification when missing). The network outputs one penalty per class (Euclidean RBF, docs/paper.md
Sec. II-B); the answer is the class with the lowest penalty.
"""

import sys

import torch

from data import load_mnist, to_lenet_input
from docrec.weights import load_model

images, labels = load_mnist("test", root=sys.argv[1] if len(sys.argv) > 1 else None)
model = load_model("lenet5").eval()
x = to_lenet_input(images[:2000])  # (N, 1, 32, 32), background -0.1, ink 1.175
with torch.no_grad():
    penalties = model(x)  # (N, 10)
predicted = penalties.argmin(dim=1)
errors = int((predicted != torch.as_tensor(labels[:2000])).sum())
print(f"LeNet-5: {errors} errors on 2,000 test digits ({100 * errors / 2000:.2f}%)")
