"""lenet.SDNN: LeNet-5 replicated over the width, sharing (not copying) its weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data import to_lenet_input
from lenet.models import LeNet5
from lenet.sdnn import SDNN, frame_counts, frame_mask, pad_batch, window_start


def _strip(mnist_test, n_digits: int, seed: int = 0) -> torch.Tensor:
    """A (1, 1, 32, W) field of real test digits side by side, 20 px apart, plus odd margins."""
    rng = np.random.default_rng(seed)
    images = mnist_test[0][rng.choice(len(mnist_test[0]), n_digits, replace=False)]
    canvas = np.zeros((28, 20 * n_digits + 19), dtype=np.uint8)
    for i, im in enumerate(images):
        canvas[:, 20 * i:20 * i + 28] = np.maximum(canvas[:, 20 * i:20 * i + 28], im)
    return to_lenet_input(canvas[None], pad=2)  # (1, 1, 32, W + 4)


def test_column_t_equals_lenet5_on_window_at_4t(mnist_test):
    torch.manual_seed(0)
    net = LeNet5(17).double()
    sdnn = SDNN(net)
    x = _strip(mnist_test, 4).double()
    out = sdnn(x)
    width = x.shape[-1]
    assert out.shape == (1, (width - 32) // 4 + 1, 17)
    windows = torch.cat([x[..., window_start(t):window_start(t) + 32] for t in range(out.shape[1])])
    assert torch.allclose(out[0], net(windows), atol=1e-9)


def test_weights_are_shared_not_copied(mnist_test):
    torch.manual_seed(1)
    net = LeNet5(17)
    sdnn = SDNN(net)
    assert sdnn.lenet5 is net
    assert {id(p) for p in sdnn.parameters()} == {id(p) for p in net.parameters()}
    x = _strip(mnist_test, 3)
    before = sdnn(x).detach().clone()
    with torch.no_grad():
        net.c3.weight[5] += 0.5  # change one LeNet-5 weight
    after = sdnn(x).detach()
    assert not torch.allclose(before, after)
    # and a gradient through the SDNN lands in LeNet-5's parameters
    net.zero_grad()
    sdnn(x).sum().backward()
    assert net.c1.weight.grad is not None and net.c1.weight.grad.abs().sum() > 0


def test_frame_count_formula():
    net = SDNN(LeNet5(10))
    for width in range(32, 60):
        out = net(torch.full((1, 1, 32, width), -0.1))
        assert out.shape[1] == (width - 32) // 4 + 1 == int(frame_counts([width])[0])


def test_padded_batch_columns_equal_single_images(mnist_test):
    torch.manual_seed(2)
    net = SDNN(LeNet5(17)).double()
    full = _strip(mnist_test, 5, seed=3).double()[0]  # (1, 32, W)
    images = [full[:, :, :40], full[:, :, :77], full[:, :, :20]]  # the last is narrower than 32
    out, mask = net.forward_padded(images)
    assert out.shape[0] == 3 and mask.shape == out.shape[:2]
    assert mask.sum(1).tolist() == [3, 12, 1]
    for i, im in enumerate(images):
        x, _ = pad_batch([im])
        single = net(x)[0]
        t = int(mask[i].sum())
        assert single.shape[0] == t
        assert torch.allclose(out[i, :t], single, atol=1e-9)
    # batch sizes 1 and 3 agree
    assert torch.equal(frame_mask([40, 77, 32]), mask)


def test_bad_inputs_are_clear_errors():
    net = SDNN(LeNet5(17))
    with pytest.raises(ValueError, match=r"\[lenet.SDNN\].*\(B, 1, 32, W\)"):
        net(torch.zeros(1, 1, 28, 64))
    with pytest.raises(ValueError, match="pad"):
        net(torch.zeros(1, 1, 32, 20))
    with pytest.raises(ValueError, match="height 32"):
        pad_batch([torch.zeros(30, 50)])
    with pytest.raises(ValueError, match="width 20"):
        frame_counts([20])
    with pytest.raises(TypeError, match="LeNet5"):
        SDNN(torch.nn.Linear(2, 2))


def test_sdnn_gradcheck_small():
    torch.manual_seed(3)
    net = SDNN(LeNet5(3)).double()
    x = torch.randn(1, 1, 32, 36, dtype=torch.float64, requires_grad=True)
    # gradient with respect to the input of the whole replicated network (2 columns)
    assert torch.autograd.gradcheck(lambda inp: net(inp)[..., :2].sum(-1), (x,), eps=1e-6, atol=1e-5,
                                    nondet_tol=0.0, fast_mode=True)


def _modern(num_classes: int = 17):
    from lenet.models import ModernLeNet

    torch.manual_seed(4)
    return ModernLeNet(num_classes).double().eval()


def test_windowed_sdnn_frame_t_is_the_classifier_on_window_at_4t(mnist_test):
    """The padded convolutions of ModernLeNet would see past a window if slid over the width; the
    windowed SDNN gives exactly the classifier on each window, whatever the chunk size."""
    from lenet.sdnn import WindowedSDNN

    net = _modern()
    x = _strip(mnist_test, 4, seed=5).double()
    windows = torch.cat([x[..., window_start(t):window_start(t) + 32]
                         for t in range((x.shape[-1] - 32) // 4 + 1)])
    expected = net(windows)
    for chunk in (1, 5, 4096):
        out = WindowedSDNN(net, chunk=chunk)(x)
        assert out.shape == (1, int(frame_counts([x.shape[-1]])[0]), 17)
        assert torch.allclose(out[0], expected, atol=1e-12)


def test_windowed_sdnn_padded_batch_equals_single_images(mnist_test):
    from lenet.sdnn import WindowedSDNN

    sdnn = WindowedSDNN(_modern(), chunk=7)
    full = _strip(mnist_test, 5, seed=6).double()[0]
    images = [full[:, :, :44], full[:, :, :90], full[:, :, :25]]
    x, widths = pad_batch(images)
    out = sdnn(x)
    mask = frame_mask(widths, out.shape[1])
    for i, im in enumerate(images):
        single = sdnn(pad_batch([im])[0])[0]
        t = int(mask[i].sum())
        assert single.shape[0] == t
        assert torch.allclose(out[i, :t], single, atol=1e-12)


def test_windowed_sdnn_shares_weights_gradcheck_and_errors():
    from lenet.sdnn import WindowedSDNN

    net = _modern(3)
    sdnn = WindowedSDNN(net)
    assert {id(p) for p in sdnn.parameters()} == {id(p) for p in net.parameters()}
    assert sdnn.num_classes == 3
    x = torch.randn(1, 1, 32, 40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: sdnn(inp).sum(-1), (x,), eps=1e-6, atol=1e-5, fast_mode=True)
    with pytest.raises(ValueError, match=r"\[lenet.WindowedSDNN\].*pad"):
        sdnn(torch.zeros(1, 1, 32, 20, dtype=torch.float64))
    with pytest.raises(ValueError, match="WindowedSDNN"):
        sdnn(torch.zeros(1, 1, 28, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="chunk"):
        WindowedSDNN(net, chunk=0)
