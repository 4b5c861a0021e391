"""Rename the stored denoising runs of the old ``book`` budget to ``quick``.

The denoising budget that the book used to run (DnCNN 7 x 16, 240 Adam steps) is now
called ``quick``; ``book`` names the study trained to a plateau. A stored run is keyed by
its whole configuration, budget name included, so the old files would no longer be found.
This script rewrites, for every old ``book`` run under ``results/denoise/`` and its
companion under ``results/denoise-initial/`` (the untrained model's PSNR):

* the configuration: ``budget`` ``book`` -> ``quick`` and the name's ``-book`` -> ``-quick``
  (nothing else: the ``quick`` budget has exactly the old values);
* the key (sha256 of the configuration), hence the file name;
* the ``command`` that reproduces the run (``--budget quick``);

and checks, before writing anything, that each new configuration is exactly what
``wconv.experiments.denoise.make_config(..., budget='quick')`` builds (so it loads) and that every
other field of the record -- every number -- is unchanged. ``results/denoise-image/``
holds test-image crops whose configurations name no budget; they need no change.

Usage (from the repository root)::

    python tools/migrate_quick.py            # migrate results/
    python tools/migrate_quick.py --check    # report what would change, write nothing
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wconv.experiments import denoise, results  # noqa: E402

OLD, NEW = "book", "quick"
_NAME = re.compile(rf"-{OLD}(?=(-e\d+)?$)")


def new_config(config: dict) -> dict:
    """The ``quick`` configuration of an old ``book`` denoising run (checked against
    :func:`wconv.experiments.denoise.make_config`)."""
    if config.get("budget") != OLD:
        raise ValueError(f"not an old {OLD!r} run: budget {config.get('budget')!r}")
    if not _NAME.search(config["name"]):
        raise ValueError(f"run name {config['name']!r} does not end in -{OLD}[-e<epochs>]")
    out = dict(config, budget=NEW, name=_NAME.sub(f"-{NEW}", config["name"]))
    expected = denoise.make_config(config["arch"], config["density"], config["kernel_size"],
                                   config["seed"], NEW, epochs=config["epochs"])
    expected["source"] = config["source"]   # resolved per machine (DIV2K on disk or not)
    if results.canonical(expected) != results.canonical(out):
        diff = sorted(k for k in set(expected) | set(out) if expected.get(k) != out.get(k))
        raise ValueError(f"{config['name']}: the migrated configuration differs from "
                         f"make_config(..., budget={NEW!r}) in {diff}")
    return out


def _same_numbers(old: dict, new: dict, rewritten: set) -> list[str]:
    """Fields of two records that differ, other than the ``rewritten`` ones."""
    keys = (set(old) | set(new)) - rewritten
    return sorted(k for k in keys if json.dumps(old.get(k), sort_keys=True)
                  != json.dumps(new.get(k), sort_keys=True))


def migrate(root=None, write: bool = True) -> dict:
    """Migrate the old ``book`` runs under ``root`` (default ``results/``).

    Returns:
        ``{'runs': [(old file, new file)], 'initial': [...], 'images': n, 'unchanged_fields':
        True}``; raises ``ValueError`` (writing nothing) if any check fails.
    """
    root = Path(root) if root is not None else results.RESULTS_DIR
    plan = []   # (old path, new config, new record, kind)
    for path in sorted((root / "denoise").glob(f"*-{OLD}*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("config", {}).get("budget") != OLD:
            continue
        config = new_config(record["config"])
        body = dict(record, config=config, key=results.config_key(config),
                    command=denoise.command(config))
        plan.append((path, config, body, "runs"))
    for path in sorted((root / "denoise-initial").glob(f"*-{OLD}*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        cfg = record.get("config", {})
        if cfg.get("run", {}).get("budget") != OLD:
            continue
        run = new_config(cfg["run"])
        config = dict(cfg, name=run["name"], run=run)
        plan.append((path, config, dict(record, config=config, key=results.config_key(config)),
                     "initial"))
    for path, config, body, _ in plan:
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = _same_numbers(old, body, {"config", "key", "command"})
        if changed:
            raise ValueError(f"{path.name}: fields {changed} would change")
        if results.result_path(config, root).exists() and results.result_path(config, root) != path:
            raise ValueError(f"{results.result_path(config, root)} exists already")
    report = {"runs": [], "initial": [], "images": len(list((root / "denoise-image").glob("*.json"))),
              "unchanged_fields": True}
    for path, config, body, kind in plan:
        target = results.result_path(config, root)
        if write:
            results.atomic_write(target, results.dumps(body))
            if target != path:
                path.unlink()
            assert results.load(config, root) == body, f"{target} does not load back"
        report[kind].append((path.name, target.name))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=None, help="results folder (default: results/)")
    parser.add_argument("--check", action="store_true", help="check and report, write nothing")
    args = parser.parse_args(argv)
    report = migrate(args.results, write=not args.check)
    verb = "would move" if args.check else "moved"
    for kind in ("runs", "initial"):
        for old, new in report[kind]:
            print(f"{verb} {kind}: {old} -> {new}")
    print(f"{len(report['runs'])} runs and {len(report['initial'])} initial-PSNR records "
          f"{'to migrate' if args.check else 'migrated'}; every other field unchanged; "
          f"{report['images']} denoise-image records need no change")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
