"""Training of the segmentation recogniser: pieces, local MAP training, global criteria, metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from docrec.commands.eval_strings import at_threshold, levenshtein, threshold_at_error
from docrec.training.seg_data import NONE_ID, PieceDataConfig, dequantize, make_pieces, quantize


@pytest.fixture(scope="module")
def pools(mnist_dir):
    from docrec.training.seg_data import train_pools

    return train_pools(mnist_dir)


def test_pieces_from_training_strings(pools):
    train_pool, _ = pools
    x, y, stats = make_pieces(6, seed=3, pool=train_pool, config=PieceDataConfig(max_none_per_field=5))
    assert x.dtype == np.uint8 and x.shape[1:] == (1, 32, 32) and len(x) == len(y)
    assert stats["correct"] > 0 and stats["none"] > 0
    assert (y == NONE_ID).sum() == stats["none"] <= 6 * 5
    assert set(np.unique(y)) <= set(range(17))
    # quantisation round trip stays within half a grey step
    t = dequantize(x[:5])
    assert torch.allclose(dequantize(quantize(t)), t) and float(t.min()) >= -0.1 - 1e-6


def test_train_pools_keep_validation_digits_apart(pools):
    train_pool, val_pool = pools
    assert len(train_pool.labels) == 55_000 and len(val_pool.labels) == 5_000
    assert train_pool.split == val_pool.split == "train"


def test_local_training_step_and_atomic_checkpoint(pools, tmp_path):
    from docrec.training.seg_local import LocalTrainConfig, train_local
    from lenet.models import LeNet5

    train_pool, _ = pools
    x, y, _ = make_pieces(4, seed=4, pool=train_pool)
    torch.manual_seed(0)
    model = LeNet5(17)
    ckpt = tmp_path / "local.pt"
    hist = train_local(model, x, y, LocalTrainConfig(epochs=2, batch_size=16, lr=2e-3), val=(x, y),
                       checkpoint=ckpt, progress=False, log=lambda s: None)
    assert hist[-1]["loss"] < hist[0]["loss"]
    state = torch.load(ckpt, weights_only=True)
    assert set(state["model"]) == set(model.state_dict())
    assert not list(tmp_path.glob("*.tmp"))


def test_mnist_pieces_renormalized_like_field_pieces(pools):
    from docrec.training.seg_data import mnist_pieces

    train_pool, _ = pools
    x, y = mnist_pieces(train_pool, limit=50, seed=1)
    xg, yg = mnist_pieces(train_pool, limit=50, seed=1, renormalize=False)
    assert x.shape == xg.shape == (50, 1, 32, 32) and np.array_equal(y, yg)
    assert not np.array_equal(x, xg)  # passed through the segmenter's normaliser
    t = dequantize(x)
    assert float(t.min()) >= -0.1 - 1e-6 and float(t.max()) <= 1.175 + 1e-6
    rows = (t[:, 0] > 0).any(dim=2).float().sum(1)  # ink rows of every piece
    assert float(rows.max()) <= 28 and float(rows.min()) >= 12  # fitted into the 20x20 box (+ fringe)


def test_local_distortion_config_and_errors():
    from docrec.training.seg_local import LocalTrainConfig

    assert LocalTrainConfig().distortion() is None
    d = LocalTrainConfig(distort=0.5).distortion()
    assert d.probability == 0.5 and d.max_shift == 1.5
    with pytest.raises(ValueError, match="distort"):
        LocalTrainConfig(distort=1.5)
    with pytest.raises(ValueError, match="epochs"):
        LocalTrainConfig(epochs=0)


def test_cli_flags_accept_both_spellings():
    from docrec.cli import build_parser

    parser = build_parser()
    for flag in ("--val-fields", "--val_fields"):
        args = parser.parse_args(["train", "seg", "local", flag, "7", "--distort", "0.25"])
        assert args.val_fields == 7 and args.distort == 0.25
    args = parser.parse_args(["train", "lenet", "--out", "x.pt", "--batch-size", "5"])
    assert args.batch_size == 5


def test_cli_help_lists_the_current_spelling_first_and_once(capsys):
    from docrec.cli import main

    assert main(["train", "sdnn", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--real-ids LO-HI, --real_ids LO-HI" in out  # declared as --real_ids, shown kebab first
    assert "--batch-size BATCH_SIZE, --batch_size BATCH_SIZE" in out
    assert "--seed SEED, --seed" not in out  # a name without '_' or '-' is listed once
    assert main(["train", "sdnn", "--real", "nowhere", "--real_ids", "9-1"]) != 0
    assert "--real-ids" in capsys.readouterr().err


@pytest.mark.parametrize("criterion", ["forward", "viterbi"])
def test_global_criteria_nonnegative_and_trainable(pools, criterion):
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_global import field_losses, make_fields
    from lenet.models import LeNet5

    train_pool, _ = pools
    fields = make_fields(4, seed=9, pool=train_pool, spacings=("wide",), kinds=(("zip", 1.0),))
    torch.manual_seed(1)
    model = LeNet5(17)
    rec = SegmentationRecognizer(model=model)
    loss, used = field_losses(rec, fields, criterion=criterion)
    assert used >= 1
    assert float(loss.detach()) >= -1e-4  # the constrained paths are a subset of all paths
    loss.backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.parameters())
    if criterion == "forward":
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(5):
            opt.zero_grad()
            loss, used = field_losses(rec, fields, criterion=criterion)
            (loss / used).backward()
            opt.step()
        after, _ = field_losses(rec, fields, criterion=criterion)
        first = field_losses(SegmentationRecognizer(model=_fresh()), fields, criterion=criterion)[0]
        assert float(after.detach()) < float(first.detach())


def _fresh():
    from lenet.models import LeNet5

    torch.manual_seed(1)
    return LeNet5(17)


def test_levenshtein_brute_force():
    for a, b in itertools.product(["", "1", "12", "121", "2-1"], repeat=2):
        # brute force via all alignments is overkill; check metric axioms + known values
        assert levenshtein(a, b) == levenshtein(b, a)
        assert levenshtein(a, b) <= max(len(a), len(b))
        assert (levenshtein(a, b) == 0) == (a == b)
    assert levenshtein("12345", "1245") == 1 and levenshtein("123", "321") == 2


def test_threshold_at_error_against_enumeration():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(1, 12))
        conf = np.round(rng.random(n), 1)
        ok = rng.random(n) < 0.8
        thr = threshold_at_error(conf, ok, max_error=0.1)
        cands = sorted(set(conf), reverse=True)
        feasible = [t for t in cands if ((conf >= t) & ~ok).sum() <= 0.1 * n]
        assert thr == (min(feasible) if feasible else float("inf"))
        if np.isfinite(thr):
            assert at_threshold(conf, ok, thr)["error"] <= 0.1 + 1e-12


def test_global_fields_can_require_the_true_segmentation(pools):
    from docrec.training.seg_global import make_fields

    train_pool, _ = pools
    stats: dict = {}
    kept = make_fields(3, seed=5, pool=train_pool, spacings=("overlapping",), kinds=(("zip", 1.0),),
                       require_true_path=True, stats=stats)
    # overlapping digits rarely leave the true segmentation in the graph: more draws than keeps
    assert stats["kept"] == len(kept) <= 3 and stats["drawn"] > stats["kept"]
    plain = make_fields(3, seed=5, pool=train_pool, spacings=("overlapping",), kinds=(("zip", 1.0),))
    assert len(plain) == 3  # without the filter every drawn field is kept


def test_reading_nll_and_temperature_choice(pools):
    from docrec.recognizers import resolve_grammar
    from docrec.recognizers.seg import SegmentationRecognizer
    from docrec.training.seg_calibrate import TAUS, choose_temperature, reading_nll
    from docrec.training.seg_global import KIND_GRAMMARS, make_fields, string_accuracy

    assert reading_nll([True, False], [0.8, 0.3]) == pytest.approx(-(np.log(0.8) + np.log(0.7)) / 2)
    assert reading_nll([True], [1.0]) < 1e-5 and reading_nll([False], [1.0]) > 10  # clipped, finite
    train_pool, _ = pools
    fields = make_fields(5, seed=12, pool=train_pool, spacings=("normal",))
    torch.manual_seed(2)
    from lenet.models import LeNet5

    rec = SegmentationRecognizer(model=LeNet5(17), temperature=1.0)
    grammars = {k: resolve_grammar(v) for k, v in KIND_GRAMMARS.items()}
    out = choose_temperature(rec, fields, grammars=grammars, taus=(1.0, 4.0))
    assert out["temperature"] in (1.0, 4.0) and out["fields"] == 5 and len(out["grid"]) == 2
    assert out["string_accuracy"] == pytest.approx(string_accuracy(rec, fields))
    best = min(out["grid"], key=lambda r: r["nll"])
    assert best["tau"] == out["temperature"]
    assert set(TAUS) >= {1.0, 4.0}
    with pytest.raises(ValueError, match="finite and > 0"):
        choose_temperature(rec, fields, grammars=grammars, taus=(0.0,))


def test_seg_weights_carry_their_temperature(tmp_path):
    from docrec.recognizers.seg import SegmentationRecognizer, load_seg_weights
    from lenet.models import LeNet5

    path = tmp_path / "w.pt"
    torch.save({"model": LeNet5(17).state_dict(), "meta": {"temperature": 3.0}}, path)
    model, meta = load_seg_weights(path)
    assert meta == {"temperature": 3.0, "arch": "lenet5"}
    assert SegmentationRecognizer(weights=path).config.temperature == 3.0
    assert SegmentationRecognizer(weights=path, temperature=1.5).config.temperature == 1.5
    with pytest.raises(ValueError, match="temperature"):
        SegmentationRecognizer(weights=path, temperature=0.0)
    bare = tmp_path / "bare.pt"
    torch.save(LeNet5(17).state_dict(), bare)
    assert SegmentationRecognizer(weights=bare).config.temperature == 1.0
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_seg_weights(junk)
    wrong = tmp_path / "ten.pt"
    torch.save(LeNet5(10).state_dict(), wrong)
    with pytest.raises(ValueError, match="17-class"):
        load_seg_weights(wrong)
