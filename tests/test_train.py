"""The training engine: determinism, exact resume after an interruption, schedules, metrics, errors."""
import functools
import math

import pytest
import torch
from torch import nn

from wconv.experiments import cifar, classifiers, classify, precision, train

#: The tests that train on real CIFAR-100 (the others need no data).
needs_data = pytest.mark.requires_data("cifar-100-python")


@pytest.fixture(scope="module")
def tiny():
    """Real CIFAR-100, 3 images per class: 200 train, 100 validation, 100 test."""
    return cifar.cifar100(n_per_class=3, val_per_class=1, test_per_class=1, seed=0)


def _fit(d, checkpoint=None, on_epoch_end=None, density="paper", epochs=2, seed=0,
         precision="float32", **options):
    torch.manual_seed(seed)
    model = classifiers.build_model("vgg11", kernel_size=3, density=density, width=0.125)
    loader = cifar.TensorLoader(d.train, 50, d.mean, d.std, shuffle=True, augment=True,
                               drop_last=True, seed=seed)
    val = cifar.TensorLoader(d.val, 100, d.mean, d.std)
    test = cifar.TensorLoader(d.test, 100, d.mean, d.std)
    options.setdefault("loss_fn", nn.functional.cross_entropy)
    out = train.fit(model, loader, val, metrics=train.accuracy_metrics(), epochs=epochs, lr=0.05,
                    seed=seed, test_loader=test, checkpoint=checkpoint, checkpoint_key="tiny",
                    device="cpu", precision=precision, progress=False, on_epoch_end=on_epoch_end,
                    **options)
    return model, out


def _strip_times(rows):
    return [{k: v for k, v in r.items() if not k.endswith("time_s")} for r in rows]


#: The book budget's recipe: Nesterov, one-cycle with warm-up, label smoothing, bfloat16.
BOOK_RECIPE = dict(nesterov=True, schedule="onecycle", warmup=0.3, precision="bfloat16",
                   loss_fn=functools.partial(nn.functional.cross_entropy, label_smoothing=0.1),
                   eval_loss_fn=nn.functional.cross_entropy)


@pytest.mark.parametrize("recipe", [{}, BOOK_RECIPE], ids=["float32-cosine", "book-recipe"])
@needs_data
def test_interrupted_run_resumes_to_the_same_result(tiny, tmp_path, recipe):
    """Interrupt after epoch 1 of 2, resume: the same weights and metrics as one whole run
    (which also shows that training is deterministic) -- also with the one-cycle schedule,
    whose state is in the checkpoint, and bfloat16 (emulated, and slower, on a CPU without
    native bfloat16, but just as deterministic)."""
    whole, out_whole = _fit(tiny, checkpoint=tmp_path / "whole.pt", **recipe)
    # what one run records
    assert [r["epoch"] for r in out_whole["epochs"]] == [1, 2]
    for row in out_whole["epochs"]:
        for key in ("train_loss", "train_top1", "train_top5", "val_loss", "val_top1", "val_top5"):
            assert math.isfinite(row[key]), key
        assert 0 <= row["val_top1"] <= row["val_top5"] <= 100
    assert set(out_whole["final"]) >= {"test_loss", "test_top1", "test_top5", "val_top1"}
    if recipe:   # epoch 2 starts just after the peak of the one-cycle warm-up (30% of 8 steps)
        assert out_whole["epochs"][0]["lr"] == pytest.approx(0.05 / 25)
        assert out_whole["epochs"][1]["lr"] > out_whole["epochs"][0]["lr"]
    else:
        assert out_whole["epochs"][1]["lr"] < out_whole["epochs"][0]["lr"]  # cosine schedule
    assert out_whole["images_per_s"] > 0 and out_whole["precision"] == recipe.get("precision", "float32")

    class Interrupt(Exception):
        pass

    def stop_after_first(epoch, row):
        if epoch == 1:
            raise Interrupt

    ckpt = tmp_path / "resumed.pt"
    with pytest.raises(Interrupt):
        _fit(tiny, checkpoint=ckpt, on_epoch_end=stop_after_first, **recipe)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 1
    resumed, out_resumed = _fit(tiny, checkpoint=ckpt, **recipe)
    assert out_resumed["resumed_from"] == 1 and out_whole["resumed_time_s"] == 0
    assert out_resumed["resumed_time_s"] == out_resumed["epochs"][0]["time_s"] > 0   # the first process's
    assert train.wall_times(2.0, out_resumed) == {"wall_time_s": 2.0 + out_resumed["resumed_time_s"],
                                                  "segment_wall_time_s": 2.0}
    for (name, pa), pb in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert _strip_times(out_whole["epochs"]) == _strip_times(out_resumed["epochs"])
    assert out_whole["final"] == out_resumed["final"]


