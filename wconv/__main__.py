"""Command line: ``python -m wconv <command> ...``.

Commands:

* ``train`` -- one classification run (architecture x density x kernel size x
  seed x budget x role) or a named grid of runs, in order (for a tuned budget
  each stage's tuning runs before its finals); stored results are reused, missing
  ones trained and written to ``results/``; an interrupted run resumes from its
  last epoch, so a grid can be killed and restarted at any time. ``--status``
  lists a grid's runs and the estimated time. Also runs under
  ``torchrun --nproc_per_node N -m wconv train ...`` (DistributedDataParallel).
* ``denoise`` -- the same for denoising runs (DnCNN, NAFNet).
* ``search`` -- chapter 6's search study for one task and kernel size: the objective's
  noise, spread and fidelity to full training, then DIRECT-L, random search and the
  learnable density at equal budget (:mod:`wconv.experiments.search.study`); resumable.
* ``throughput`` -- training images/s of a standard and a weighted model, side by
  side; with ``--engine``, of the training engine and a plain PyTorch loop.
* ``bench`` -- time weighted against standard convolution layers, forward+backward and
  inference (:mod:`wconv.experiments.bench`).
* ``data fetch NAME ... | --all`` -- download, verify and install data sets
  (:func:`wconv.experiments.datasets.fetch`); ``data status`` -- what is present, verified or missing.

To add a command, write ``add_<name>(subparsers)`` that registers a parser with
``set_defaults(func=...)`` and list it in :data:`COMMANDS`.

Example::

    python -m wconv train --arch vgg11 --density paper --kernel-size 3 --seed 0 --budget smoke
    python -m wconv train --grid chapter4 --budget book --status
"""
from __future__ import annotations

import argparse
import json
import sys

from .density import KERNEL_SIZES


def _print_emulation_note(budget: str | None, budgets: dict) -> None:
    """Tell ``--status`` readers when the budget's bfloat16 would only be emulated here."""
    from .experiments import precision
    from .experiments.budgets import lookup

    if precision.is_emulated(lookup(budget, budgets)[1].precision):
        print("note: the estimates are from a CPU with native bfloat16; this machine only "
              "emulates it, about 10x slower")


def _train(args) -> int:
    import torch

    from .experiments import classify, classify_grid, results, train

    if args.grid is not None:
        try:
            classify_grid.plan(args.grid, args.budget, tuple(args.seeds))
        except ValueError as error:   # e.g. a tuning grid of a fixed-lr budget
            raise SystemExit(f"error: {error}") from None
    if args.status:
        if args.grid is None:
            raise SystemExit("--status lists a grid: give --grid")
        rows = classify_grid.status(args.grid, args.budget, tuple(args.seeds), args.results_dir)
        print(classify_grid.format_status(rows))
        _print_emulation_note(args.budget, classify.BUDGETS)
        return 0

    def report(i, n, config, record, trained):
        if not train.is_main_process():
            return
        f = record["final"]
        how = f"trained in {record['wall_time_s']:.1f} s" if trained else "stored"
        print(f"[{i + 1}/{n}] {config['name']}: val top-1 {f['val_top1']:.2f}% "
              f"test top-1 {f['test_top1']:.2f}% ({how}) -> "
              f"{results.result_path(config, args.results_dir)}", flush=True)

    try:
        if args.grid is not None:
            classify_grid.run_plan(args.grid, args.budget, tuple(args.seeds), root=args.data_root,
                              results_dir=args.results_dir, progress=not args.no_progress,
                              force=args.force, report=report)
        else:
            config = classify.make_config(args.arch, args.density, args.kernel_size, args.seed,
                                          args.budget, role=args.role, lr=args.lr,
                                          precision=args.precision, results_dir=args.results_dir)
            stored = None if args.force else results.load(config, args.results_dir)
            record = stored or classify.run(config, root=args.data_root,
                                            results_dir=args.results_dir,
                                            progress=not args.no_progress, force=args.force)
            report(0, 1, config, record, stored is None)
    except classify.MissingTuningError as error:
        raise SystemExit(f"error: {error}") from None
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


