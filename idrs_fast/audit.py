"""Audit of per-input-sigma certificates (DDRS, ANCER's isotropic stage, Insta-RS, or
our own logs): every certificate (x0, sigma0, prediction, radius R0) is checked
against every other input x1 of the log with ||x1 - x0|| < R0, in two grades:

- contradicted: x1 is predicted another class (and does not abstain): the claimed
  ball around x0 holds a point this very classifier labels differently;
- not justified: smoothing at x1 with its own sigma1 is not covered by what was
  measured at x0: the exact xi of Theorems 2.2-2.3 (sigma0, sigma1, pB = 1 - pA,
  distance, N) reaches 1/2, so some base classifier agreeing with everything
  measured at x0 predicts another class at x1. The reason also says when
  sigma1 / sigma0 lies beyond the Theorem 2.4 threshold.

An audit must never refute a valid certificate, so every rounding goes the claim's
way: a pair counts only inside the lower end of R0's printed rounding interval, and
pA is the largest the printed digits allow (a pA column's, or Cohen's
Phi(R_high / sigma0) from the upper end of R0's interval). For IDRS logs the
semi-elasticity the log implies, max |log sigma1 - log sigma0| / ||x1 - x0|| over all
pairs, is reported against the rate the log claims.
"""
import json
import pathlib

import numpy as np
from scipy.special import ndtr

from .logs import read_log, read_settings, rounding_ceiling, rounding_floor
from .radius import xi_greater, xi_smaller
from .theory import sigma_ratio_threshold, sigma_ratio_upper_threshold

SIGMA_COLUMNS = ("sigma", "min_sigma")      # ours and DDRS's; ANCER's isotropic stage


def audit(x, sigma, predict, radius_low, p_a, dim=None, claimed_rate=None, chunk=512):
    """Audit the certificates of inputs x (inputs, ...) with their sigma, predictions
    (-1: abstain), the lower ends of their claimed radii and the largest pA the log
    allows. Returns dict(summary, refuted): one refuted row per (x0, x1) pair."""
    x = np.asarray(x, dtype=np.float64).reshape(len(predict), -1)
    sigma, predict = np.asarray(sigma, dtype=np.float64), np.asarray(predict)
    radius_low, p_a = np.asarray(radius_low, dtype=np.float64), np.asarray(p_a, dtype=np.float64)
    n = x.shape[0]
    if not (sigma.shape == predict.shape == radius_low.shape == p_a.shape == (n,)):
        raise ValueError(f"{n} inputs need as many sigmas, predictions, radii and pA")
    if not np.all(np.isfinite(sigma) & (sigma > 0)):
        bad = int(np.argmax(~(np.isfinite(sigma) & (sigma > 0))))
        raise ValueError(f"sigma of row {bad} is {float(sigma[bad])!r}: every sigma must be finite and > 0")
    if not np.all(np.isfinite(x)):
        raise ValueError("the inputs hold NaN or inf")
    dim = x.shape[1] if dim is None else int(dim)
    claims = np.flatnonzero((predict >= 0) & (radius_low > 0))
    pairs, implied = _close_pairs(x, radius_low, claims, np.log(sigma), chunk)
    i0, i1, distance = pairs
    contradicted = (predict[i1] >= 0) & (predict[i1] != predict[i0])
    xi = np.empty(distance.size)
    smaller = sigma[i1] <= sigma[i0]
    p_b = np.clip(1.0 - p_a[i0], 0.0, 1.0)
    if smaller.any():
        xi[smaller] = xi_greater(distance[smaller], sigma[i0][smaller], sigma[i1][smaller], dim,
                                 p_b[smaller])
    if (~smaller).any():
        xi[~smaller] = xi_smaller(distance[~smaller], sigma[i0][~smaller], sigma[i1][~smaller], dim,
                                  p_b[~smaller])
    unjustified = xi >= 0.5
    refuted = contradicted | unjustified
    ratio = sigma[i1] / sigma[i0]
    low, high = (np.atleast_1d(f(np.minimum(p_a[i0], 1 - 1e-16), dim)) if distance.size else ratio
                 for f in (sigma_ratio_threshold, sigma_ratio_upper_threshold))
    rows = []
    for k in np.flatnonzero(refuted):
        reasons = []
        if contradicted[k]:
            reasons.append(f"x1 is predicted {int(predict[i1[k]])}, x0 {int(predict[i0[k]])}")
        if unjustified[k]:
            reasons.append("xi >= 1/2")
        if ratio[k] < low[k] or ratio[k] > high[k]:
            reasons.append("sigma ratio beyond the Theorem 2.4 threshold")
        rows.append(dict(x0=int(i0[k]), x1=int(i1[k]), distance=float(distance[k]),
                         radius0=float(radius_low[i0[k]]), radius1=float(radius_low[i1[k]]),
                         sigma_ratio=float(ratio[k]), xi=float(xi[k]),
                         grade="contradicted" if contradicted[k] else "not justified",
                         reason="; ".join(reasons)))
    bad_contra = np.unique(i0[contradicted])
    bad_unjust = np.setdiff1d(np.unique(i0[unjustified]), bad_contra)
    refuted_inputs = np.union1d(bad_contra, bad_unjust)
    summary = dict(certificates=int(claims.size), contradicted=int(bad_contra.size),
                   not_justified=int(bad_unjust.size),
                   largest_refuted_radius=float(radius_low[refuted_inputs].max()) if refuted_inputs.size else 0.0,
                   refuted_fraction=float(refuted_inputs.size / claims.size) if claims.size else 0.0,
                   refuted_fraction_per_class={
                       int(c): float(np.mean(np.isin(claims[predict[claims] == c], refuted_inputs)))
                       for c in np.unique(predict[claims])},
                   pairs_checked=int(distance.size), implied_semi_elasticity=implied,
                   claimed_rate=claimed_rate, dim=dim)
    return dict(summary=summary, refuted=rows)


