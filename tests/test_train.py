"""The training engine: determinism, exact resume after an interruption, metrics, errors."""
import math

import pytest
import torch
from torch import nn

from wconv import classify, data, models, train

pytestmark = pytest.mark.requires_data("cifar-100-python")


@pytest.fixture(scope="module")
def tiny():
    """Real CIFAR-100, 3 images per class: 200 train, 100 validation, 100 test."""
    return data.cifar100(n_per_class=3, val_per_class=1, test_per_class=1, seed=0)


def _fit(d, checkpoint=None, on_epoch_end=None, density="paper", epochs=2, seed=0,
         precision="float32"):
    torch.manual_seed(seed)
    model = models.build_model("vgg11", kernel_size=3, density=density, width=0.125)
    loader = data.TensorLoader(d.train, 50, d.mean, d.std, shuffle=True, augment=True,
                               drop_last=True, seed=seed)
    val = data.TensorLoader(d.val, 100, d.mean, d.std)
    test = data.TensorLoader(d.test, 100, d.mean, d.std)
    out = train.fit(model, loader, val, loss_fn=nn.functional.cross_entropy,
                    metrics=train.accuracy_metrics(), epochs=epochs, lr=0.05, seed=seed,
                    test_loader=test, checkpoint=checkpoint, checkpoint_key="tiny",
                    device="cpu", precision=precision, progress=False, on_epoch_end=on_epoch_end)
    return model, out


def _strip_times(rows):
    return [{k: v for k, v in r.items() if not k.endswith("time_s")} for r in rows]


def test_interrupted_run_resumes_to_the_same_result(tiny, tmp_path):
    """Interrupt after epoch 1 of 2, resume: the same weights and metrics as one whole run
    (which also shows that training is deterministic)."""
    whole, out_whole = _fit(tiny, checkpoint=tmp_path / "whole.pt")
    # what one run records
    assert [r["epoch"] for r in out_whole["epochs"]] == [1, 2]
    for row in out_whole["epochs"]:
        for key in ("train_loss", "train_top1", "train_top5", "val_loss", "val_top1", "val_top5"):
            assert math.isfinite(row[key]), key
        assert 0 <= row["val_top1"] <= row["val_top5"] <= 100
    assert set(out_whole["final"]) >= {"test_loss", "test_top1", "test_top5", "val_top1"}
    assert out_whole["epochs"][1]["lr"] < out_whole["epochs"][0]["lr"]  # cosine schedule
    assert out_whole["images_per_s"] > 0

    class Interrupt(Exception):
        pass

    def stop_after_first(epoch, row):
        if epoch == 1:
            raise Interrupt

    ckpt = tmp_path / "resumed.pt"
    with pytest.raises(Interrupt):
        _fit(tiny, checkpoint=ckpt, on_epoch_end=stop_after_first)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 1
    resumed, out_resumed = _fit(tiny, checkpoint=ckpt)
    assert out_resumed["resumed_from"] == 1
    for (name, pa), pb in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert _strip_times(out_whole["epochs"]) == _strip_times(out_resumed["epochs"])
    assert out_whole["final"] == out_resumed["final"]


