"""The folded inference path computes the training modules' function (lenet/inference.py)."""

from __future__ import annotations

import pytest
import torch

from data import to_lenet_input
from docrec.weights import load_model
from lenet.inference import FoldedNet, inference_model
from lenet.models import BoostedLeNet4, LeNet1, LeNet4, LeNet5, ModernLeNet
from lenet.train import penalties_of


@pytest.mark.parametrize("make", [lambda: LeNet5(10), lambda: LeNet5(17), lambda: LeNet1(10),
                                  lambda: LeNet4(10), lambda: BoostedLeNet4(10)],
                         ids=["lenet5", "lenet5-17", "lenet1", "lenet4", "boosted-lenet4"])
def test_folded_equals_module_in_float64(make):
    torch.manual_seed(0)
    model = make().double().eval()
    # large inputs drive units into saturation, where a wrong fold would show most
    x = 3.0 * torch.randn(9, 1, 32, 32, dtype=torch.float64)
    folded = inference_model(model)
    assert isinstance(folded, FoldedNet)
    with torch.no_grad():
        ref = model(x)
    out = folded(x)
    assert out.shape == ref.shape and out.dtype == torch.float64
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)


def test_folded_conv_pool_handles_odd_maps_like_the_module():
    # a 33x33 input gives C1 29x29 maps: subsampling drops the last row/column in both forms
    torch.manual_seed(1)
    model = LeNet5(10).double()
    x = torch.randn(3, 1, 33, 33, dtype=torch.float64)
    from lenet.inference import _fold_stages, _run
    ops = _fold_stages([model.c1, model.s2, model.c3, model.s4])
    with torch.no_grad():
        ref = x
        for layer in (model.c1, model.s2, model.c3, model.s4):
            ref = 1.7159 * torch.tanh(2.0 / 3.0 * layer.linear(ref))
    out = _run(ops, x) * (2 * 1.7159) - 1.7159
    torch.testing.assert_close(out, ref.flatten(1), rtol=1e-12, atol=1e-12)


def test_folded_is_a_snapshot_without_gradients():
    model = LeNet5(10)
    folded = inference_model(model)
    assert list(folded.parameters()) == []
    x = torch.randn(2, 1, 32, 32, requires_grad=True)
    assert not folded(x).requires_grad
    before = folded(x)
    with torch.no_grad():
        model.f6.weight.add_(1.0)
    torch.testing.assert_close(folded(x), before)  # the snapshot did not follow the change


def test_non_faithful_models_pass_through():
    model = ModernLeNet(10)
    assert inference_model(model) is model
    with pytest.raises(TypeError, match="paper's networks"):
        FoldedNet(model)


def test_folded_rejects_wrong_shapes_clearly():
    folded = inference_model(LeNet5(10))
    with pytest.raises(ValueError, match="28x28"):
        folded(torch.zeros(2, 1, 28, 28))


def test_bundled_lenet5_same_decisions_on_mnist(mnist_test):
    images, labels = mnist_test
    x = to_lenet_input(images[:2000])
    model = load_model("lenet5")
    fast = penalties_of(model, x)
    slow = penalties_of(model, x, fast=False)
    torch.testing.assert_close(fast, slow, rtol=1e-4, atol=1e-4)
    assert torch.equal(fast.argmin(1), slow.argmin(1))
    # batch consistency: one digit at a time equals the batch
    single = torch.cat([penalties_of(model, x[i:i + 1]) for i in range(16)])
    torch.testing.assert_close(single, fast[:16], rtol=1e-4, atol=1e-4)
    assert float((fast.argmin(1) != torch.from_numpy(labels[:2000])).float().mean()) < 0.02


def test_folded_modern_cnn_gives_the_same_penalties():
    """FoldedModern (batch norm folded into the convolutions, max-pool before ReLU) against the
    eval-mode ModernLeNet with trained-like batch-norm statistics, in float64 and float32."""
    from lenet.inference import FoldedModern
    from lenet.models import ModernLeNet

    torch.manual_seed(3)
    net = ModernLeNet(17)
    _trained_like_batch_norm(net)
    net.eval()
    x = torch.rand(64, 1, 32, 32) * 1.275 - 0.1
    folded = inference_model(net)
    assert isinstance(folded, FoldedModern)
    torch.testing.assert_close(folded(x), net(x), rtol=1e-5, atol=1e-5)
    assert (folded(x).argmin(1) == net(x).argmin(1)).all()
    net64, x64 = net.double(), x.double()  # (in place)
    torch.testing.assert_close(FoldedModern(net64)(x64), net64(x64), rtol=1e-12, atol=1e-12)
    net.train()  # training mode (batch statistics, dropout): not folded
    assert inference_model(net) is net
    with pytest.raises(ValueError, match="eval mode"):
        FoldedModern(net)


def test_folded_strip_net_gives_the_same_penalties():
    """FoldedStrip (folded trunk read a few strips at a time) against the eval-mode StripNet with
    trained-like batch-norm statistics, strips of several widths, float64 and float32."""
    from lenet.inference import FoldedStrip
    from lenet.strip import StripNet

    torch.manual_seed(4)
    net = StripNet(channels=(8, 16, 16), hidden=16)
    _trained_like_batch_norm(net)
    net.eval()
    x = torch.rand(5, 1, 32, 120) * 1.275 - 0.1
    widths = torch.tensor([120, 64, 32, 101, 77])
    folded = inference_model(net)
    assert isinstance(folded, FoldedStrip) and folded.num_classes == net.num_classes
    with torch.no_grad():
        torch.testing.assert_close(folded(x, widths), net(x, widths), rtol=1e-5, atol=1e-5)
        net64, x64 = net.double(), x.double()  # (in place)
        for trunk_batch in (1, 2, 8):
            torch.testing.assert_close(FoldedStrip(net64, trunk_batch=trunk_batch)(x64, widths), net64(x64, widths),
                                       rtol=1e-12, atol=1e-12)
    net.train()
    assert inference_model(net) is net
    with pytest.raises(ValueError, match="eval mode"):
        FoldedStrip(net)
    with pytest.raises(ValueError, match=r"\[lenet.FoldedStrip\] trunk_batch must be >= 1"):
        FoldedStrip(net.eval(), trunk_batch=0)


def _trained_like_batch_norm(net: torch.nn.Module) -> None:
    """Non-trivial running statistics and affine parameters in every batch norm (in place)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)


@pytest.mark.parametrize("width", [32, 33, 57, 121])
def test_folded_sdnn_equals_the_sdnn_in_float64_at_every_width(width):
    from lenet.inference import FoldedSDNN
    from lenet.sdnn import SDNN

    torch.manual_seed(width)
    sdnn = SDNN(LeNet5(17)).double()
    # odd widths leave C1 maps of odd width: both forms drop the last column at subsampling
    x = 3.0 * torch.randn(4, 1, 32, width, dtype=torch.float64)
    folded = inference_model(sdnn)
    assert isinstance(folded, FoldedSDNN) and list(folded.parameters()) == []
    with torch.no_grad():
        ref = sdnn(x)
    out = folded(x)
    assert out.shape == ref.shape == (4, (width - 32) // 4 + 1, 17) and not out.requires_grad
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    # batch consistency: one strip alone reads as in the batch
    torch.testing.assert_close(folded(x[2:3]), out[2:3], rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="lenet.SDNN"):
        FoldedSDNN(LeNet5(17))