@needs_data
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


@needs_data
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
    loader = cifar.TensorLoader(tiny.train, 50, tiny.mean, tiny.std, shuffle=True, seed=0)
    for model in (weighted, control):
        train.fit(model, loader, loss_fn=nn.functional.cross_entropy, epochs=1, lr=0.05,
                  device="cpu", progress=False)
    x = next(iter(cifar.TensorLoader(tiny.val, 100, tiny.mean, tiny.std)))[0]
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
     "schedule must be one of cosine, constant, onecycle; got 'linear'"),
    (lambda p: train.make_scheduler(train.make_optimizer(p), "cosine", 10, warmup=-0.1),
     r"warmup must be a fraction in \[0, 1\), got -0.1"),
    (lambda p: train.make_scheduler(train.make_optimizer(p), "onecycle", 10, warmup=1.0),
     r"warmup must be a fraction in \[0, 1\), got 1.0"),
])
def test_bad_options(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call([nn.Parameter(torch.zeros(1))])


@needs_data
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
    y = precision.forward(m16, x, "cpu", "bfloat16")
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
    r = train.throughput({"standard": classifiers.build_model("vgg11", width=0.0625),
                          "weighted": classifiers.build_model("vgg11", width=0.0625, density="paper")},
                         lambda: (x, y), nn.functional.cross_entropy, steps=2, rounds=2,
                         device="cpu")
    assert r["standard"] > 0 and r["weighted"] > 0
    assert r["ratio/standard"] == 1.0
    print(f"throughput (tiny VGG, batch 8): {r}")


@pytest.mark.parametrize("total", [1, 2, 7, 100, 5274])
def test_onecycle_warms_up_and_anneals_to_zero_at_the_last_step(total):
    p = nn.Parameter(torch.zeros(1))
    opt = train.make_optimizer([p], lr=0.2)
    sched = train.make_scheduler(opt, "onecycle", total)
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[-1] == 0.0 and opt.param_groups[0]["lr"] == 0.0  # the last step and after
    if total >= 7:
        peak = lrs.index(max(lrs))
        assert lrs[0] == pytest.approx(0.2 / 25, rel=1e-9)
        assert peak == pytest.approx(0.3 * total, abs=1.5)
        assert all(a <= b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))      # warm-up rises
        assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))       # then anneals
    if total >= 100:   # the peak is the lr; the step before the last is tiny but not zero
        assert max(lrs) == pytest.approx(0.2, rel=1e-3) and 0 < lrs[-2] < 1e-3 * 0.2


def test_onecycle_is_torch_onecycle_with_final_lr_zero():
    """The same curve as torch's OneCycleLR (cosine phases, pct_start 0.3, div_factor 25,
    fixed momentum), whose final lr is max_lr / (25 * final_div_factor) instead of 0."""
    total = 37
    p = nn.Parameter(torch.zeros(1))
    ours = train.make_optimizer([p], lr=0.1)
    sched = train.make_scheduler(ours, "onecycle", total)
    ref_opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=0.1, total_steps=total,
                                              cycle_momentum=False, final_div_factor=1e12)
    for _ in range(total):
        assert ours.param_groups[0]["lr"] == pytest.approx(ref_opt.param_groups[0]["lr"], abs=1e-12)
        ours.step(), sched.step(), ref_opt.step(), ref.step()


