"""Count a resumed run's earlier processes in its stored ``wall_time_s``.

Until this change a run that resumed from a checkpoint stored as ``wall_time_s`` only the
last process's seconds, so the CPU hours a chapter reports for its stored grid left out
the epochs an earlier process had trained (for chapter 4's learnable ResNet-20, seed 0:
3,161 s stored of about 7,770 s). New records hold both numbers
(:func:`wconv.experiments.train.wall_times`). This script rewrites, for every stored
classification and denoising record with ``resumed_from_epoch`` > 0 and no
``segment_wall_time_s`` yet:

* ``segment_wall_time_s``: the old ``wall_time_s`` (the last process alone);
* ``wall_time_s``: that plus the ``time_s`` of the epochs the checkpoint brought back,
  read from the record's own ``epochs`` rows, as new records count them;

and checks that every other field, the key and the file name are unchanged. Running it
twice changes nothing.

Usage (from the repository root)::

    python tools/migrate_resumed_wall_time.py            # migrate results/
    python tools/migrate_resumed_wall_time.py --check    # report what would change, write nothing
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wconv.experiments import results  # noqa: E402

KINDS = ("classify", "denoise")


def migrated(record: dict) -> dict | None:
    """The record with both wall times, or ``None`` when it needs no change."""
    resumed = record.get("resumed_from_epoch") or 0
    if resumed == 0 or "segment_wall_time_s" in record:
        return None
    earlier = sum(row["time_s"] for row in record["epochs"][:resumed])
    return dict(record, wall_time_s=record["wall_time_s"] + earlier,
                segment_wall_time_s=record["wall_time_s"])


def migrate(root=None, write: bool = True) -> list[tuple[str, float, float]]:
    """Migrate every record under ``root`` (default the repository's ``results/``); returns
    ``(file, old wall_time_s, new wall_time_s)`` per changed record."""
    root = Path(root) if root is not None else ROOT / "results"
    changed = []
    for kind in KINDS:
        for path in sorted((root / kind).glob("*.json")):
            record = json.loads(path.read_text())
            new = migrated(record)
            if new is None:
                continue
            same = {k: v for k, v in new.items() if k not in ("wall_time_s", "segment_wall_time_s")}
            assert same == {k: v for k, v in record.items() if k != "wall_time_s"}, path
            assert results.result_path(record["config"], root) == path, path
            if write:
                results.atomic_write(path, results.dumps(new))
                assert results.load(record["config"], root) == new, f"{path} does not load back"
            changed.append((path.name, record["wall_time_s"], new["wall_time_s"]))
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=None, help="results folder (default: results/)")
    parser.add_argument("--check", action="store_true", help="report, write nothing")
    args = parser.parse_args(argv)
    changed = migrate(args.results, write=not args.check)
    for name, old, new in changed:
        print(f"{'would change' if args.check else 'changed'} {name}: wall_time_s {old:.0f} -> {new:.0f} s")
    print(f"{len(changed)} resumed records {'to migrate' if args.check else 'migrated'}; "
          "every other field unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