def _close_pairs(x, radius_low, claims, log_sigma, chunk):
    """(i0, i1, distance) of every pair with x0 a claim and 0 < ||x1 - x0|| <
    radius_low[x0] (distances pruned in float32 chunks with a margin, then exact in
    float64), and the largest |log sigma1 - log sigma0| / ||x1 - x0|| over all pairs."""
    points = x.astype(np.float32)
    squares = np.einsum("ij,ij->i", points, points)
    scale = float(squares.max()) if squares.size else 0.0
    out, implied = [], 0.0
    for start in range(0, x.shape[0], chunk):
        rows = np.arange(start, min(start + chunk, x.shape[0]))
        d2 = squares[rows, None] + squares[None, :] - 2.0 * points[rows] @ points.T
        d2 = np.maximum(d2, 0.0)
        slack = 1e-5 * scale + 1e-6                 # float32 rounding of |a|^2 + |b|^2 - 2ab
        gap = np.abs(log_sigma[rows, None] - log_sigma[None, :])
        near = (d2 > slack)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(near, gap / np.sqrt(d2), 0.0)
        if ratio.size:
            k = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
            exact = np.linalg.norm(x[rows[k[0]]] - x[k[1]])
            if exact > 0:
                implied = max(implied, float(gap[k] / exact))
        is_claim = np.isin(rows, claims)
        limit = (radius_low[rows] + 1e-6) ** 2 + slack
        candidates = np.argwhere(is_claim[:, None] & (d2 < limit[:, None]))
        for r, j in candidates:
            i = rows[r]
            if i == j:
                continue
            distance = float(np.linalg.norm(x[i] - x[j]))
            if 0.0 < distance < radius_low[i]:
                out.append((i, j, distance))
    if not out:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)), implied
    i0, i1, d = (np.array(v) for v in zip(*out))
    return (i0.astype(np.int64), i1.astype(np.int64), d.astype(np.float64)), implied


