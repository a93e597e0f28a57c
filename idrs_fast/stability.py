"""`idrs-fast stability`: numerical stability of the noncentral chi-square across
dimensions and noncentralities, idrs_fast against scipy, on the mpmath references
(tests/make_reference.py writes them to tests/data with mpmath at 40 digits; this
module reads them and never needs mpmath).

For every (N, lambda) cell of the reference grid (N from 1 to 196608, lambda from 0
to 1e16): the largest relative error of the tail probability (|P / P_ref - 1| from
log P; both tails, values down to 1e-300) of idrs_fast.ncx2 and of
scipy.stats.ncx2, where each breaks (NaN or infinite, wrong by more than 1e-6,
slower than 1 ms an evaluation) and the cost per evaluation. Then the xi curves of
the paper's Figure 15 (class-B probability at distance a for fixed sigma0, sigma1,
N, pB), exact (idrs_fast.xi_greater) and the paper's way on scipy. Written to
--out as stability.md, stability.json and PNGs.
"""
import json
import pathlib
import time
import warnings

import numpy as np
import scipy.stats

from . import ncx2, xi_greater

WRONG, SLOW = 1e-6, 1e-3                   # what counts as broken
REFERENCES = ("ncx2_reference.json", "ncx2_random_reference.json")
# (N, sigma0, sigma1, pB): a moderate ratio, and ratios so close to 1 that the
# noncentralities of the paper's formula pass 1e10 (sigma1 -> sigma0 is Cohen's case)
XI_CASES = [(3072, 0.25, 0.2475, 0.01), (3072, 0.25, 0.25 * (1 - 1e-6), 0.01),
            (150528, 0.25, 0.25 * (1 - 1e-5), 0.01)]


def reference_folder():
    """tests/data of the source checkout (the references are data of the repo)."""
    here = pathlib.Path(__file__).resolve().parent
    for folder in (here / "data", here.parent / "tests" / "data"):
        if (folder / REFERENCES[0]).is_file():
            return folder
    raise ValueError("the mpmath references (tests/data/ncx2_reference.json) are not found: "
                     "run from a source checkout or pass --references DIR")


def load_references(folder, quick=False, dims=None, max_nc=None):
    """The mpmath points (x, df, nc, upper, log P) with P >= 1e-300; the main grid only
    when quick; only the given dims (N) and nc <= max_nc when given."""
    rows = json.loads((pathlib.Path(folder) / REFERENCES[0]).read_text())
    if not quick:
        rows += json.loads((pathlib.Path(folder) / REFERENCES[1]).read_text())
    keep = [r for r in rows if float(r["log_p"]) > -690.0
            and (dims is None or r["df"] in dims) and (max_nc is None or r["nc"] <= max_nc)]
    if not keep:
        raise ValueError("no reference point in the chosen grid (--dims, --max-nc)")
    x, df, nc = (np.array([r[k] for r in keep], dtype=float) for k in ("x", "df", "nc"))
    upper = np.array([r["upper"] for r in keep])
    log_p = np.array([float(r["log_p"]) for r in keep])
    return x, df, nc, upper, log_p


def _errors(log_tail, log_p):
    """|P / P_ref - 1| from log values (inf where not finite)."""
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(np.expm1(log_tail - log_p))
    return np.where(np.isfinite(log_tail), error, np.inf)


def _scipy_tails(x, df, nc, upper):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")               # Boost's non-convergence messages
        return np.where(upper, scipy.stats.ncx2.logsf(x, df, nc), scipy.stats.ncx2.logcdf(x, df, nc))


