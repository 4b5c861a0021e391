r"""What chapter 4 shows of the classification runs: tables, plots and the sentences of its findings.

The numbers come from :mod:`wconv.experiments.classify_analysis`, computed from stored
records; this module only writes them down: every table in the book's one format
(:mod:`wconv.views.tables`), the papers' numbers from :data:`wconv.views.published.PUBLISHED`.

Example::

    >>> from wconv.views import classification
    >>> row = {"arch": "resnet20", "kernel_size": 3, "density": "paper", "baseline": "uniform",
    ...        "metric": "test_top1", "n": 3, "mean": 1.0, "ci_low": 0.2, "ci_high": 1.8, "p": 0.03}
    >>> classification.verdict(row)
    'weighted better'
    >>> print(classification.paired_markdown([row]).splitlines()[-1])
    | ResNet-20 | 3×3 | paper | 3 | +1.00 | [+0.20, +1.80] | 0.030 |
"""
from __future__ import annotations

import math

import torch

from .. import density as _density
from ..experiments import classify_analysis as analysis
from ..experiments.classify import ARCH_LABELS, TUNING_METRIC
from . import tables
from .published import PUBLISHED

__all__ = ["arch_label", "summary_markdown", "paired_markdown", "tuning_markdown",
           "ranking_markdown", "verdict", "verdicts", "per_seed", "PAPER_SETTING",
           "beside_paper_markdown", "grid_sentence", "findings", "plot_learning_curves",
           "plot_paired", "plot_tuning"]

#: What the first paper's VGG run used, for the table beside ours (:func:`beside_paper_markdown`).
PAPER_SETTING = "VGG, 500 img/class, density tuned by DIRECT-L, GPU cluster"


def arch_label(arch: str) -> str:
    """The table name of an architecture (``'resnet20'`` -> ``'ResNet-20'``)."""
    return ARCH_LABELS.get(arch, arch)


def _kernel(k: int) -> str:
    return f"{k}×{k}"


def summary_markdown(rows) -> str:
    """A Markdown table of :func:`~wconv.experiments.classify_analysis.summarize` rows (accuracies in %,
    mean ± sample standard deviation over the ``runs``)."""
    header = ["architecture", "kernel", "density", "lr", "runs", "val top-1 (%)",
              "test top-1 (%)", "test top-5 (%)"]
    cells = [[arch_label(r["arch"]), _kernel(r["kernel_size"]), r["density"],
              ", ".join(f"{v:g}" for v in r["lr"]), r["n"]]
             + [tables.mean_std(r[f"{m}_mean"], r[f"{m}_std"])
                for m in ("val_top1", "test_top1", "test_top5")] for r in rows]
    return tables.markdown(header, cells)


def paired_markdown(rows) -> str:
    """A Markdown table of :func:`~wconv.experiments.classify_analysis.paired` rows (percentage points)."""
    baseline = rows[0]["baseline"] if rows else "baseline"
    header = ["architecture", "kernel", f"density − {baseline}", "pairs", "mean diff (pp)",
              "95% CI (pp)", "p (paired t)"]
    cells = [[arch_label(r["arch"]), _kernel(r["kernel_size"]), r["density"], r["n"],
              tables.signed(r["mean"]), tables.interval(r["ci_low"], r["ci_high"]),
              tables.p_value(r["p"])] for r in rows]
    return tables.markdown(header, cells)


def tuning_markdown(rows) -> str:
    """A Markdown table of :func:`~wconv.experiments.classify_analysis.tuning_table` rows: the tuning
    score (validation top-1, %) of every learning rate, and the one chosen (``†`` when it is at an
    end of the grid). Architecture and kernel share one column so that the table fits the page."""
    lrs = sorted({lr for r in rows for lr in r["grid"]})
    header = ["model", "density", *(f"lr {v:g}" for v in lrs), "chosen"]
    cells = []
    for r in rows:
        score = dict(zip(r["grid"], r["scores"]))
        cells.append([f"{arch_label(r['arch'])} {_kernel(r['kernel_size'])}", r["density"],
                      *(f"{score[v]:.2f}" if v in score else "–" for v in lrs),
                      f"{r['chosen']:g}" + (" †" if r.get("at_edge") else "")])
    edge = any(r.get("at_edge") for r in rows)
    return tables.markdown(header, cells, note="† at an end of the grid: a better value may lie "
                                               "beyond it." if edge else None)


