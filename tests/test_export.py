"""ONNX export of the denoisers (folded, dynamic H x W) and the stored trained weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from wconv.experiments import export, results
from wconv.experiments.denoisers import DnCNN, NAFNet

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

DEN7 = [0.25, 0.15, 0.55]


def _dncnn(batch_norm: bool):
    torch.manual_seed(0)
    net = DnCNN(channels=3, depth=6, width=16, kernel_size=7, density=DEN7, batch_norm=batch_norm)
    if batch_norm:  # running statistics and affine parameters that are not the identity
        g = torch.Generator().manual_seed(1)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.data.copy_(1 + 0.2 * torch.randn(m.num_features, generator=g))
                m.bias.data.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return net


def _nafnet():
    torch.manual_seed(0)
    net = NAFNet(channels=3, width=12, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1),
                 kernel_size=7, density=DEN7)
    with torch.no_grad():  # beta and gamma start at zero: make every block do something
        for name, p in net.named_parameters():
            if name.endswith(("beta", "gamma")):
                p.copy_(0.5 * torch.randn_like(p))
    return net


MODELS = {"dncnn-bn": lambda: _dncnn(True), "dncnn": lambda: _dncnn(False), "nafnet": _nafnet}


def _ops(path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


@pytest.mark.requires_data("denoise/CBSD68")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnxruntime_matches_pytorch_on_a_cbsd68_crop(name, tmp_path):
    from wconv.experiments import images as dd
    from wconv.settings import data_root

    files = sorted((data_root() / "denoise" / "CBSD68").glob("*.png"))
    clean = dd.to_float(dd.centre_crop(dd.load_image(files[0], color=True), 150))[:, :150, :118]
    noisy = clean + 25 / 255 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    model = MODELS[name]()
    model.eval()
    path = export.to_onnx(model, tmp_path / f"{name}.onnx", channels=3)
    with torch.no_grad():
        want = model(noisy[None])[0].numpy()
    got = export.run_onnx(path, noisy)
    assert got.shape == want.shape == (3, 150, 118)      # not the 64 x 64 it was traced with
    assert np.abs(got - want).max() <= 1e-4
    assert np.abs(want - noisy.numpy()).mean() > 1e-3    # the model does change its input
    # the browser runs plain convolutions: no density, no BatchNorm left in the graph
    ops = _ops(path)
    assert "BatchNormalization" not in ops and "Conv" in ops
    assert path.stat().st_size < 400_000


def test_export_folds_a_copy_and_keeps_sizes_dynamic(tmp_path):
    model = _dncnn(True).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = export.to_onnx(model, tmp_path / "m.onnx", metadata={"run": "demo", "den": DEN7})
    assert model.training and type(model.body[0]).__name__ == "WeightedConv2d"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    proto = onnx.load(str(path))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [export.OPSET]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert proto.graph.input[0].name == export.INPUT and proto.graph.output[0].name == export.OUTPUT
    meta = export.onnx_metadata(path)
    assert meta["run"] == "demo" and meta["den"] == "[0.25, 0.15, 0.55]" and meta["channels"] == "3"
    assert not list(tmp_path.glob(".*tmp"))
    # eval-mode export of the folded copy: same numbers as the weighted model in eval mode
    x = torch.rand(2, 3, 40, 33, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model.eval()(x).numpy()
    assert np.abs(export.run_onnx(path, x) - want).max() <= 1e-4


def test_grayscale_export(tmp_path):
    torch.manual_seed(0)
    net = DnCNN(channels=1, depth=3, width=8, kernel_size=3, density=[0.5]).eval()
    path = export.to_onnx(net, tmp_path / "g.onnx", channels=1)
    x = torch.rand(1, 31, 17)
    with torch.no_grad():
        assert np.abs(export.run_onnx(path, x) - net(x[None])[0].numpy()).max() <= 1e-5


def test_to_onnx_rejects_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="nn.Module"):
        export.to_onnx("model", tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="channels"):
        export.to_onnx(_dncnn(False), tmp_path / "x.onnx", channels=0)


CONFIG = {"task": "denoise", "name": "dncnn-k7-paper-s0-demo", "arch": "dncnn", "seed": 0}


def test_weights_round_trip_beside_the_result(tmp_path):
    model = _dncnn(True)
    path = export.save_weights(model, CONFIG, tmp_path)
    assert path == results.result_path(CONFIG, tmp_path).with_suffix(".pt")
    assert path.parent == results.result_path(CONFIG, tmp_path).parent
    assert not list(path.parent.glob(".*tmp"))
    params = sum(v.numel() for v in model.state_dict().values())
    assert path.stat().st_size < 4 * params + 20_000          # float32 and a small header
    state = export.load_weights(CONFIG, tmp_path)
    fresh = DnCNN(channels=3, depth=6, width=16, kernel_size=7, density=DEN7)
    fresh.load_state_dict(state)
    x = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), model.eval()(x))
    assert export.load_weights(dict(CONFIG, seed=1), tmp_path) is None  # never stored


def test_weights_of_another_configuration_or_truncated_are_ignored(tmp_path):
    path = export.save_weights(_dncnn(False), CONFIG, tmp_path)
    other = dict(CONFIG, seed=1)
    path.rename(export.weights_path(other, tmp_path))   # a file under the wrong name
    with pytest.warns(UserWarning, match="not stored for this configuration"):
        assert export.load_weights(other, tmp_path) is None
    path = export.save_weights(_dncnn(False), CONFIG, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="unreadable weights"):
        assert export.load_weights(CONFIG, tmp_path) is None