def accuracy_grid(x, df, nc, upper, log_p, batch=2048, budget=2.0):
    """One row per (N, lambda) cell: points, max error, breakdowns and cost per
    evaluation of both. idrs_fast's cost is timed on the cell's points tiled to
    `batch`; scipy's values on the points themselves, in order, until `budget`
    seconds are spent in the cell (at lambda = 1e16 one evaluation takes seconds),
    and its cost, where that is fast, on 256 tiled points as one batch."""
    cells = []
    bin_nc = np.where(nc == 0, 0.0, 10.0 ** np.round(np.log10(np.maximum(nc, 1e-300))))
    for n in np.unique(df):
        for lam in np.unique(bin_nc[df == n]):
            pick = np.flatnonzero((df == n) & (bin_nc == lam))
            ours = np.where(upper[pick], ncx2.logsf(x[pick], df[pick], nc[pick]),
                            ncx2.logcdf(x[pick], df[pick], nc[pick]))
            on_gpu = _gpu_tails(x[pick], df[pick], nc[pick], upper[pick])
            tiled = [np.resize(v[pick], batch) for v in (x, df, nc, upper)]
            start = time.perf_counter()
            np.where(tiled[3], ncx2.logsf(*tiled[:3]), ncx2.logcdf(*tiled[:3]))
            cost_ours = (time.perf_counter() - start) / batch
            theirs, start = [], time.perf_counter()
            for k in pick:
                theirs.append(float(_scipy_tails(x[k], df[k], nc[k], upper[k])))
                if time.perf_counter() - start > budget:
                    break
            cost_scipy = (time.perf_counter() - start) / len(theirs)
            done = pick[:len(theirs)]
            if cost_scipy < 1e-2:                     # fast enough: time it batched, as ours
                small = [v[:256] for v in tiled]
                start = time.perf_counter()
                _scipy_tails(*small)
                cost_scipy = (time.perf_counter() - start) / 256
            cell = dict(dim=float(n), nc=float(lam), points=int(pick.size), scipy_points=len(theirs))
            results = [("idrs_fast", _errors(ours, log_p[pick]), cost_ours),
                       ("scipy", _errors(np.array(theirs), log_p[done]), cost_scipy)]
            if on_gpu is not None:
                results.append(("idrs_fast_gpu", _errors(on_gpu, log_p[pick]), np.nan))
            for name, error, cost in results:
                cell[name] = dict(max_error=float(np.max(error)), not_finite=int(np.sum(~np.isfinite(error))),
                                  wrong=int(np.sum(error > WRONG)), seconds_per_eval=float(cost),
                                  slow=bool(cost > SLOW))
            cells.append(cell)
    return cells


def _gpu_tails(x, df, nc, upper):
    """The tails on a GPU (backend="cuda") where one is usable, else None."""
    from ._target import gpu_available
    if not gpu_available():
        return None
    return np.where(upper, ncx2.logsf(x, df, nc, backend="cuda"), ncx2.logcdf(x, df, nc, backend="cuda"))


def xi_curves(points=60):
    """Figure 15's curves: class-B probability at distance a, exact and on scipy."""
    curves = []
    for dim, s0, s1, p_b in XI_CASES:
        a = np.linspace(0.0, 2.0 * s0, points)
        exact = xi_greater(a, s0, s1, dim, p_b)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lam0, lam1 = (s0 * a / (s0 ** 2 - s1 ** 2)) ** 2, (s1 * a / (s0 ** 2 - s1 ** 2)) ** 2
            paper = scipy.stats.ncx2.cdf(s0 ** 2 / s1 ** 2 * scipy.stats.ncx2.ppf(p_b, dim, lam0),
                                         dim, lam1)
        curves.append(dict(dim=dim, sigma0=s0, sigma1=s1, pB=p_b, a=a.tolist(), exact=exact.tolist(),
                           scipy=[None if not np.isfinite(v) else float(v) for v in paper]))
    return curves