def _star(lr, best) -> str:
    return " ★" if lr == best else ""


def ranking_markdown(rows) -> str:
    """A Markdown table of :func:`~wconv.experiments.classify_analysis.ranking_agreement` rows: short and
    full-length validation top-1 and full-length test top-1 per lr; ★ marks each side's best."""
    header = ["architecture", "kernel", "density", "lr", "short val top-1 (%)",
              "full val top-1 (%)", "full test top-1 (%)"]
    cells = []
    for r in rows:
        for i, lr in enumerate(r["grid"]):
            cells.append([arch_label(r["arch"]), _kernel(r["kernel_size"]), r["density"], f"{lr:g}",
                          f"{r['short'][i]:.2f}{_star(lr, r['best_short'])}",
                          f"{r['full'][i]:.2f}{_star(lr, r['best_full'])}", f"{r['full_test'][i]:.2f}"])
    return tables.markdown(header, cells)


# --------------------------------------------------------------------------- findings

def verdict(row: dict, above: str = "weighted better", below: str = "weighted worse") -> str:
    """What a paired row says: ``above`` or ``below`` when its 95% interval lies above or
    below 0, else ``'no significant difference'`` (a missing interval says nothing either)."""
    if row["ci_low"] > 0:
        return above
    if row["ci_high"] < 0:
        return below
    return "no significant difference"


def verdicts(rows) -> str:
    """One line per :func:`~wconv.experiments.classify_analysis.paired` row: the arm, the split, its
    :func:`verdict`, the mean difference and the number of pairs, e.g.
    ``'vgg11 3×3      paper: test weighted better (+3.22 pp, n=3)'``."""
    return "\n".join(
        f"{r['arch']} {_kernel(r['kernel_size'])} {r['density']:>10}: "
        f"{r['metric'].split('_')[0]} {verdict(r)} ({tables.signed(r['mean'])} pp, n={r['n']})"
        for r in rows)


def per_seed(records, arms=("paper", "reparam"), archs=("vgg11", "resnet20"), kernel_size: int = 3,
             metric: str = "test_top1", seeds=(0, 1, 2)) -> str:
    """The stored ``metric`` of ``arms`` seed by seed, one line per architecture (the control
    beside the arm it should follow), e.g.
    ``'vgg11 test top-1 per seed  paper: [11.61, 13.11, 12.79]  reparam: [11.77, 12.84, 12.03]'``."""
    lines = []
    for arch in archs:
        by_seed = {(r["config"]["density"], r["config"]["seed"]): r["final"][metric]
                   for r in records
                   if r["config"]["arch"] == arch and r["config"]["kernel_size"] == kernel_size}
        what = metric.replace("_top1", " top-1")
        lines.append(f"{arch} {what} per seed " + " ".join(
            f" {arm}: {[by_seed[(arm, s)] for s in seeds]}" for arm in arms))
    return "\n".join(lines)


def beside_paper_markdown(summary, budget, device: str,
                          published: str = "weighted_vgg_cifar100") -> str:
    """The paper's standard and weighted VGG test top-1 beside ours (VGG-11-BN 3×3,
    ``uniform`` and ``paper``), with the settings that differ.

    Args:
        summary: :func:`~wconv.experiments.classify_analysis.summarize` rows.
        budget: the :class:`~wconv.experiments.classify.Budget` the runs used.
        device: where they ran (a record's ``environment['device']``).
        published: the key of the paper's numbers in :data:`~wconv.views.published.PUBLISHED`.
    """
    paper = PUBLISHED[published]
    ours = {r["density"]: r for r in summary if r["arch"] == "vgg11" and r["kernel_size"] == 3}
    standard, weighted = ours["uniform"]["test_top1_mean"], ours["paper"]["test_top1_mean"]
    setting = (f"VGG-11 width {budget.width_of('vgg11')}, "
               f"{budget.n_per_class - budget.val_per_class} img/class, {budget.epochs} epochs, "
               f"den {list(_density.PAPER_DEN[3])}, {device}, mean of {ours['paper']['n']} seeds")
    rows = [["paper", f"{paper['standard_top1']:.2f}", f"{paper['weighted_top1']:.2f}",
             tables.signed(paper["weighted_top1"] - paper["standard_top1"]), PAPER_SETTING],
            ["this book", f"{standard:.2f}", f"{weighted:.2f}", tables.signed(weighted - standard),
             setting]]
    return tables.markdown(["", "standard (%)", "weighted (%)", "difference (pp)", "setting"], rows)