def test_label_smoothing_trains_and_the_reported_loss_is_plain():
    """The training loss is the smoothed one; with eval_loss_fn the validation and test losses
    are plain cross-entropy, so runs with and without smoothing report comparable losses."""
    smooth = functools.partial(nn.functional.cross_entropy, label_smoothing=0.2)
    x, y = torch.randn(16, 4, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 3
    model = nn.Linear(4, 3)
    with torch.no_grad():   # confident outputs: smoothing changes the loss a lot
        model.weight.copy_(5 * torch.randn(3, 4, generator=torch.Generator().manual_seed(1)))
        out = model(x)
    assert abs(smooth(out, y).item() - nn.functional.cross_entropy(out, y).item()) > 0.1
    result = train.fit(model, [(x, y)], [(x, y)], loss_fn=smooth, eval_loss_fn=nn.functional.cross_entropy,
                       epochs=1, lr=1e-12, weight_decay=0.0, device="cpu", progress=False,
                       test_loader=[(x, y)])
    assert result["epochs"][0]["train_loss"] == pytest.approx(smooth(out, y).item(), rel=1e-6)
    for key in ("val_loss", "test_loss"):
        assert result["final"][key] == pytest.approx(nn.functional.cross_entropy(out, y).item(), rel=1e-6)
    default = train.fit(model, [(x, y)], [(x, y)], loss_fn=smooth, epochs=1, lr=1e-12,
                        weight_decay=0.0, device="cpu", progress=False)
    assert default["final"]["val_loss"] == pytest.approx(smooth(out, y).item(), rel=1e-6)


def test_precision_auto_follows_the_machine(monkeypatch):
    assert precision.resolve_precision("float32") == "float32"
    assert precision.resolve_precision("auto", "cpu") == precision.default_precision("cpu")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert not precision.bfloat16_supported("cpu") and precision.default_precision("cpu") == "float32"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert precision.default_precision("cpu") == "bfloat16"
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 100))
    out = train.fit(model, [(torch.randn(4, 3, 32, 32), torch.randint(0, 100, (4,)))],
                    loss_fn=nn.functional.cross_entropy, epochs=1, device="cpu", precision="auto",
                    progress=False)
    assert out["precision"] == "bfloat16"


def test_emulated_bfloat16_warns_and_float32_does_not(monkeypatch, recwarn):
    """bfloat16 on a CPU without it is kept (a stored grid names its arithmetic), with a warning."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10))
    batch = [(torch.randn(4, 3, 4, 4), torch.randint(0, 10, (4,)))]
    fit = functools.partial(train.fit, model, batch, loss_fn=nn.functional.cross_entropy, epochs=1,
                            device="cpu", progress=False)
    monkeypatch.setattr(precision, "bfloat16_supported", lambda device=None: False)
    assert fit(precision="float32")["precision"] == "float32"
    assert not [w for w in recwarn if "emulated" in str(w.message)]
    with pytest.warns(RuntimeWarning, match="bfloat16 is emulated.*precision='float32'"):
        assert fit(precision="bfloat16")["precision"] == "bfloat16"
    monkeypatch.setattr(precision, "bfloat16_supported", lambda device=None: True)
    recwarn.clear()
    fit(precision="bfloat16")
    assert not [w for w in recwarn if "emulated" in str(w.message)]


def test_one_warmup_fraction_for_every_schedule():
    """The denoising study's recipe: 5 % of 5,000 Adam steps warm up linearly, then cosine."""
    opt = train.make_optimizer([nn.Parameter(torch.zeros(1))], "adam", lr=1.0)
    f = train.make_scheduler(opt, "cosine", 5000, warmup=0.05).lr_lambdas[0]
    assert [f(0), f(249), f(250), f(5000)] == pytest.approx([1 / 250, 1.0, 1.0, 0.0])
    assert f(250 + 2375) == pytest.approx(0.5)           # half-way through the cosine
    c = train.make_scheduler(opt, "constant", 100, warmup=0.1).lr_lambdas[0]
    assert [c(0), c(9), c(50)] == pytest.approx([0.1, 1.0, 1.0])
    assert train.make_scheduler(opt, "cosine", 100).lr_lambdas[0](0) == 1.0   # default: none
