"""Certify a whole data set into a resumable log (idrs_fast.logs): inputs are
processed in groups (many per forward pass), rows are written in index order, and
indices already in the log are skipped, so a killed run continues where it stopped.
The log is bound to its run: the model's fingerprint, sigma's semi-elasticity and
the Monte-Carlo settings are part of its settings line, so resuming it with another
model or other settings is refused."""
import json
import pathlib
import time
import warnings

import numpy as np

from .logs import COLUMNS, CertifyLog, read_log, read_settings
from .sources import file_sha256, model_fingerprint


def run_settings(smooth, n0, n, alpha, seed, separate_pb=False):
    """The settings every result of certify_dataset depends on."""
    from . import __version__
    return dict(idrs_fast=__version__,
                model=model_fingerprint(smooth.base_classifier), sigma=_sigma_identity(smooth.sigma),
                rate=smooth.rate, n0=n0, n=n, alpha=alpha, seed=seed,
                separate_pb=bool(separate_pb), num_classes=smooth.num_classes)


def _sigma_identity(sigma):
    """A constant sigma's value, a provider's identity() (KnnSigma: its parameters and
    a hash of its training points), else the callable's qualified name."""
    if not callable(sigma):
        return float(sigma)
    if hasattr(sigma, "identity"):
        return sigma.identity()
    return getattr(sigma, "__qualname__", type(sigma).__qualname__)