def grid_sentence(totals: dict, n_planned: int, command: str) -> str:
    """What of a tuned grid is stored and what is left, from
    :func:`wconv.experiments.classify_grid.totals` (CPU minutes as recorded or estimated)."""
    stored = totals.get("stored", {"runs": 0, "minutes": 0.0})
    left = {k: v for k, v in totals.items() if k != "stored"}
    runs_left = sum(v["runs"] for v in left.values())
    hours_left = sum(v["minutes"] for v in left.values()) / 60
    text = (f"{stored['runs']} of the grid's {n_planned} runs are stored "
            f"({stored['minutes'] / 60:.1f} h of training as recorded)")
    if runs_left:
        text += (f"; {runs_left} are still to train (about {hours_left:.1f} h on a quiet 2-core "
                 f"CPU): `{command}` trains them, resuming where it stopped, and the tables below "
                 "grow as they land")
    return text + "."


def _arm(r: dict) -> str:
    return f"{arch_label(r['arch'])} {_kernel(r['kernel_size'])} `{r['density']}`"


def _difference(r: dict, unit: str = "pp") -> str:
    what = r["metric"].replace("_top1", " top-1")
    if r["n"] < 2:
        return (f"{_arm(r)} − `{r['baseline']}`: {tables.signed(r['mean'])} {unit} {what} from "
                f"{r['n']} pair, too few for an interval")
    return (f"{_arm(r)} − `{r['baseline']}`: {tables.signed(r['mean'])} {unit} {what} "
            f"(95 % CI {tables.interval(r['ci_low'], r['ci_high'])}, {r['n']} pairs, "
            f"p {tables.p_value(r['p'])}): {verdict(r, 'higher', 'lower')}")


def _at_equal_lr(rows) -> str:
    """:func:`~wconv.experiments.classify_analysis.equal_lr` rows as one sentence, each naming its pairs."""
    return "; ".join(f"{_difference(r)} (" + ", ".join(f"seed {seed} at lr {lr:g}" for seed, lr in r["pairs"])
                     + ")" for r in rows) + "."


def _tuning_noise(records, tuned) -> str:
    """How well the short runs resolve each choice: its margin over the next-best lr against the
    spread of two twins at equal lr (``reparam`` and ``paper``, one trajectory up to rounding)."""
    out = ""
    for twins in analysis.equal_lr(records, metric=TUNING_METRIC, role="tuning"):
        noise = max(abs(d) for d in twins["differences"])
        arms = [r for r in tuned if (r["arch"], r["kernel_size"]) == (twins["arch"], twins["kernel_size"])
                and math.isfinite(r["margin"])]
        leads = [(r["margin"] < noise, f"{_arm(r)} ({tables.signed(r['margin'])} pp)") for r in arms]
        within = [text for inside, text in leads if inside]
        beyond = [text for inside, text in leads if not inside]
        out += (f" The short runs' own noise: `reparam` and `paper` follow one SGD trajectory up to "
                f"rounding, yet their validation top-1 differs by up to {noise:.2f} pp at equal lr "
                f"({arch_label(twins['arch'])} {_kernel(twins['kernel_size'])}, {twins['n']} lrs)."
                + (f" Choices that lead the next-best lr by less are within that noise: "
                   f"{', '.join(within)}." if within else "")
                + (f" Choices that lead by more: {', '.join(beyond)}." if beyond else ""))
    return out