def _add_run_arguments(p, archs, densities, budgets, grids, arch, density, kernel_size) -> None:
    """Options shared by the commands that train (or load) stored runs."""
    p.add_argument("--arch", default=arch, choices=archs)
    p.add_argument("--density", default=density, choices=densities)
    p.add_argument("--kernel-size", type=int, default=kernel_size, choices=KERNEL_SIZES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", default=None, choices=tuple(budgets),
                   help="default: WCONV_PROFILE (smoke|book|full), else book")
    p.add_argument("--grid", default=None, choices=grids,
                   help="run every configuration of a named grid instead of one")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of --grid")
    p.add_argument("--data-root", default=None, help="default: WCONV_DATA, else data/")
    p.add_argument("--results-dir", default=None, help="default: the repository's results/")
    p.add_argument("--force", action="store_true", help="retrain even if a result is stored")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_train(subparsers) -> None:
    from .experiments import classify, classify_grid
    from .experiments.precision import PRECISIONS

    p = subparsers.add_parser("train", help="train (or load) classification runs on reduced CIFAR-100")
    _add_run_arguments(p, classify.ARCHS, classify.ARMS, classify.BUDGETS, classify_grid.GRIDS,
                       arch="vgg11", density="paper", kernel_size=3)
    p.add_argument("--role", default="final", choices=classify.ROLES,
                   help="one run's role (tuned budgets): tuning and sweep runs take --lr")
    p.add_argument("--lr", type=float, default=None, help="the lr of a tuning or sweep run")
    p.add_argument("--precision", default=None, choices=("auto", *PRECISIONS),
                   help="override the budget's precision (default: the budget's; auto: "
                        "bfloat16 where this machine supports it)")
    p.add_argument("--status", action="store_true",
                   help="with --grid: list its runs (stored / to run / waiting for tuning) "
                        "and the estimated time; trains nothing")
    p.set_defaults(func=_train)


