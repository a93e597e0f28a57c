"""Certify a whole data set into a resumable log (idrs_fast.logs): inputs are
processed in groups (many per forward pass), rows are written in index order, and
indices already in the log are skipped, so a killed run continues where it stopped."""
import time

import numpy as np


def certify_dataset(smooth, x, y, log, n0, n, alpha, batch_size=10_000, seed=0,
                    inputs_per_group=64, progress=None):
    """Certify every (x[i], y[i]) not yet in `log` (a CertifyLog); returns the number
    of rows written. progress(done, total) is called after each group."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
    done = set(log.done)
    todo = np.array([i for i in range(x.shape[0]) if i not in done], dtype=np.int64)
    written = 0
    for start in range(0, todo.size, inputs_per_group):
        group = todo[start:start + inputs_per_group]
        began = time.perf_counter()
        result = smooth.certify(x[group], n0, n, alpha, batch_size=batch_size, seed=seed,
                                index=group)
        seconds = (time.perf_counter() - began) / group.size
        for j, i in enumerate(group):
            predict = int(result["predict"][j])
            log.write(int(i), int(y[i]), predict, float(result["radius"][j]), predict == int(y[i]),
                      seconds, float(result["sigma"][j]), float(result["pA"][j]))
            written += 1
        if progress is not None:
            progress(len(done) + start + group.size, x.shape[0])
    return written
