"""lenet.train and lenet.boost on real MNIST digits (small, fast runs; not benchmarks)."""

from __future__ import annotations

import pytest
import torch

from data import to_lenet_input
from lenet.boost import filter_balanced, filter_disagreement
from lenet.checkpoint import load_checkpoint, load_model, save_checkpoint
from lenet.models import LeNet4, LeNet5, ModernLeNet
from lenet.train import Split, TrainConfig, make_optimizer, sdlm_lr_scale, train_model


@pytest.fixture(scope="module")
def small(mnist_train):
    x = to_lenet_input(mnist_train[0][:1200])
    y = torch.from_numpy(mnist_train[1][:1200])
    return Split(x[:1000], y[:1000]), Split(x[1000:], y[1000:])


def test_training_records_history_and_learns(small):
    train, val = small
    torch.manual_seed(0)
    model = LeNet5()
    cfg = TrainConfig(epochs=3, batch_size=8, sdlm_warmup=200)
    hist = train_model(model, train, cfg, val=val)
    assert [r["epoch"] for r in hist] == [1, 2, 3]
    for key in ("train_loss", "train_error", "val_error", "test_error", "samples_per_second", "rate"):
        assert key in hist[-1]
    assert hist[-1]["test_error"] is None
    assert hist[-1]["val_error"] < 0.4  # chance is 0.9
    assert [r["rate"] for r in hist] == [5e-4, 1e-4, 1e-5]  # paper passes 1, 7, 14


def test_resume_reproduces_an_uninterrupted_run(small, tmp_path):
    train, _ = small
    cfg = TrainConfig(epochs=2, batch_size=32, sdlm_warmup=100)
    torch.manual_seed(1)
    straight = LeNet5()
    start = {k: v.clone() for k, v in straight.state_dict().items()}
    train_model(straight, train, cfg)

    resumed = LeNet5()
    resumed.load_state_dict(start)
    opt = make_optimizer(resumed, cfg)
    hist = train_model(resumed, train, TrainConfig(**{**cfg.__dict__, "epochs": 1}), optimizer=opt)
    path = save_checkpoint(tmp_path / "ck.pt", resumed, optimizer=opt.state_dict(), epoch=1, history=hist)
    payload = load_checkpoint(path)
    again = load_model(path).train()
    opt2 = make_optimizer(again, cfg)
    opt2.load_state_dict(payload["optimizer"])
    train_model(again, train, cfg, start_epoch=1, history=payload["history"], optimizer=opt2)
    for k, v in straight.state_dict().items():
        assert torch.allclose(v, again.state_dict()[k], atol=1e-6), k


def test_sdlm_minibatch_scale_rule():
    cfg = TrainConfig(batch_size=32)
    assert sdlm_lr_scale(cfg, 0, 5e-4) == 1.0  # pass 1: warm
    assert sdlm_lr_scale(cfg, 1, 5e-4) == pytest.approx(2e-3 / 5e-4)  # capped
    assert sdlm_lr_scale(cfg, 12, 1e-5) == 32  # linear scaling below the cap
    assert sdlm_lr_scale(TrainConfig(batch_size=1), 5, 1e-4) == 0.1  # measured: 1.0 diverges
    assert sdlm_lr_scale(TrainConfig(lr=3.0), 5, 1e-4) == 3.0


def test_optimizer_choice_errors():
    with pytest.raises(ValueError, match="sdlm needs one of the paper's networks"):
        make_optimizer(ModernLeNet(), TrainConfig(optimizer="sdlm"))
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer(LeNet5(), TrainConfig(optimizer="rmsprop"))


def test_modern_trains_with_adam(small):
    train, val = small
    torch.manual_seed(2)
    model = ModernLeNet()
    hist = train_model(model, train, TrainConfig(epochs=1, optimizer="adam", batch_size=32), val=val)
    assert hist[-1]["val_error"] < 0.5


def test_boosting_filters(small):
    train, _ = small
    torch.manual_seed(3)
    net_a, net_b = LeNet4().eval(), LeNet4().eval()
    with torch.no_grad():
        net_b.out.bias += 0.3 * torch.randn(10)

    def stream():
        while True:
            yield train.x[:256], train.y[:256]

    data, stats = filter_balanced(net_a, stream(), 40, max_draws=10_000)
    ok = net_a(data.x).argmin(1) == data.y
    assert data.y.numel() == 40 and int(ok.sum()) == 20 and stats["patterns"] == 40
    data, stats = filter_disagreement(net_a, net_b, stream(), 10, max_draws=2_000)
    assert (net_a(data.x).argmin(1) != net_b(data.x).argmin(1)).all()
    assert 0 <= stats["disagreement_rate"] <= 1
