"""Reports from certification logs: certified accuracy at given radii (markdown and
LaTeX), certified-accuracy curves (PNG), clean accuracy, abstention and
misclassification rates (the paper's Table 4) and the standard deviation of
class-wise accuracies (Tables 3, 7; Mohapatra et al.'s shrinking measure)."""
import pathlib
import warnings

import numpy as np


def certified_accuracy(log, radii):
    correct = log["correct"] == 1
    return np.array([np.mean(correct & (log["radius"] >= r)) for r in radii])


def summary(log):
    """clean accuracy, abstention, misclassification, std of class-wise accuracy."""
    abstain = log["predict"] < 0
    correct = log["correct"] == 1
    classes = np.unique(log["label"])
    per_class = [np.mean(correct[log["label"] == c]) for c in classes]
    return dict(accuracy=float(np.mean(correct)), abstention=float(np.mean(abstain)),
                misclassification=float(np.mean(~correct & ~abstain)),
                class_accuracy_std=float(np.std(per_class)))


def table(logs, radii, latex=False):
    """logs: {name: log}. Certified accuracy at `radii` plus the summary columns."""
    head = ["run"] + [f"R={r:g}" for r in radii] + ["clean acc.", "abstain", "misclass.", "class std"]
    rows = []
    for name, log in logs.items():
        s = summary(log)
        rows.append([name] + [f"{a:.3f}" for a in certified_accuracy(log, radii)]
                    + [f"{s['accuracy']:.3f}", f"{s['abstention']:.3f}",
                       f"{s['misclassification']:.3f}", f"{s['class_accuracy_std']:.3f}"])
    if latex:
        lines = ["\\begin{tabular}{l" + "r" * (len(head) - 1) + "}", " & ".join(head) + " \\\\",
                 "\\hline"] + [" & ".join(r) + " \\\\" for r in rows] + ["\\end{tabular}"]
        return "\n".join(lines).replace("_", "\\_")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def plot_curves(logs, path, title=None):
    """Certified accuracy against radius for every run, one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    top = max(float(np.max(log["radius"], initial=0.0)) for log in logs.values())
    radii = np.linspace(0.0, max(top, 1e-3) * 1.05, 300)
    figure, axis = plt.subplots(figsize=(5, 3.5))
    for name, log in logs.items():
        axis.plot(radii, certified_accuracy(log, radii), label=name)
    axis.set_xlabel("radius")
    axis.set_ylabel("certified accuracy")
    if title:
        axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run_labels(paths, labels=None):
    """{label: path} for the logs at `paths`: the given labels (one per path, distinct),
    else each path's shortest trailing part that no other path ends with (Cohen's
    layout names every file sigma_0.50: noise_0.25/test/sigma_0.50 and
    noise_0.50/test/sigma_0.50 stay apart). The same file given twice is kept once,
    with a warning."""
    unique, seen = [], set()
    for path in paths:
        key = pathlib.Path(path).resolve()
        if key in seen:
            warnings.warn(f"{path} is given more than once: counted once", stacklevel=2)
            continue
        seen.add(key)
        unique.append(path)
    if labels is not None:
        if len(labels) != len(paths):
            raise ValueError(f"{len(labels)} labels for {len(paths)} logs: give one per log")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct, got {list(labels)}")
        return {label: path for label, path in zip(labels, paths) if path in unique}
    parts = [pathlib.Path(p).resolve().parts for p in unique]
    out = {}
    for path, mine in zip(unique, parts):
        others = [q for q in parts if q != mine]
        for depth in range(1, len(mine) + 1):
            if all(q[-depth:] != mine[-depth:] for q in others):
                break
        out["/".join(mine[-depth:])] = path
    return out