def test_truncated_or_foreign_checkpoint_restarts(tiny, tmp_path):
    ckpt = tmp_path / "c.pt"
    _fit(tiny, checkpoint=ckpt, epochs=1)
    blob = ckpt.read_bytes()
    ckpt.write_bytes(blob[: len(blob) // 2])
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        _, out = _fit(tiny, checkpoint=ckpt, epochs=1)
    assert out["resumed_from"] == 0
    state = torch.load(ckpt, weights_only=False)
    state["key"] = "another run"
    torch.save(state, ckpt)
    with pytest.warns(UserWarning, match="belongs to another run"):
        _, out = _fit(tiny, checkpoint=ckpt, epochs=1)
    assert out["resumed_from"] == 0


def test_reparam_control_tracks_the_weighted_model(tiny):
    """Chapter 1's prediction, on real data: W₀⊙Φ + Φ²-scaled SGD steps = weighted convolution."""
    config = classify.make_config("vgg11", "paper", 3, seed=0, budget="smoke")
    weighted = classify.build(config)
    control = classify.build(dict(config, density="reparam"))
    kernels = [m.weighted_weight() for m in weighted.modules() if hasattr(m, "weighted_weight")]
    plain = [m.weight for m in control.modules() if type(m) is nn.Conv2d]
    assert len(kernels) == len(plain) == 8
    for k, p in zip(kernels, plain):
        assert torch.allclose(k, p)
    loader = data.TensorLoader(tiny.train, 50, tiny.mean, tiny.std, shuffle=True, seed=0)
    for model in (weighted, control):
        train.fit(model, loader, loss_fn=nn.functional.cross_entropy, epochs=1, lr=0.05,
                  device="cpu", progress=False)
    x = next(iter(data.TensorLoader(tiny.val, 100, tiny.mean, tiny.std)))[0]
    weighted.eval(), control.eval()
    with torch.no_grad():
        assert torch.allclose(weighted(x), control(x), atol=1e-3, rtol=1e-3)


def test_topk_accuracy():
    out = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.03, 0.07]])
    y = torch.tensor([2, 1])
    assert train.topk_accuracy(1)(out, y).tolist() == [0.0, 0.0]
    assert train.topk_accuracy(2)(out, y).tolist() == [100.0, 0.0]
    assert train.topk_accuracy(5)(out, y).tolist() == [100.0, 100.0]


@pytest.mark.parametrize("call, pattern", [
    (lambda p: train.make_optimizer(p, "rmsprop"), "optimizer must be one of sgd, adam, adamw; got 'rmsprop'"),
    (lambda p: train.make_optimizer(p, "sgd", lr=-1), "lr must be a positive number, got -1"),
    (lambda p: train.make_scheduler(train.make_optimizer(p), "linear", 10),
     "schedule must be one of cosine, constant; got 'linear'"),
])
def test_bad_options(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call([nn.Parameter(torch.zeros(1))])


def test_bfloat16_training_learns_and_stays_close_to_float32(tiny):
    """Mixed precision: float32 weights and losses, a bfloat16 forward pass in channels-last
    layout; one epoch moves the loss like float32 does, and the output is float32."""
    m32, out32 = _fit(tiny, epochs=1, precision="float32")
    m16, out16 = _fit(tiny, epochs=1, precision="bfloat16")
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    assert m16.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    l32, l16 = out32["epochs"][0]["train_loss"], out16["epochs"][0]["train_loss"]
    assert abs(l16 - l32) < 0.05 * l32, (l16, l32)
    assert math.isfinite(out16["final"]["test_loss"]) and out16["final"]["test_loss"] != out32["final"]["test_loss"]
    x = torch.randn(2, 3, 32, 32)
    y = train.forward(m16, x, "cpu", "bfloat16")
    assert y.dtype == torch.float32 and y.shape == (2, 100)


def test_bad_precision():
    with pytest.raises(ValueError, match="precision must be one of float32, bfloat16; got 'fp16'"):
        train.fit(nn.Linear(1, 1), [], loss_fn=nn.functional.mse_loss, epochs=1, precision="fp16")


def test_bad_epochs():
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        train.fit(nn.Linear(1, 1), [], loss_fn=nn.functional.mse_loss, epochs=0)


def test_throughput_side_by_side():
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 100, (8,))
    torch.manual_seed(0)
    r = train.throughput({"standard": models.build_model("vgg11", width=0.0625),
                          "weighted": models.build_model("vgg11", width=0.0625, density="paper")},
                         lambda: (x, y), nn.functional.cross_entropy, steps=2, rounds=2,
                         device="cpu")
    assert r["standard"] > 0 and r["weighted"] > 0
    assert r["ratio/standard"] == 1.0
    print(f"throughput (tiny VGG, batch 8): {r}")