def findings(records, goal: float = analysis.GOAL_TOP1) -> dict[str, str]:
    """The sentences of chapter 4's findings, computed from stored records of a tuned grid.

    Keys (always present; a sentence says so when its runs are not stored yet):
    ``standard`` (standard ResNet-20 3×3 against ``goal`` and the papers' standard VGG),
    ``densities`` (each fixed density against ``uniform``), ``reparam`` (the control against
    ``paper``, at the chosen learning rates and at equal ones), ``learnable`` (against
    ``uniform``, and against ``paper``, the density it starts from), ``tuning`` (the choices,
    any at an end of the grid, and how well the short runs resolve them) and
    ``ranking`` (short tuning runs against full-length runs).
    """
    out = {}
    summary = {(r["arch"], r["kernel_size"], r["density"]): r for r in analysis.summarize(records)}
    std = summary.get(("resnet20", 3, "uniform"))
    paper = PUBLISHED["weighted_vgg_cifar100"]
    if std is None:
        out["standard"] = "No final run of the standard ResNet-20 is stored yet."
    else:
        mean, n = std["test_top1_mean"], std["n"]
        verb = "meets" if mean >= goal else "misses"
        out["standard"] = (
            f"The standard ResNet-20 (3×3) reaches {tables.mean_std(mean, std['test_top1_std'])} % "
            f"test top-1 on the full 10,000-image test set (mean ± std over {n} seed"
            f"{'s' if n != 1 else ''}): it {verb} the {goal:.0f} % goal"
            + ("" if n >= 3 else f" so far (the goal is over 3 seeds; {n} stored)")
            + f" and is {mean - paper['standard_top1']:+.2f} pp from the papers' standard VGG "
            f"({paper['standard_top1']:.2f} %).")
    rows = analysis.paired(records, baseline="uniform", metric="test_top1")
    fixed = [r for r in rows if r["density"] not in ("reparam", "learnable")]
    out["densities"] = ("; ".join(_difference(r) for r in fixed) + "." if fixed else
                        "No density has a stored final run paired with `uniform` yet.")
    learnable = [r for r in rows if r["density"] == "learnable"]
    out["learnable"] = ("; ".join(_difference(r) for r in learnable) + "." if learnable else
                        "No `learnable` final run is stored yet.")
    vs_paper = analysis.paired(records, baseline="paper", metric="test_top1")
    if learnable:   # the question is whether training the density beats the fixed one it starts at
        start = [r for r in vs_paper if r["density"] == "learnable"]
        same = analysis.equal_lr(records, arm="learnable", twin="paper")
        if start:
            out["learnable"] += (" Against the papers' fixed density it starts from: "
                                 + "; ".join(_difference(r) for r in start) + ".")
        if same:
            out["learnable"] += " At the same learning rate and seed: " + _at_equal_lr(same)
    control = [r for r in vs_paper if r["density"] == "reparam"]
    out["reparam"] = ("; ".join(_difference(r) for r in control) + "." if control else
                      "No `reparam` final run is stored yet.")
    if control:
        same = analysis.equal_lr(records)
        out["reparam"] += (" At the same learning rate and seed, where the two follow one SGD "
                           "trajectory up to rounding: " + _at_equal_lr(same)
                           if same else " No `paper` full-length run at `reparam`'s learning rate "
                           "and seed is stored yet, so the difference above still mixes the "
                           "operator with the learning rate.")
    tuned = analysis.tuning_table(records)
    if tuned:
        choices = "; ".join(f"{_arm(r)} {r['chosen']:g}" for r in tuned)
        edges = [_arm(r) for r in tuned if r["at_edge"]]
        out["tuning"] = (f"Each arm chose its learning rate on the validation split, from the same "
                         f"grid ({', '.join(f'{v:g}' for v in tuned[0]['grid'])}; "
                         f"{tuned[0]['epochs']}-epoch runs, seed 0): {choices}. "
                         + (f"At an end of the grid, so a better value may lie beyond it: "
                            f"{', '.join(edges)}." if edges else "No choice is at an end of the grid.")
                         + _tuning_noise(records, tuned))
    else:
        out["tuning"] = "No tuning run is stored yet."
    ranking = analysis.ranking_agreement(records)
    if ranking:
        out["ranking"] = "; ".join(
            f"{_arm(r)}: the short runs choose {r['best_short']:g}, the full-length runs "
            f"{r['best_full']:g} ({'the same' if r['agree'] else 'not the same'}; Kendall τ "
            f"{r['kendall_tau']:.2f} over {len(r['grid'])} learning rates)" for r in ranking) + "."
    else:
        out["ranking"] = ("The full-length runs at the other learning rates (the sweep) are not "
                          "stored yet, so whether the short tuning runs rank the learning rates "
                          "like full runs is still open.")
    return out