def _lr(text: str):
    if text == "tuned":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--lr takes a positive number or 'tuned', got {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--lr must be positive, got {text!r}")
    return value


def _denoise(args) -> int:
    from .experiments import denoise, denoise_budgets, denoise_measures, results

    seeds = tuple(args.seeds)
    if args.grid is not None and args.grid != "chapter5":
        if args.epochs is not None or args.lr is not None:
            raise SystemExit("--epochs and --lr apply to one run, not to --grid")
        if args.status:
            print(denoise.format_status(denoise.status(args.grid, args.budget, seeds,
                                                       args.data_root, args.results_dir)))
            _print_emulation_note(args.budget, denoise_budgets.BUDGETS)
            return 0
        denoise.run_plan(args.grid, args.budget, seeds, args.data_root, args.results_dir,
                         progress=not args.no_progress, force=args.force,
                         log=lambda line: print(line, flush=True))
        return 0
    if args.status:
        raise SystemExit("--status lists a plan: give --grid (one of "
                         f"{', '.join(denoise.GRIDS[1:])})")
    if args.grid is not None:
        if args.epochs is not None or args.lr is not None:
            raise SystemExit("--epochs and --lr apply to one run, not to --grid")
        configs = denoise.grid(args.grid, args.budget, seeds, args.data_root)
    else:
        arm = denoise.Arm(args.arch, args.kernel_size, args.density, not args.no_batch_norm)
        if args.lr == "tuned":
            try:
                configs = [denoise.final_config(arm, args.seed, args.budget, args.data_root,
                                                args.results_dir, args.epochs)]
            except denoise.TuningMissing as error:
                raise SystemExit(str(error))
        else:
            configs = [arm.config(args.seed, args.budget, args.data_root, epochs=args.epochs,
                                  lr=args.lr)]
    for i, config in enumerate(configs):
        where = denoise.results_dir_for(config, args.results_dir)
        stored = None if args.force else results.load(config, where)
        record = stored or denoise.run(config, args.data_root, args.results_dir,
                                       progress=not args.no_progress, force=args.force)
        how = "stored" if stored else f"trained in {record['wall_time_s']:.1f} s"
        scores = ", ".join(f"{name} σ=25 {by_sigma['25']['mean_psnr']:.2f} dB"
                           for name, by_sigma in record["test"].items())
        flag = " COLLAPSED" if denoise_measures.collapsed(record) else ""
        print(f"[{i + 1}/{len(configs)}] {config['name']}: {scores}{flag} ({how}) -> "
              f"{results.result_path(config, where)}", flush=True)
    return 0


def add_denoise(subparsers) -> None:
    from .experiments import denoise, denoise_budgets

    p = subparsers.add_parser("denoise", help="train (or load) denoising runs (DnCNN, NAFNet)")
    _add_run_arguments(p, denoise.ARCHS, denoise.ARM_DENSITIES, denoise_budgets.BUDGETS, denoise.GRIDS,
                       arch="dncnn", density="paper", kernel_size=7)
    p.add_argument("--epochs", type=int, default=None,
                   help="train this many epochs instead of the budget's (not with --grid)")
    p.add_argument("--lr", type=_lr, default=None,
                   help="learning rate instead of the budget's, or 'tuned': the one chosen by "
                        "the arm's stored tuning runs (a final run)")
    p.add_argument("--no-batch-norm", action="store_true", help="DnCNN without BatchNorm")
    p.add_argument("--status", action="store_true",
                   help="with --grid: list every run of the plan (stored, partial, to run, "
                        "after tuning) with estimated CPU minutes, and train nothing")
    p.set_defaults(func=_denoise)


def _throughput(args) -> int:
    from .experiments import bench

    out = []
    for arch in args.arch:
        if args.engine:
            r = bench.engine_vs_plain(arch, args.kernel_size, args.density, args.budget,
                                      steps=args.steps, rounds=args.rounds, precision=args.precision)
            print(f"{arch} {args.kernel_size}x{args.kernel_size} {args.density}, batch "
                  f"{r['batch_size']}, width {r['width']}, {r['precision']}, {r['threads']} "
                  f"threads: engine {r['engine']:.0f} img/s, plain loop {r['plain']:.0f} img/s, "
                  f"ratio {r['ratio']:.3f} (paired over {r['rounds']} rounds {r['paired_ratio']:.3f}, "
                  f"95% CI {r['paired_ci'][0]:.3f} to {r['paired_ci'][1]:.3f})", file=sys.stderr,
                  flush=True)
        else:
            r = bench.compare_throughput(arch, args.kernel_size, args.density, args.budget,
                                         steps=args.steps, rounds=args.rounds,
                                         precision=args.precision)
        out.append(r)
    print(json.dumps(out[0] if len(out) == 1 else out, indent=1))
    return 0


def add_throughput(subparsers) -> None:
    from .experiments import classify
    from .experiments.precision import PRECISIONS

    p = subparsers.add_parser("throughput", help="training images/s: standard vs weighted model, "
                                                 "or (--engine) the engine vs a plain loop")
    p.add_argument("--arch", default=["vgg11"], nargs="+", choices=classify.ARCHS,
                   help="one or more architectures")
    p.add_argument("--density", default="paper", choices=classify.ARMS[1:4])
    p.add_argument("--kernel-size", type=int, default=3, choices=KERNEL_SIZES)
    p.add_argument("--budget", default=None, choices=tuple(classify.BUDGETS))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--precision", default=None, choices=("auto", *PRECISIONS),
                   help="override the budget's precision (auto: this machine's, bfloat16 "
                        "where it is native)")
    p.add_argument("--engine", action="store_true",
                   help="time wconv.experiments.train.fit against a plain PyTorch loop (same model, optimizer, "
                        "autocast, channels-last, batches) instead of standard vs weighted")
    p.set_defaults(func=_throughput)