def _heat_map(cells, name, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dims = sorted({c["dim"] for c in cells})
    lams = sorted({c["nc"] for c in cells})
    grid = np.full((len(dims), len(lams)), np.nan)
    for c in cells:
        error = c[name]["max_error"]
        grid[dims.index(c["dim"]), lams.index(c["nc"])] = np.log10(max(min(error, 1.0), 1e-17))
    figure, axis = plt.subplots(figsize=(7, 4))
    image = axis.imshow(grid, vmin=-17, vmax=0, cmap="viridis", aspect="auto")
    axis.set_xticks(range(len(lams)), [f"{v:g}" for v in lams], rotation=45)
    axis.set_yticks(range(len(dims)), [f"{int(v)}" for v in dims])
    axis.set_xlabel("lambda (binned)")
    axis.set_ylabel("N")
    axis.set_title(f"{name}: log10 max relative error of the tail (1 = wrong or NaN)")
    figure.colorbar(image)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _xi_plot(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3.4))
    for axis, c in zip(np.atleast_1d(axes), curves):
        axis.plot(c["a"], c["exact"], label="idrs_fast (exact)")
        axis.plot(c["a"], [np.nan if v is None else v for v in c["scipy"]], "--", label="scipy (paper)")
        axis.axhline(0.5, color="grey", lw=0.5)
        axis.set_title(f"N={c['dim']}, s1/s0={c['sigma1'] / c['sigma0']:.4g}, pB={c['pB']:g}", fontsize=9)
        axis.set_xlabel("distance a")
    np.atleast_1d(axes)[0].set_ylabel("xi(a)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown(cells, curves):
    lines = ["# Numerical stability of the noncentral chi-square", "",
             f"Relative error of the tail probability against mpmath (40 digits), both tails, "
             f"P >= 1e-300; broken: NaN/inf, error > {WRONG:g}, or slower than {SLOW * 1e3:g} ms an "
             "evaluation.", "",
             "| N | lambda | points | idrs_fast max error | scipy max error | scipy NaN/inf | "
             "scipy wrong | idrs_fast us/eval | scipy us/eval |", "|---|---|---|---|---|---|---|---|---|"]
    # scipy's columns cover the points it reached within the time budget per cell
    for c in cells:
        a, b = c["idrs_fast"], c["scipy"]
        lines.append(f"| {int(c['dim'])} | {c['nc']:g} | {c['points']} | {a['max_error']:.2e} | "
                     f"{b['max_error']:.2e} | {b['not_finite']} | {b['wrong']} | "
                     f"{a['seconds_per_eval'] * 1e6:.1f} | {b['seconds_per_eval'] * 1e6:.1f} |")
    if "idrs_fast_gpu" in cells[0]:
        lines += ["", "GPU (backend='cuda'): largest error over all cells "
                  f"{max(c['idrs_fast_gpu']['max_error'] for c in cells):.2e}."]
    else:
        lines += ["", "No GPU was usable for this run: the GPU column is absent."]
    broken = [c for c in cells if c["idrs_fast"]["wrong"] or c["idrs_fast"]["not_finite"]]
    lines += ["", f"idrs_fast is wrong (> {WRONG:g}) or not finite in {len(broken)} cell(s); scipy in "
              f"{sum(1 for c in cells if c['scipy']['wrong'] or c['scipy']['not_finite'])} of {len(cells)}.",
              "", "![idrs_fast](accuracy_idrs_fast.png) ![scipy](accuracy_scipy.png)", "",
              "## Figure 15: xi(a), exact and the paper's way on scipy", "", "![xi](xi_curves.png)", ""]
    for c in curves:
        scipy_values = np.array([np.nan if v is None else v for v in c["scipy"]])
        gap = np.nanmax(np.abs(scipy_values - np.array(c["exact"]))) if np.isfinite(scipy_values).any() else np.nan
        lines.append(f"- N = {c['dim']}, sigma1/sigma0 = {c['sigma1'] / c['sigma0']:.8g}, pB = {c['pB']:g}: "
                     f"scipy NaN at {int(np.sum(~np.isfinite(scipy_values)))} of {len(scipy_values)} "
                     f"distances, largest gap to the exact curve {gap:.2e}")
    return "\n".join(lines) + "\n"


def run(out, quick=False, references=None, dims=None, max_nc=None):
    """Write the report to the folder `out`; return its cells."""
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_references(references or reference_folder(), quick, dims, max_nc)
    cells = accuracy_grid(*data, budget=0.5 if quick else 3.0)
    curves = xi_curves(20 if quick else 60)
    for name in ("idrs_fast", "scipy"):
        _heat_map(cells, name, out / f"accuracy_{name}.png")
    _xi_plot(curves, out / "xi_curves.png")
    (out / "stability.json").write_text(json.dumps(dict(cells=cells, xi=curves), indent=1))
    (out / "stability.md").write_text(markdown(cells, curves))
    return cells
