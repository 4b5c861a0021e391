r"""Export trained denoisers for the browser (ONNX), and keep a run's trained weights.

:func:`to_onnx` writes a model as an ONNX file that ONNX Runtime runs -- in Python
(``onnxruntime``) or in the reader's browser (``onnxruntime-web``, WebAssembly; see
:mod:`wconv.views.denoiser_panel`). It folds the density first (:func:`wconv.fold`: every weighted
convolution becomes a plain ``Conv`` holding ``W ⊙ Φ``), puts the model in eval mode (BatchNorm
then uses its running statistics, and the exporter's constant folding merges it into the
convolution before it), and leaves the batch, height and width dynamic, so one file denoises
an image of any size. The input is called ``input``, the output ``output``, both
``float32`` ``(N, C, H, W)`` in ``[0, 1]``.

Exporter: the TorchScript-based one (``torch.onnx.export(..., dynamo=False)``). It needs only
the ``onnx`` package, handles these plain convolutional graphs (NAFNet's padding to a
multiple of its down-sampling factor included) with ``dynamic_axes``, writes one
self-contained file, and takes a fraction of a second (measured on 2 CPU cores: 0.1 s for a
7-layer DnCNN, 0.3 s for the book's NAFNet). The default ``dynamo=True`` exporter of
torch 2.9+ gives equivalent graphs for both models (checked with ``onnxscript`` 0.7.2 and
``dynamic_shapes`` built from ``torch.export.Dim``), but needs ``onnxscript`` and ``onnx_ir``
besides ``onnx``, took 7 s and 17 s for the same two models, and writes the weights to a
separate ``.data`` file unless told ``external_data=False``. Should a later torch drop the
TorchScript exporter, that is the way to switch. Opset 17: every operator these models use
is in it, and ONNX Runtime Web's WebAssembly backend runs all of them.

:func:`save_weights` / :func:`load_weights` keep a run's trained ``state_dict`` beside its
stored result (:func:`wconv.experiments.results.result_path` with the suffix ``.pt`` instead of
``.json``), so the models can be exported later without retraining. A book-budget DnCNN or
NAFNet is 50--300 KB.

Example::

    >>> import torch
    >>> from wconv.experiments.denoisers import DnCNN
    >>> from wconv.experiments.export import to_onnx
    >>> net = DnCNN(channels=3, depth=5, width=16, kernel_size=7, density=[0.25, 0.15, 0.55])
    >>> path = to_onnx(net, "dncnn.onnx", channels=3)          # doctest: +SKIP
"""
from __future__ import annotations

import copy
import io
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from ..surgery import fold
from . import results as _results

__all__ = ["OPSET", "INPUT", "OUTPUT", "to_onnx", "onnx_metadata", "run_onnx", "weights_path",
           "save_weights", "load_weights"]

#: ONNX opset of :func:`to_onnx`.
OPSET = 17
#: Names of the exported graph's input and output.
INPUT, OUTPUT = "input", "output"
#: Layout version of the files :func:`save_weights` writes.
WEIGHTS_FORMAT = 1


def to_onnx(model: nn.Module, path: str | os.PathLike, channels: int = 3, *, opset: int = OPSET,
            sample_size: int = 64, metadata: dict | None = None) -> Path:
    """Write ``model`` (folded, eval mode, CPU, float32) as an ONNX file with dynamic ``N, H, W``.

    The model itself is not changed (a folded copy is exported).

    Args:
        model: a denoiser taking and returning ``(N, channels, H, W)``.
        path: the ``.onnx`` file to write (atomically: temp file, then rename).
        channels: image channels of the input (3 colour, 1 grayscale).
        opset: ONNX opset version.
        sample_size: side of the random sample image the exporter traces with.
        metadata: string-able key/value pairs stored in the file's ``metadata_props``
            (read back by :func:`onnx_metadata`), e.g. the run's name.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    import onnx

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive integer (3 colour, 1 grayscale), got {channels!r}")
    path = Path(path)
    plain = fold(copy.deepcopy(model).cpu().float(), inplace=True).eval()
    sample = torch.rand(1, channels, sample_size, sample_size, generator=torch.Generator().manual_seed(0))
    buf = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter is chosen on purpose (see the module docstring)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message="The feature will be removed",
                                category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(plain, (sample,), buf, dynamo=False, opset_version=opset,
                          input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: axes, OUTPUT: axes}, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    props = {"producer": "wconv.experiments.export.to_onnx", "channels": str(channels)}
    props.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()})
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    _results.atomic_write(path, proto.SerializeToString())
    return path


def onnx_metadata(path: str | os.PathLike) -> dict:
    """The ``metadata_props`` of an ONNX file, as a ``{key: value}`` dict of strings."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def run_onnx(path: str | os.PathLike, image, threads: int = 1):
    """Run an exported model with ONNX Runtime (CPU) on one image ``(C, H, W)`` or a batch.

    ``image`` is a float ``numpy`` array or tensor in ``[0, 1]``; returns a ``float32`` numpy
    array of the same shape (not clipped).
    """
    import numpy as np
    import onnxruntime as ort

    x = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    single = x.ndim == 3
    x = np.ascontiguousarray((x[None] if single else x).astype(np.float32))
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = int(threads)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    y = session.run([OUTPUT], {INPUT: x})[0]
    return y[0] if single else y


# ----------------------------------------------------------------------------- weights

def weights_path(config: dict, results_dir=None) -> Path:
    """Where :func:`save_weights` keeps the weights of ``config``: the result's path, ``.pt``."""
    return _results.result_path(config, results_dir).with_suffix(".pt")


def save_weights(model: nn.Module, config: dict, results_dir=None) -> Path:
    """Store ``model``'s ``state_dict`` (on CPU) beside the stored result of ``config``.

    The file holds ``{"format", "key", "config", "state_dict"}`` and is written through a
    temp file and an atomic rename; :func:`load_weights` checks the key and configuration.
    Returns the file's path.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    path = weights_path(config, results_dir)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    body = {"format": WEIGHTS_FORMAT, "key": _results.config_key(config),
            "config": json.loads(_results.canonical(config)), "state_dict": state}
    buf = io.BytesIO()
    torch.save(body, buf)
    _results.atomic_write(path, buf.getvalue())
    return path


def load_weights(config: dict, results_dir=None) -> dict | None:
    """The ``state_dict`` stored by :func:`save_weights` for ``config``, or ``None``.

    ``None`` when there is no file; a file that does not load, or whose key or configuration
    differs from ``config``, is ignored with a warning (and ``None`` returned), as
    :func:`wconv.experiments.results.load` does for results.

    Example::

        >>> from wconv import denoise, export                           # doctest: +SKIP
        >>> config = denoise.make_config("dncnn", "paper", 7, budget="book")   # doctest: +SKIP
        >>> model = denoise.build(config)                               # doctest: +SKIP
        >>> model.load_state_dict(export.load_weights(config))          # doctest: +SKIP
    """
    path = weights_path(config, results_dir)
    if not path.exists():
        return None
    try:
        body = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated or foreign file: same policy as results.load
        warnings.warn(f"ignoring unreadable weights {path} ({error})")
        return None
    if not isinstance(body, dict) or body.get("format") != WEIGHTS_FORMAT \
            or body.get("key") != _results.config_key(config) \
            or _results.canonical(body.get("config", {})) != _results.canonical(config) \
            or not isinstance(body.get("state_dict"), dict):
        warnings.warn(f"ignoring weights {path}: they were not stored for this configuration")
        return None
    return body["state_dict"]