def _data(args) -> int:
    from .experiments import datasets

    if args.action == "status":
        try:
            rows = datasets.status(*args.names, root=args.data_root, verify=not args.quick)
        except ValueError as error:    # an unknown name
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(datasets.format_status(rows))
        return 0
    names = tuple(datasets.SETS) if args.all else tuple(args.names)
    if not names:
        print(f"error: name the data sets to fetch, or pass --all; known: "
              f"{', '.join(datasets.SETS)}", file=sys.stderr)
        return 2
    try:
        datasets.fetch_command(*names)   # refuse unknown names before downloading anything
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = []
    for name in names:   # one failure (offline, a bad checksum) does not stop the others
        try:
            folders = datasets.fetch(name, root=args.data_root, retries=args.retries,
                                     progress=not args.no_progress)[name]
        except (ConnectionError, ValueError, OSError) as error:
            print(f"{name}: FAILED: {error}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        print(f"{name}: {', '.join(map(str, folders))}", flush=True)
    if failed:
        print(f"not fetched: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def add_data(subparsers) -> None:
    p = subparsers.add_parser("data", help="fetch the data sets, or show which are present")
    actions = p.add_subparsers(dest="action", required=True)
    fetch = actions.add_parser("fetch", help="download, verify and install data sets")
    fetch.add_argument("names", nargs="*", help="data set names (see `data status`)")
    fetch.add_argument("--all", action="store_true", help="every data set the book uses")
    fetch.add_argument("--retries", type=int, default=2,
                       help="tries again after a failed download (resuming it)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars")
    status = actions.add_parser("status", help="what is present, verified or missing, with sizes")
    status.add_argument("names", nargs="*", help="data set names (default: all)")
    status.add_argument("--quick", action="store_true",
                        help="only look for the files; do not check their sha256")
    for q in (fetch, status):
        q.add_argument("--data-root", default=None, help="default: WCONV_DATA, else data/")
    p.set_defaults(func=_data)


def _bench(args) -> int:
    import torch

    from .experiments import bench

    if args.repeats < 1:
        print(f"error: --repeats must be >= 1, got {args.repeats}", file=sys.stderr)
        return 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    shapes = [s for s in bench.SHAPES if args.kernel_sizes is None or s.kernel_size in args.kernel_sizes]
    if not shapes:
        print(f"error: no benchmark shape has kernel size in {args.kernel_sizes}", file=sys.stderr)
        return 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"forward+backward and inference, median of {args.repeats} runs per side")
    rows = bench.run(shapes, args.repeats, naive=not args.no_naive)
    print(bench.format_table(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows},
                      handle, indent=1)
    return 0


def add_bench(subparsers) -> None:
    p = subparsers.add_parser("bench", help="time weighted against standard convolution layers "
                                            "(forward+backward and inference)")
    p.add_argument("--repeats", type=int, default=20, help="timed repetitions per side (default 20)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-naive", action="store_true", help="skip the slow naive unfold form")
    p.add_argument("--kernel-sizes", type=int, nargs="*", default=None,
                   help="only shapes with these kernel sizes")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    p.set_defaults(func=_bench)


def _search(args) -> int:
    from .experiments.search import study

    study.run(args.task, args.kernel_size, args.budget, tuple(args.stage or study.STAGES),
              log=lambda line: print(line, flush=True),
              random_seeds=args.random_seeds)
    return 0


def add_search(subparsers) -> None:
    from .experiments.search import study

    p = subparsers.add_parser("search", help="chapter 6's search study: the objective's noise, "
                                             "spread and fidelity, then the searches (resumable)")
    p.add_argument("--task", choices=("denoise", "classify"), default="denoise")
    p.add_argument("--kernel-size", type=int, choices=(3, 5, 7), default=7)
    p.add_argument("--budget", default="study",
                   help="the objective's budget (default 'study': the chapter's training, shortened)")
    p.add_argument("--stage", choices=study.STAGES, nargs="*", default=None,
                   help=f"stages to run, always in the study's order whatever the order given "
                        f"(default all: {', '.join(study.STAGES)})")
    p.add_argument("--random-seeds", type=int, nargs="*", default=None, choices=study.RANDOM_SEEDS,
                   help="the random searches' seeds to run (default all); two processes can "
                        "share the random stage, e.g. --random-seeds 1 2 and --random-seeds 3 4")
    p.set_defaults(func=_search)


#: Registered commands, in help order.
COMMANDS = [add_train, add_denoise, add_search, add_throughput, add_bench, add_data]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wconv", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