def certify_dataset(smooth, x, y, log, n0, n, alpha, batch_size=10_000, seed=0,
                    inputs_per_group=64, progress=None, settings=None, separate_pb=False,
                    index=None, executor=None, environment=None):
    """Certify every (x[j], y[j]) whose index is not yet in `log` and return the
    number of rows written. index: each row's index in its data set (its noise
    stream and log idx; default 0, 1, ...). log: a path (opened as a CertifyLog with
    run_settings() plus `settings`, the caller's own description of the run, e.g.
    data and subset; `environment` is recorded beside them, not compared) or an open
    CertifyLog whose settings must contain run_settings(). executor: None (this
    process) or e.g. scaleout.RayExecutor; groups of inputs_per_group inputs are
    handed out, results written in index order, a result for an index already
    written is dropped. progress(done, total, stats) is called after each group
    written; stats: samples_per_s, eta_s and inputs per worker. A path's log is
    closed at the end, and removed if the run failed before writing a row."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
    index = np.arange(x.shape[0], dtype=np.int64) if index is None else np.asarray(index)
    if index.shape != (x.shape[0],) or index.dtype.kind not in "iu" or (
            index.size and (index.min() < 0 or np.unique(index).size != index.size)):
        raise ValueError(f"index must hold {x.shape[0]} distinct integers >= 0, one per input")
    if not (isinstance(inputs_per_group, (int, np.integer)) and inputs_per_group >= 1):
        raise ValueError(f"inputs_per_group = {inputs_per_group!r} must be an integer >= 1")
    required = run_settings(smooth, n0, n, alpha, seed, separate_pb)
    task = dict(n0=n0, n=n, alpha=alpha, batch_size=batch_size, seed=seed, separate_pb=separate_pb)
    executor = LOCAL if executor is None else executor
    if isinstance(log, CertifyLog):
        _check_bound(log, required)
        return _certify_into(smooth, x, y, index, log, task, inputs_per_group, progress, executor)
    with CertifyLog(log, {**(settings or {}), **required}, environment) as opened:
        return _certify_into(smooth, x, y, index, opened, task, inputs_per_group, progress, executor)


def _check_bound(log, required):
    differ = sorted(k for k, v in required.items()
                    if log.settings.get(k) != json.loads(json.dumps(v)))
    if differ:
        raise ValueError(f"{log.path}: its settings do not record this run ({differ} missing "
                         "or different); open it with run_settings(...) in its settings")


def certify_group(smooth, x, y, index, task):
    """The log rows (idx, label, predict, radius, correct, seconds, sigma, pA) of one
    group of inputs, and how many of its samples voted for no class. A pure function
    of (model, inputs, indices, task): any worker computes the same rows."""
    began = time.perf_counter()
    result = smooth.certify(x, task["n0"], task["n"], task["alpha"], batch_size=task["batch_size"],
                            seed=task["seed"], index=index, separate_pb=task["separate_pb"])
    seconds = (time.perf_counter() - began) / len(index)
    rows = []
    for j, i in enumerate(index):
        predict = int(result["predict"][j])
        rows.append((int(i), int(y[j]), predict, float(result["radius"][j]), predict == int(y[j]),
                     seconds, float(result["sigma"][j]), float(result["pA"][j])))
    return rows, int(np.sum(result["nonfinite"]))


class LocalExecutor:
    """Groups certified one after the other in this process."""

    def run(self, smooth, groups, task):
        """Yield (group number, rows, lost samples, worker name) per group."""
        for number, (x, y, index) in enumerate(groups):
            rows, lost = certify_group(smooth, x, y, index, task)
            yield number, rows, lost, "local"


LOCAL = LocalExecutor()


def _certify_into(smooth, x, y, index, log, task, inputs_per_group, progress, executor):
    done = set(log.done)
    todo = np.array([j for j in range(x.shape[0]) if int(index[j]) not in done], dtype=np.int64)
    positions = [todo[s:s + inputs_per_group] for s in range(0, todo.size, inputs_per_group)]
    groups = [(x[p], y[p], index[p]) for p in positions]
    began, written, waiting, following = time.perf_counter(), 0, {}, 0
    per_worker = {}
    for number, rows, lost, worker in executor.run(smooth, groups, task):
        waiting[number] = (rows, lost)
        per_worker[worker] = per_worker.get(worker, 0) + len(rows)
        while following in waiting:                 # rows go out in index order
            rows, lost = waiting.pop(following)
            following += 1
            if lost:
                warnings.warn(f"{lost} samples of inputs {rows[0][0]}..{rows[-1][0]} got NaN or "
                              "inf scores and voted for no class", RuntimeWarning, stacklevel=3)
            for row in rows:
                if row[0] not in done:              # a re-run's duplicate is dropped
                    log.write(*row)
                    done.add(row[0])
                    written += 1
            if progress is not None:
                elapsed = time.perf_counter() - began
                rate = written / elapsed if elapsed > 0 else 0.0
                remaining = todo.size - written
                progress(x.shape[0] - remaining, x.shape[0], dict(
                    samples_per_s=rate * (task["n0"] + task["n"]),
                    eta_s=remaining / rate if rate > 0 else float("inf"),
                    workers=dict(per_worker)))
    return written


def recertify_log(path, out, sigma, rate, dim, clamp=None, n=None, alpha=0.001):
    """Re-certify a constant-sigma log (Cohen et al.'s format, or ours) with IDRS at
    semi-elasticity `rate` in dimension `dim`, no model needed: pA from a `pA` column,
    else from a `count` column of n samples (Clopper-Pearson at alpha), else from
    the printed radius on the safe side (logs.pa_from_log). Writes `out` with the
    same idx, label, predict and correct, radius 0 where the row abstains; returns
    the number of rows."""
    from .logs import load_log, pa_from_log, rounding_floor
    from .radius import certified_radius, cohen_radius
    from .smoothing import clopper_pearson_lower
    log, table = load_log(path), read_log(path)
    if "pA" in table:                   # printed digits: the lower end of their interval
        p_a, source = np.array([rounding_floor(v) for v in table["pA"]]), "pA column (rounded down)"
    elif "count" in table:
        if n is None:
            raise ValueError(f"{path} has a count column: give the number of samples n")
        p_a = clopper_pearson_lower(np.array([int(v) for v in table["count"]]), n, alpha)
        source = f"count column, n = {n}, alpha = {alpha}"
    else:
        p_a, source = pa_from_log(log, sigma), "radius (safe side)"
    abstain = (log["predict"] < 0) | (p_a <= 0.5)
    p_a = np.where(abstain, 0.5, p_a)
    radius = (cohen_radius(p_a, sigma) if rate == 0 else
              certified_radius(p_a, sigma, rate, dim, clamp=clamp))
    radius = np.where(abstain, 0.0, radius)
    settings = dict(recertified=pathlib.Path(path).name, source_sha256=file_sha256(path),
                    sigma=sigma, rate=rate, dim=dim, clamp=clamp, pA_from=source)
    with CertifyLog(out, settings) as written:
        if written.done:
            raise ValueError(f"{out} already holds rows: write to a new file")
        for j, idx in enumerate(log["idx"]):
            written.write(int(idx), int(log["label"][j]), int(log["predict"][j]), float(radius[j]),
                          bool(log["correct"][j]), 0.0, sigma, float(p_a[j]))
    return int(log["idx"].size)


def subset(count, skip=1, max_inputs=0, shard=None):
    """The indices certified, as Cohen et al. report them (every `skip`-th input below
    `max_inputs`, 0: all), then shard i of K: every K-th of those from the i-th (a
    split with no padding and no duplicates). shard: (i, K) or None."""
    if skip < 1 or max_inputs < 0:
        raise ValueError(f"skip = {skip} must be >= 1 and max = {max_inputs} >= 0")
    stop = count if max_inputs == 0 else min(count, max_inputs)
    indices = np.arange(0, stop, skip, dtype=np.int64)
    if shard is not None:
        i, k = shard
        indices = indices[i::k]
    return indices


def parse_shard(text):
    """'i/K' with 0 <= i < K as (i, K); ValueError otherwise."""
    try:
        i, k = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"shard {text!r} must be i/K (integers, e.g. 0/4)") from None
    if not (k >= 1 and 0 <= i < k):
        raise ValueError(f"shard {text!r}: need 0 <= i < K (shards 0/{max(k, 1)} .. "
                         f"{max(k, 1) - 1}/{max(k, 1)})")
    return i, k


def merge_logs(paths, out):
    """Merge the logs of the shards of one run into `out`, in index order, and return
    the number of rows. Refused (ValueError, nothing written): settings that differ
    other than in `shard`, an index in two logs, an index of the run's subset in
    none, a log with no subset recorded."""
    first = None
    rows = {}
    for path in paths:
        settings, environment = read_settings(path)
        common = {k: v for k, v in settings.items() if k != "shard"}
        if first is None:
            first, first_environment, first_path = common, environment, path
        elif common != first:
            changed = sorted(k for k in set(common) | set(first) if common.get(k) != first.get(k))
            raise ValueError(f"{path} is not a shard of the run of {first_path} (settings differ: "
                             f"{changed})")
        table = read_log(path)
        for j, idx in enumerate(table["idx"]):
            if idx in rows:
                raise ValueError(f"{path}:{table['_line'][j]}: index {idx} is also in {rows[idx][0]}")
            rows[idx] = (path, [table[c][j] for c in COLUMNS])
    if "subset" not in first:
        raise ValueError(f"{first_path} records no subset: not a log of `idrs-fast certify`")
    part = first["subset"]
    expected = {str(i) for i in subset(part["of"], part["skip"], part["max"])}
    missing = sorted(expected - set(rows), key=int)
    extra = sorted(set(rows) - expected, key=int)
    if missing or extra:
        raise ValueError(f"the logs do not cover the run's {len(expected)} inputs exactly: "
                         f"{len(missing)} missing (first {missing[:5]}), {len(extra)} outside "
                         f"the subset (first {extra[:5]})")
    out = pathlib.Path(out)
    if out.exists():
        raise ValueError(f"{out} exists: merge into a new file")
    with CertifyLog(out, {**first, "shard": None}, first_environment) as merged:
        for idx in sorted(rows, key=int):
            merged.write_fields(rows[idx][1])
    return len(rows)
