"""Rewrite the classification results stored with configuration format 1 into format 2.

Format 2 (``wconv.experiments.classify.CONFIG_FORMAT``) named the budget that format 1
called ``book`` ``quick`` (the new ``book`` budget trains full-width models),
and adds fields that format 1 left implicit. The ``quick`` budget has since become smaller
(a grid under 20 minutes), so its 42 migrated runs were trained again rather than kept, and
format 1's ``book`` runs no longer match any budget: only ``smoke`` files still migrate. Each format-1 file gets the values
its run really had, which were the only ones the format-1 code could use:

* ``role``: ``final`` (there were no tuning, sweep or reference runs);
* ``nesterov``: ``False`` and ``warmup``: ``0.0`` (``train.fit`` was called with
  its defaults: plain momentum, a cosine schedule without warm-up; the
  ``schedule`` field, ``cosine``, was already stored);
* ``label_smoothing``: ``0.0`` (the loss was ``nn.functional.cross_entropy``);
* ``precision``: ``float32`` (``train.fit``'s default, which ``classify.run`` kept);
* ``lr_selection``: ``None`` (the budget's fixed lr);
* ``format``: 2.

The key and the file name are recomputed with :mod:`wconv.experiments.results`, the
``command`` field is rewritten with :func:`wconv.experiments.classify.command`, and
``migrated_from`` keeps the old key, name and command. Every migrated
configuration must equal what :func:`wconv.experiments.classify.make_config` builds for that
run today (else the script stops: the budget changed), and each new file is read
back with :func:`wconv.experiments.results.load` and compared with the old record (same
``final`` and ``epochs``) before the old file is removed. Files already in format
2 are left alone, so running the script twice changes nothing.

Usage::

    python tools/migrate_classify_results.py [--results-dir results] [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wconv.experiments import classify, results  # noqa: E402

#: The fields format 2 adds, with the values every format-1 run had.
ADDED = {"role": "final", "nesterov": False, "warmup": 0.0, "label_smoothing": 0.0,
         "precision": "float32", "lr_selection": None}
#: Format-1 budget names -> format-2 names (format 1's ``book`` was the former ``quick``).
BUDGET_NAMES = {"smoke": "smoke"}


def migrate_config(old: dict) -> dict:
    """The format-2 configuration of a format-1 one."""
    if old.get("task") != "classify" or old.get("format") != 1:
        raise ValueError(f"not a format-1 classification config: {old.get('name')!r}")
    if old["budget"] not in BUDGET_NAMES:
        raise ValueError(f"no format-2 name for budget {old['budget']!r} of {old['name']!r}")
    if old["schedule"] != "cosine":
        raise ValueError(f"{old['name']!r} has schedule {old['schedule']!r}; format 1 only stored cosine")
    unknown = sorted(set(old) & set(ADDED))
    if unknown:
        raise ValueError(f"{old['name']!r} already has {unknown}")
    budget = BUDGET_NAMES[old["budget"]]
    suffix = f"-{old['budget']}"
    if not old["name"].endswith(suffix):
        raise ValueError(f"name {old['name']!r} does not end with its budget {suffix!r}")
    new = dict(old, **ADDED, budget=budget, format=classify.CONFIG_FORMAT)
    new["name"] = old["name"][: -len(suffix)] + f"-{budget}"
    return new


def migrate_file(path: Path, results_dir: Path, dry_run: bool = False) -> Path | None:
    """Migrate one stored file; returns the new path (``None``: already format 2)."""
    record = json.loads(path.read_text(encoding="utf-8"))
    old = record["config"]
    if old.get("format") == classify.CONFIG_FORMAT:
        return None
    new = migrate_config(old)
    expected = classify.make_config(new["arch"], new["density"], new["kernel_size"], new["seed"],
                                    new["budget"])
    if results.canonical(expected) != results.canonical(new):
        diff = {k: (new.get(k), expected.get(k)) for k in set(new) | set(expected)
                if new.get(k) != expected.get(k)}
        raise ValueError(f"{path.name}: migrated config differs from make_config's: {diff}")
    if record.get("key") != results.config_key(old):
        raise ValueError(f"{path.name}: stored key {record.get('key')!r} is not the old config's")
    body = dict(record, config=new, key=results.config_key(new), command=classify.command(new),
                migrated_from={"config_format": 1, "key": record["key"], "name": old["name"],
                               "command": record.get("command")})
    target = results.result_path(new, results_dir)
    if dry_run:
        return target
    results.atomic_write(target, results.dumps(body))
    loaded = results.load(new, results_dir)
    if loaded is None or loaded["final"] != record["final"] or loaded["epochs"] != record["epochs"]:
        raise RuntimeError(f"{target} does not load back with the numbers of {path}")
    if target != path:
        path.unlink()
    return target


def migrate(results_dir=None, dry_run: bool = False) -> list[tuple[Path, Path]]:
    """Migrate every format-1 file under ``results_dir/classify``; returns ``(old, new)`` paths."""
    results_dir = Path(results_dir) if results_dir is not None else results.RESULTS_DIR
    done = []
    for path in sorted((results_dir / "classify").glob("*.json")):
        target = migrate_file(path, results_dir, dry_run)
        if target is not None:
            done.append((path, target))
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default=None, help="default: the repository's results/")
    parser.add_argument("--dry-run", action="store_true", help="only print what would change")
    args = parser.parse_args(argv)
    done = migrate(args.results_dir, args.dry_run)
    for old, new in done:
        print(f"{old.name} -> {new.name}")
    print(f"{'would migrate' if args.dry_run else 'migrated'} {len(done)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
