r"""The resumable log of a search: one JSON line per evaluation, flushed before the search moves on.

Each line holds one :class:`Evaluation` (``index``, ``den``, ``value``, ``seconds``,
``elapsed``, ``time``) and the search's ``config``. A log is named after its search
(:func:`log_path`: the key of :func:`wconv.experiments.results.config_key`, so the same
search always finds its log and a different one never does) and written line by line with
:func:`wconv.experiments.results.append_line`. A truncated last line (a crash mid-write) is
dropped when read and cut off before the next append; a log of a different search is
refused; while a search holds a log (:class:`SearchLog`) no other search may append to it.

Example::

    >>> from wconv.experiments.search import log
    >>> log.log_path({"objective": "f", "method": "direct", "kernel_size": 3}).name
    'f-direct-k3-40783b885935dc5d.jsonl'
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ... import settings
from .. import results

__all__ = ["Evaluation", "LOG_DIR", "log_path", "read_log", "SearchLog"]

#: Where ``log="auto"`` puts search logs: the repository's results store.
LOG_DIR = settings.RESULTS_DIR / "search"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of the objective: a line of the log.

    Attributes:
        index: position in the search's sequence of distinct points, from 1.
        den: the density evaluated, outermost value first.
        value: what the objective returned (lower is better; may be ``nan``/``inf``
            for a diverged training, which never counts as best).
        seconds: wall time of the objective call.
        elapsed: search wall time at the end of this evaluation, summed over the
            sessions that built the log (replaying a log costs nothing).
        time: UTC time the evaluation finished (ISO 8601).
        replayed: True when the value came from the log instead of a call (not logged).
    """

    index: int
    den: tuple
    value: float
    seconds: float
    elapsed: float
    time: str
    replayed: bool = False


def log_path(config: dict, root=None) -> Path:
    """The log file of a search ``config`` under ``root`` (default :data:`LOG_DIR`).

    The name is ``<objective>-<method>-k<kernel_size>[-<budget>]-<key>.jsonl``, ``key``
    :func:`wconv.experiments.results.config_key` of ``config``: the same search always
    finds its log, a different one never does.
    """
    label = f"{config.get('objective')}-{config.get('method')}-k{config.get('kernel_size')}"
    objective_config = config.get("objective_config")
    if isinstance(objective_config, dict) and "budget" in objective_config:
        label += f"-{objective_config['budget']}"
    folder = Path(root) if root is not None else LOG_DIR
    return folder / f"{results.slug(label)}-{results.config_key(config)}.jsonl"


def read_log(path) -> tuple[list[Evaluation], dict | None]:
    """Read a search log: its evaluations (in file order) and its config.

    A last line cut short by a crash is ignored; any other unreadable line
    raises :class:`ValueError`. A missing file reads as ``([], None)``.
    """
    path = Path(path)
    if not path.exists():
        return [], None
    records, config = [], None
    lines = path.read_bytes().split(b"\n")
    # The text after the last newline is a record only if complete; a crash
    # mid-write leaves a partial line there, which is dropped.
    complete, tail = lines[:-1], lines[-1]
    for number, raw in enumerate(complete, 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            ev = Evaluation(int(data["index"]), tuple(float(v) for v in data["den"]),
                            float(data["value"]), float(data["seconds"]), float(data["elapsed"]),
                            str(data["time"]))
            line_config = data["config"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"search log {path} line {number} is not a valid record ({error}); "
                             f"the file is damaged or is not a wconv search log") from None
        if config is None:
            config = line_config
        elif line_config != config:
            raise ValueError(f"search log {path} mixes configs (line {number} differs from line 1); "
                             "it is not the log of one search")
        records.append(ev)
    if tail.strip():
        try:
            json.loads(tail)
        except ValueError:
            pass  # the truncated record of an interrupted write
        else:
            raise ValueError(f"search log {path} ends with a record without its newline; "
                             "it was not written by wconv.experiments.search")
    return records, config


def _mismatch(logged: dict, current: dict) -> str:
    keys = sorted(set(logged) | set(current))
    return "; ".join(f"{k}: log has {logged.get(k)!r}, this search has {current.get(k)!r}"
                     for k in keys if logged.get(k) != current.get(k))


def _lock(path: Path):
    """Open ``path`` (created if missing) and hold an exclusive lock on it.

    Two searches appending to one log would interleave their records, so a
    second search on a log in use fails at once. Returns the open file, whose
    closing releases the lock; without ``fcntl`` (Windows) nothing is locked.
    """
    handle = open(path, "ab")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuntimeError(f"search log {path} is in use by another running search; wait for "
                           "it to finish (it will have logged its evaluations) or use another "
                           "log") from None
    return handle


def _cut_partial_line(path: Path) -> None:
    """Cut a partial last line off the log so that appends start on a fresh line.

    Truncated in place, not rewritten through a rename: the lock is held on this file.
    """
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())


class SearchLog:
    """The log of one running search: locked, checked against its config, appended to.

    Args:
        path: the log file (created with its folder if missing).
        config: the search's configuration (JSON values); a log holding another is refused.

    Attributes:
        records: the evaluations already logged, in file order.

    Raises:
        RuntimeError: another search holds the log.
        ValueError: the log is damaged or belongs to another search.

    Example::

        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "f.jsonl"
        >>> with SearchLog(path, {"method": "grid"}) as log:
        ...     log.append(Evaluation(1, (0.5,), 0.25, 0.1, 0.1, "2026-01-01T00:00:00+00:00"))
        >>> [e.value for e in read_log(path)[0]]
        [0.25]
    """

    def __init__(self, path, config: dict):
        self.path, self.config = Path(path), config
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = _lock(self.path)
        try:
            self.records, logged = read_log(self.path)
            if logged is not None and logged != config:
                raise ValueError(
                    f"search log {self.path} was written by a different search and cannot be "
                    f"resumed by this one ({_mismatch(logged, config)}); pass another "
                    "log path, or delete the file to start afresh")
            _cut_partial_line(self.path)
        except BaseException:
            self.close()
            raise

    def append(self, evaluation: Evaluation) -> None:
        """Log ``evaluation`` (on disk when this returns)."""
        record = {"index": evaluation.index, "den": list(evaluation.den), "value": evaluation.value,
                  "seconds": evaluation.seconds, "elapsed": evaluation.elapsed,
                  "time": evaluation.time, "config": self.config}
        results.append_line(self.path, json.dumps(record, allow_nan=True))

    def close(self) -> None:
        """Release the log (another search may then resume it)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
