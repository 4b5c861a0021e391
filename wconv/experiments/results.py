r"""Stored results: one JSON file per finished run, keyed by its full configuration.

A run's configuration is a JSON-able dict (it must hold ``task``; it may hold
``name``, a readable label). Its key is the sha256 of its canonical JSON
(sorted keys, no spaces), so any change to any setting gives a new key and a
new file::

    results/<task>/<name>-<key>.json

A file is used only when it parses, says ``"complete": true``, and holds
exactly the configuration asked for under the right key; a truncated file or
one whose configuration differs is reported (a warning) and ignored, and the
run is redone. Files are written through a temp file and an atomic rename.

Example::

    >>> from wconv.experiments import results
    >>> cfg = {"task": "demo", "name": "x", "lr": 0.1}
    >>> results.config_key(cfg)
    'ed282c00b3763c58'
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
import warnings
from pathlib import Path

import torch

from .. import settings

__all__ = ["RESULTS_DIR", "FORMAT", "canonical", "config_key", "slug", "result_path", "checkpoint_path", "save", "dumps", "load", "cached",
           "run_grid", "environment", "atomic_write", "append_line", "image_to_text",
           "image_from_text"]

#: The repository's committed results folder.
RESULTS_DIR = settings.RESULTS_DIR
#: Version of the file layout; part of every record.
FORMAT = 1


def canonical(config: dict) -> str:
    """The canonical JSON text of ``config`` (sorted keys, compact separators)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"config must hold only JSON values (no NaN): {error}") from None


def config_key(config: dict) -> str:
    """First 16 hex digits of the sha256 of :func:`canonical` ``(config)``."""
    return hashlib.sha256(canonical(config).encode()).hexdigest()[:16]


def slug(text) -> str:
    """``text`` as a file-name part: runs of characters other than ``A-Za-z0-9._-`` become
    ``_`` (``'run'`` if nothing is left)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "run"


def result_path(config: dict, root=None) -> Path:
    """Where the result of ``config`` lives: ``root/<task>/<name>-<key>.json``."""
    if "task" not in config:
        raise ValueError(f"config must have a 'task' entry, got keys {sorted(config)}")
    root = Path(root) if root is not None else RESULTS_DIR
    name = slug(config.get("name", "run"))
    return root / slug(config["task"]) / f"{name}-{config_key(config)}.json"


def checkpoint_path(config: dict, directory) -> Path:
    """The checkpoint file of an unfinished run of ``config``: ``directory/<name>-<key>.pt``."""
    return Path(directory) / f"{config['name']}-{config_key(config)}.pt"


def atomic_write(path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through a temp file, ``fsync`` and an
    atomic rename: a reader sees the old file or the new one, never a part. The one way the
    package writes a file that must not be half-written (results, checkpoints, weights, logs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_line(path, line: str) -> None:
    """Append ``line`` and a newline to ``path`` (created if missing), durably.

    For append-only logs (:mod:`wconv.experiments.search.log`), where a record is one line
    and a file cannot be rewritten through a rename: the line is flushed and ``fsync``-ed
    before this returns, and a new file's directory entry too, so a crash loses at most
    the line being written (a partial last line, which the reader drops).
    """
    if "\n" in line:
        raise ValueError("line must not contain a newline; a log record is one line")
    path = Path(path)
    new = not path.exists()
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    if new:
        try:
            fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:  # directories cannot be fsync-ed everywhere (e.g. Windows)
            pass
        finally:
            os.close(fd)


def environment() -> dict:
    """Versions, device and threads: what a result needs to be read and redone."""
    from .. import __version__, settings

    dev = settings.device()
    env = {"wconv": __version__, "torch": torch.__version__, "python": platform.python_version(),
           "platform": platform.platform(), "machine": platform.machine(),
           "processor": platform.processor() or None, "cpu_count": os.cpu_count(),
           "threads": torch.get_num_threads(), "device": dev.type,
           "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
           "cuda": torch.version.cuda}
    try:
        import torchvision
        env["torchvision"] = torchvision.__version__
    except ImportError:
        pass
    return env


def dumps(body: dict) -> str:
    """The text of a stored record: the store's one JSON layout (sorted keys, one-space
    indent, no NaN, a final newline), so that rewritten records read like saved ones."""
    return json.dumps(body, indent=1, sort_keys=True, allow_nan=False) + "\n"


def save(config: dict, record: dict, root=None) -> Path:
    """Write a finished run's ``record`` for ``config``; returns the file path.

    The stored object is ``{"format", "key", "config", "complete": true,
    "created", "environment", **record}``.
    """
    if not isinstance(record, dict):
        raise TypeError(f"record must be a dict, got {type(record).__name__}")
    path = result_path(config, root)
    body = {"format": FORMAT, "key": config_key(config), "config": config, "complete": True,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "environment": environment()}
    body.update(record)
    atomic_write(path, dumps(body))
    return path


def load(config: dict, root=None) -> dict | None:
    """The stored record of ``config``, or ``None`` if absent or not usable.

    A file that does not parse (say, truncated), is not marked complete, or
    whose stored configuration or key differs from ``config`` is ignored with a
    warning.
    """
    path = result_path(config, root)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        warnings.warn(f"ignoring unreadable result {path} ({error}); the run will be redone")
        return None
    if not isinstance(record, dict) or record.get("complete") is not True:
        warnings.warn(f"ignoring incomplete result {path}; the run will be redone")
        return None
    if record.get("format") != FORMAT or record.get("key") != config_key(config) or \
            canonical(record.get("config", {})) != canonical(config):
        warnings.warn(f"ignoring result {path}: its configuration does not match the one asked "
                      "for; the run will be redone")
        return None
    return record


def cached(config: dict, compute, root=None) -> dict:
    """The stored record of ``config``, or ``compute()``'s record, stored first.

    For what a page shows that is measured on real data but is not a training run
    (an untrained model's score, the pixels of a test crop): measured once where the
    data is, stored beside the runs, and read back where it is not.
    ``compute`` raises (e.g. ``FileNotFoundError``) when it cannot measure.
    """
    record = load(config, root)
    if record is None:
        save(config, compute(), root)
        record = load(config, root)
    return record


def image_to_text(image: torch.Tensor) -> str:
    """A ``uint8`` image ``(C, H, W)`` (C = 1 or 3) as base64 PNG text, lossless, for a record."""
    import base64
    import io

    from PIL import Image

    if image.dtype != torch.uint8 or image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"image must be a uint8 tensor (C, H, W) with C in (1, 3), got "
                         f"{image.dtype} {tuple(image.shape)}")
    array = image.permute(1, 2, 0).squeeze(2).contiguous().numpy()
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def image_from_text(text: str) -> torch.Tensor:
    """The ``uint8`` image ``(C, H, W)`` of :func:`image_to_text`."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    array = torch.from_numpy(np.array(Image.open(io.BytesIO(base64.b64decode(text)))))
    return array.permute(2, 0, 1).contiguous() if array.dim() == 3 else array[None]


def run_grid(configs, run, stored, progress: bool = True, **kwargs) -> list[dict]:
    """``run(config, progress=progress, **kwargs)`` for every configuration, in order.

    ``stored(config)`` says whether a result is already in the store; the progress bar
    counts the runs that still have to be trained. Returns the records of ``run``.
    """
    from tqdm.auto import tqdm

    missing = [c for c in configs if not stored(c)]
    records = []
    with tqdm(total=len(missing), desc="runs to train", disable=not progress or not missing) as bar:
        for c in configs:
            records.append(run(c, progress=progress, **kwargs))
            if c in missing:
                bar.update(1)
    return records
