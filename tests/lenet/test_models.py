"""lenet.models and lenet.rbf: the paper's sizes, the codes, shapes and bad input."""

from __future__ import annotations

import pytest
import torch

from data import to_lenet_input
from lenet.layers import count_parameters
from lenet.models import (BoostedLeNet4, LeNet1, LeNet4, LeNet5, ModernLeNet, build_model,
                          lenet5_with_classes)
from lenet.rbf import CHARSET, NONE_ID, EuclideanRBF, charset_codes, render_code


def test_lenet5_has_exactly_60000_trainable_parameters():
    for classes in (10, 17):
        model = LeNet5(classes)
        assert count_parameters(model) == 60_000
        assert model.layer_parameter_counts() == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32,
                                                  "c5": 48120, "f6": 10164}
        # the RBF centres are fixed: a buffer, never a parameter
        assert all("rbf" not in name for name, _ in model.named_parameters())


def test_other_model_sizes():
    assert count_parameters(LeNet1()) == 2578  # "about 2,600"
    assert count_parameters(LeNet4()) == 17298  # "about 17,000"
    assert count_parameters(BoostedLeNet4()) == 3 * 17298
    assert 50_000 < count_parameters(ModernLeNet()) < 100_000


@pytest.mark.parametrize("arch", ["lenet5", "lenet1", "lenet4", "boosted-lenet4", "modern"])
def test_shapes_and_batch_consistency(arch, mnist_test):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    x = to_lenet_input(mnist_test[0][:3])
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i:i + 1]) for i in range(3)])
    assert batched.shape == (3, 10)
    assert torch.allclose(batched, single, atol=1e-4)


def test_rbf_output_is_squared_distance_penalty():
    centres = charset_codes(17)
    rbf = EuclideanRBF(centres).double()
    x = torch.randn(4, 84, dtype=torch.float64)
    want = ((x[:, None, :] - centres.double()[None]) ** 2).sum(-1)
    assert torch.allclose(rbf(x), want)
    xg = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(rbf, (xg,))
    # an output exactly on a code has penalty 0 for that class
    assert float(rbf(centres.double()[3:4])[0, 3]) == 0.0


def test_lenet5_penalties_follow_f6_and_codes(mnist_test):
    model = LeNet5(17).double()
    x = to_lenet_input(mnist_test[0][:2]).double()
    f6 = model.features(x)
    want = ((f6[:, None, :] - charset_codes(17).double()[None]) ** 2).sum(-1)
    assert torch.allclose(model(x), want)


def test_codes_are_pm1_distinct_and_documented():
    codes = charset_codes()
    assert codes.shape == (17, 84) and len(CHARSET) == 17 and CHARSET[NONE_ID] == "<none>"
    assert set(codes.unique().tolist()) == {-1.0, 1.0}
    bits = ((codes[:, None] != codes[None]).sum(-1))  # Hamming distances (17, 17)
    off = bits + 1000 * torch.eye(17, dtype=torch.long)
    assert int(off.min()) >= 2  # all distinct
    # similar shapes, similar codes: ',' and '.' are the closest pair; the closest digit pair is 16
    assert int(bits[10, 11]) == 2
    assert int(off[:10, :10].min()) == 16
    # 'none' is far and roughly equidistant from every character
    d_none = bits[NONE_ID, :NONE_ID]
    assert int(d_none.min()) >= 40 and int(d_none.max()) - int(d_none.min()) <= 15
    pic = render_code(codes[7])
    assert pic.count("\n") == 11 and all(len(r) == 7 for r in pic.splitlines())


def test_c5_slides_on_wider_input():
    model = LeNet5()
    for width, frames in ((32, 1), (35, 1), (36, 2), (64, 9)):
        assert model.c5_maps(torch.zeros(2, 1, 32, width)).shape == (2, 120, 1, frames)


def test_wrong_input_shape_is_a_clear_error():
    model = LeNet5()
    with pytest.raises(ValueError, match=r"\[lenet.LeNet5\].*\(B, 1, 32, 32\).*28x28"):
        model(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.zeros(2, 32, 32))
    with pytest.raises(ValueError, match="floating"):
        model(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="ModernLeNet"):
        ModernLeNet()(torch.zeros(1, 1, 28, 28))


def test_lenet5_with_17_classes_from_10_class_weights(mnist_test):
    torch.manual_seed(0)
    ten = LeNet5(10).eval()
    seventeen = lenet5_with_classes(ten, 17).eval()
    x = to_lenet_input(mnist_test[0][:5])
    with torch.no_grad():
        a, b = ten(x), seventeen(x)
    assert b.shape == (5, 17)
    assert torch.allclose(a, b[:, :10], atol=1e-5)
    # weights are the same values (a copy), the centres grew
    assert torch.equal(seventeen.c5.weight, ten.c5.weight)
    assert torch.equal(seventeen.rbf.centres, charset_codes(17))
    # and back: dropping to 10 classes from a state dict
    back = lenet5_with_classes(seventeen.state_dict(), 10)
    assert torch.equal(back.f6.weight, ten.f6.weight)


def test_lenet5_with_classes_rejects_foreign_codes():
    state = LeNet5(10).state_dict()
    state["rbf.centres"] = -state["rbf.centres"]
    with pytest.raises(ValueError, match="centres differ"):
        lenet5_with_classes(state, 17)


def test_build_model_errors():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("lenet7")
    with pytest.raises(ValueError, match="bad config"):
        build_model("lenet5", {"num_clases": 10})
