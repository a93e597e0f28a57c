"""Certify a whole data set into a resumable log (idrs_fast.logs): inputs are
processed in groups (many per forward pass), rows are written in index order, and
indices already in the log are skipped, so a killed run continues where it stopped.
The log is bound to its run: the model's fingerprint, sigma's semi-elasticity and
the Monte-Carlo settings are part of its settings line, so resuming it with another
model or other settings is refused."""
import json
import time
import warnings

import numpy as np

from .logs import CertifyLog, model_fingerprint


def run_settings(smooth, n0, n, alpha, seed, separate_pb=False):
    """The settings every result of certify_dataset depends on."""
    return dict(model=model_fingerprint(smooth.base_classifier), sigma=_sigma_identity(smooth.sigma),
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
                    inputs_per_group=64, progress=None, settings=None, separate_pb=False):
    """Certify every (x[i], y[i]) not yet in `log` and return the number of rows
    written. log: a path (opened as a CertifyLog with run_settings() plus `settings`,
    the caller's own description of the run, e.g. data and sigma) or an open
    CertifyLog whose settings must contain run_settings(). progress(done, total) is
    called after each group. A path's log is closed at the end, and removed if the
    run failed before writing a row."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
    if not (isinstance(inputs_per_group, (int, np.integer)) and inputs_per_group >= 1):
        raise ValueError(f"inputs_per_group = {inputs_per_group!r} must be an integer >= 1")
    required = run_settings(smooth, n0, n, alpha, seed, separate_pb)
    if isinstance(log, CertifyLog):
        _check_bound(log, required)
        return _certify_into(smooth, x, y, log, n0, n, alpha, batch_size, seed, inputs_per_group,
                             progress, separate_pb)
    with CertifyLog(log, {**(settings or {}), **required}) as opened:
        return _certify_into(smooth, x, y, opened, n0, n, alpha, batch_size, seed,
                             inputs_per_group, progress, separate_pb)


def _check_bound(log, required):
    differ = sorted(k for k, v in required.items()
                    if log.settings.get(k) != json.loads(json.dumps(v)))
    if differ:
        raise ValueError(f"{log.path}: its settings do not record this run ({differ} missing "
                         "or different); open it with run_settings(...) in its settings")


def _certify_into(smooth, x, y, log, n0, n, alpha, batch_size, seed, inputs_per_group,
                  progress, separate_pb):
    done = set(log.done)
    todo = np.array([i for i in range(x.shape[0]) if i not in done], dtype=np.int64)
    written = 0
    for start in range(0, todo.size, inputs_per_group):
        group = todo[start:start + inputs_per_group]
        began = time.perf_counter()
        result = smooth.certify(x[group], n0, n, alpha, batch_size=batch_size, seed=seed,
                                index=group, separate_pb=separate_pb)
        seconds = (time.perf_counter() - began) / group.size
        lost = int(np.sum(result["nonfinite"]))
        if lost:
            warnings.warn(f"{lost} samples of inputs {group[0]}..{group[-1]} got NaN or inf "
                          "scores and voted for no class", RuntimeWarning, stacklevel=2)
        for j, i in enumerate(group):
            predict = int(result["predict"][j])
            log.write(int(i), int(y[i]), predict, float(result["radius"][j]), predict == int(y[i]),
                      seconds, float(result["sigma"][j]), float(result["pA"][j]))
            written += 1
        if progress is not None:
            progress(len(done) + start + group.size, x.shape[0])
    return written
