"""Name the colour sets in the keys of chapter 6's stored denoising search runs.

The denoising search objectives used to store ``"source": "auto"`` in their configuration,
which is part of every stored key. ``'auto'`` means DIV2K when it is on disk, else the colour
sets (BSDS500 -> CBSD68, Kodak24). Every stored run trained on the colour sets: DIV2K cannot
be fetched offline, it was on none of the machines, and the stored data records
(``results/search-data/``) describe the colour sets. But a machine *with* DIV2K would have
trained new evaluations on DIV2K under the same keys and mixed them into these logs. The
``smoke``, ``book`` and ``study`` objectives now name ``source='color'``, and ``'auto'`` (the
``full`` budget) is resolved to the machine's data before it enters a key.

This script rewrites every stored denoising search record whose objective says ``'auto'``:

* search logs (``results/search/*.jsonl``): the ``objective_config`` of every line, and the
  file name (the key of the search's configuration);
* final and fidelity trainings (``results/search-final/``), learned densities
  (``results/search-learnable/``) and data records (``results/search-data/``): the
  ``objective`` of the configuration, the ``key`` and the file name.

Before writing anything it checks that each new objective configuration is exactly what
:func:`wconv.experiments.search.objectives.denoising_objective` builds now for its kernel size,
seed and budget (so it loads), that each data record describes the colour sets, and that
every other field -- every number -- is unchanged.

Usage (from the repository root)::

    python tools/migrate_search_source.py            # migrate results/
    python tools/migrate_search_source.py --check    # report what would change, write nothing
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wconv.experiments import results  # noqa: E402
from wconv.experiments.search import log as search_log  # noqa: E402
from wconv.experiments.search.objectives import denoising_objective  # noqa: E402

OLD, NEW = "auto", "color"
#: Stores whose records name their objective under ``config['objective']``.
RECORD_STORES = ("search-final", "search-learnable", "search-data")


def new_objective(objective: dict, root) -> dict:
    """The objective configuration with ``source='color'``, checked against
    :func:`denoising_objective` (built with the data root ``root``, which has no DIV2K)."""
    if objective.get("task") != "denoise" or objective.get("source") != OLD:
        raise ValueError(f"not a denoising objective with source {OLD!r}: {objective!r}")
    out = dict(objective, source=NEW)
    expected = denoising_objective(objective["kernel_size"], seed=objective["seed"],
                                   budget=objective["budget"], score=objective["score"],
                                   root=root).config
    if results.canonical(expected) != results.canonical(out):
        diff = sorted(k for k in set(expected) | set(out) if expected.get(k) != out.get(k))
        raise ValueError(f"the migrated objective differs from denoising_objective(...) in {diff}")
    return out


def _changed_fields(old: dict, new: dict, rewritten: set) -> list[str]:
    keys = (set(old) | set(new)) - rewritten
    return sorted(k for k in keys if json.dumps(old.get(k), sort_keys=True)
                  != json.dumps(new.get(k), sort_keys=True))


def _plan_logs(root: Path, data_root) -> list:
    plan = []
    for path in sorted((root / "search").glob("denoise-*.jsonl")):
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        configs = {results.canonical(line["config"]) for line in lines}
        if len(configs) != 1:
            raise ValueError(f"{path.name}: its lines hold {len(configs)} different configurations")
        config = lines[0]["config"]
        if config["objective_config"].get("source") != OLD:
            continue
        config = dict(config, objective_config=new_objective(config["objective_config"], data_root))
        new_lines = [dict(line, config=config) for line in lines]
        for old, new in zip(lines, new_lines):
            if _changed_fields(old, new, {"config"}):
                raise ValueError(f"{path.name}: line {old.get('index')} would change")
        text = "".join(json.dumps(line, allow_nan=True) + "\n" for line in new_lines)
        plan.append((path, search_log.log_path(config, root / "search"), text, None))
    return plan


def _plan_records(root: Path, data_root) -> list:
    plan = []
    for store in RECORD_STORES:
        for path in sorted((root / store).glob("denoise-*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            if record["config"]["objective"].get("source") != OLD:
                continue
            if store == "search-data" and not record["description"].startswith("colour:"):
                raise ValueError(f"{path.name}: its data is not the colour sets: "
                                 f"{record['description']!r}")
            config = dict(record["config"],
                          objective=new_objective(record["config"]["objective"], data_root))
            body = dict(record, config=config, key=results.config_key(config))
            if _changed_fields(record, body, {"config", "key"}):
                raise ValueError(f"{path.name}: fields other than config and key would change")
            text = results.dumps(body)
            plan.append((path, results.result_path(config, root), text, config))
    return plan


def migrate(root=None, data_root=None, write: bool = True) -> list[tuple[str, str]]:
    """Migrate the denoising search records under ``root`` (default ``results/``).

    ``data_root`` resolves the objectives' data: a folder without DIV2K (default: an empty
    temporary folder), so that nothing on this machine decides the new keys.

    Returns:
        ``[(old file, new file)]``; raises ``ValueError`` (writing nothing) if any check fails.
    """
    import tempfile

    root = Path(root) if root is not None else results.RESULTS_DIR
    with tempfile.TemporaryDirectory() as empty:
        data_root = data_root if data_root is not None else empty
        plan = _plan_logs(root, data_root) + _plan_records(root, data_root)
    for path, target, _, _ in plan:
        if target.exists() and target != path:
            raise ValueError(f"{target} exists already")
    moved = []
    for path, target, text, config in plan:
        if write:
            results.atomic_write(target, text)
            if target != path:
                path.unlink()
            if config is not None:
                assert results.load(config, root) is not None, f"{target} does not load back"
        moved.append((f"{path.parent.name}/{path.name}", target.name))
    return moved


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=None, help="results folder (default: results/)")
    parser.add_argument("--check", action="store_true", help="check and report, write nothing")
    args = parser.parse_args(argv)
    moved = migrate(args.results, write=not args.check)
    verb = "would move" if args.check else "moved"
    for old, new in moved:
        print(f"{verb} {old} -> {new}")
    print(f"{len(moved)} denoising search records {'to migrate' if args.check else 'migrated'}; "
          "every other field unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