# --------------------------------------------------------------------------- plots

_CURVE_LABELS = {"val_top1": "validation top-1 accuracy (%)",
                 "train_loss": "training loss (cross-entropy, nats)",
                 "val_loss": "validation loss (cross-entropy, nats)",
                 "train_top1": "training top-1 accuracy (%)"}


def plot_learning_curves(records, arch: str, kernel_size: int, metric: str = "val_top1", ax=None):
    """Mean (line) and min-max over seeds (band) of ``metric`` per epoch, one colour per arm
    (``final`` runs of ``arch`` at ``kernel_size``). Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    groups: dict = {}
    for r in records:
        c = r["config"]
        if c.get("role", "final") == "final" and c["arch"] == arch and c["kernel_size"] == kernel_size:
            groups.setdefault(c["density"], []).append(r)
    for dens, rs in groups.items():
        curves = torch.tensor([[e[metric] for e in r["epochs"]] for r in rs], dtype=torch.float64)
        epochs = range(1, curves.shape[1] + 1)
        line, = ax.plot(epochs, curves.mean(0).tolist(), marker="o", ms=3,
                        label=f"{dens} (n={len(rs)})")
        ax.fill_between(epochs, curves.min(0).values.tolist(), curves.max(0).values.tolist(),
                        color=line.get_color(), alpha=0.15)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(_CURVE_LABELS.get(metric, metric))
    ax.set_title(f"{arch_label(arch)}, {_kernel(kernel_size)} kernels")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_paired(rows, ax=None):
    """:func:`~wconv.experiments.classify_analysis.paired` differences with their 95% confidence
    intervals, one row per comparison. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(rows) + 1.2))
    labels = [f"{arch_label(r['arch'])} {_kernel(r['kernel_size'])}: {r['density']}" for r in rows]
    y = list(range(len(rows)))[::-1]
    means = [r["mean"] for r in rows]
    err = [[r["mean"] - r["ci_low"] for r in rows], [r["ci_high"] - r["mean"] for r in rows]]
    ax.errorbar(means, y, xerr=err, fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    metric = rows[0]["metric"].replace("_top1", " top-1") if rows else ""
    base = rows[0]["baseline"] if rows else ""
    ax.set_xlabel(f"{metric} accuracy difference vs {base} (percentage points, 95% CI)")
    ax.grid(alpha=0.3, axis="x")
    return ax


def plot_tuning(rows, ax=None):
    """Validation top-1 of the tuning runs against the learning rate (log scale), one line
    per arm of :func:`~wconv.experiments.classify_analysis.tuning_table` rows; the chosen
    value is circled. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        line, = ax.plot(r["grid"], r["scores"], marker="o", ms=4, label=_arm(r).replace("`", ""))
        ax.plot([r["chosen"]], [r["scores"][r["grid"].index(r["chosen"])]], "o", ms=11,
                mfc="none", color=line.get_color())
    ax.set_xscale("log")
    grid = sorted({lr for r in rows for lr in r["grid"]})
    ax.set_xticks(grid, [f"{lr:g}" for lr in grid])
    ax.minorticks_off()
    ax.set_xlabel("peak learning rate (one-cycle, log scale)")
    epochs = rows[0]["epochs"] if rows else "?"
    ax.set_ylabel(f"validation top-1 after {epochs} epochs (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return ax