def load_certificates(log_path, inputs_path):
    """(x, sigma, predict, radius_low, pA, claimed rate) of a log with a sigma column
    and the inputs file (.npy, or .npz with `x`) whose rows are the log's inputs in
    idx order. The claim's benefit of the doubt: radius_low is the lower end of each
    printed radius, pA the largest its digits (or a pA column's) allow."""
    table = read_log(log_path)
    column = next((c for c in SIGMA_COLUMNS if c in table), None)
    if column is None:
        raise ValueError(f"{log_path} has no sigma column ({' or '.join(SIGMA_COLUMNS)}): "
                         "per-input sigmas are what an audit checks")
    for name in ("idx", "predict", "radius"):
        if name not in table:
            raise ValueError(f"{log_path} is not a certification log: no {name} column")
    order = np.argsort(np.array([int(v) for v in table["idx"]]), kind="stable")
    pick = lambda name: [table[name][k] for k in order]     # noqa: E731
    try:
        sigma = np.array([float(v) for v in pick(column)])
        predict = np.array([int(v) for v in pick("predict")])
    except ValueError as error:
        raise ValueError(f"{log_path}: {error}") from None
    radius_low = np.array([max(rounding_floor(v), 0.0) for v in pick("radius")])
    radius_high = np.array([rounding_ceiling(v) for v in pick("radius")])
    if "pA" in table:
        p_a = np.minimum([rounding_ceiling(v) for v in pick("pA")], 1.0)
    else:                               # Cohen's pA = Phi(R / sigma), the largest allowed
        p_a = np.nextafter(ndtr(radius_high / sigma), 1.0)
    x = _inputs(inputs_path)
    if x.shape[0] != sigma.size:
        raise ValueError(f"{inputs_path} has {x.shape[0]} inputs but {log_path} has {sigma.size} "
                         "rows: the inputs must be the log's, in idx order")
    claimed = None
    try:
        claimed = read_settings(log_path)[0].get("rate")
    except ValueError:
        pass                             # not one of our logs: no claimed rate
    return x, sigma, predict, radius_low, p_a, claimed


def _inputs(path):
    path = pathlib.Path(path)
    if path.suffix == ".npz":
        with np.load(path) as archive:
            if "x" not in archive:
                raise ValueError(f"{path}: no array x in the .npz")
            return np.asarray(archive["x"])
    return np.asarray(np.load(path))


def report(result, limit=50):
    """Markdown: the summary, then the refuted certificates (the first `limit`)."""
    s = result["summary"]
    lines = ["| certificates | contradicted | not justified | refuted fraction | largest refuted "
             "radius | implied semi-elasticity | claimed rate |", "|---|---|---|---|---|---|---|",
             f"| {s['certificates']} | {s['contradicted']} | {s['not_justified']} | "
             f"{s['refuted_fraction']:.3f} | {s['largest_refuted_radius']:.4g} | "
             f"{s['implied_semi_elasticity']:.4g} | {s['claimed_rate']} |"]
    lines += ["", "Refuted fraction of each predicted class's certificates: " + ", ".join(
        f"{c}: {f:.3f}" for c, f in s["refuted_fraction_per_class"].items())]
    if result["refuted"]:
        lines += ["", "| x0 | x1 | distance | radius x0 | radius x1 | sigma1/sigma0 | xi | grade | reason |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for row in result["refuted"][:limit]:
            lines.append(f"| {row['x0']} | {row['x1']} | {row['distance']:.4g} | {row['radius0']:.4g} | "
                         f"{row['radius1']:.4g} | {row['sigma_ratio']:.4g} | {row['xi']:.4g} | "
                         f"{row['grade']} | {row['reason']} |")
        if len(result["refuted"]) > limit:
            lines.append(f"\n({len(result['refuted']) - limit} more refuted pairs in the JSON)")
    return "\n".join(lines)


def write_json(result, path):
    pathlib.Path(path).write_text(json.dumps(result, indent=1))
