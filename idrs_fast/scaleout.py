"""Certification on a pool of Ray actors (the optional extra ``idrs_fast[ray]``).

Each actor builds its model once, from a factory (a picklable callable such as
sources.ModelSource, not a pickled live model), checks that it is the model the
driver fingerprinted, and holds one GPU or some CPUs. Groups of inputs are handed
out a few at a time per actor, so faster or pre-empted workers balance; the driver
(pipeline.certify_dataset) receives the results and writes the one log in index
order. Ray restarts a dead actor and re-runs its groups (max_restarts and
max_task_retries unbounded); since a group's rows are a function of (model, inputs,
indices, settings), a re-run gives the same rows, and a row of an index already
written is dropped.
"""
import collections
import os
import pathlib

import numpy as np

from .sources import model_fingerprint
from .pipeline import certify_group

IN_FLIGHT = 2                 # groups queued per actor


def _ray():
    try:
        import ray
    except ImportError:
        raise ValueError('Ray is not installed: pip install "idrs_fast[ray]"') from None
    return ray


def connect(address):
    """ray.init for `address`: 'local' starts a Ray instance on this machine, 'auto'
    or HOST:PORT joins a running cluster. Usage statistics stay off."""
    ray = _ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return ray
    options = dict(include_dashboard=False, log_to_driver=False)
    if address == "local":
        ray.init(**options)
    else:
        ray.init(address=address, **options)
    return ray


class _Worker:
    """One actor: builds the Smooth once and certifies groups with it."""

    def __init__(self, factory, num_classes, sigma, rate, fingerprint, threads, kill_marker):
        import numba
        import torch

        from .smoothing import Smooth
        if threads:
            torch.set_num_threads(threads)
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        model = factory()
        own = model_fingerprint(model)
        if own != fingerprint:
            raise ValueError(f"the model built on worker {os.getpid()} (fingerprint {own}) is "
                             f"not the driver's ({fingerprint}): the factory is not deterministic")
        if torch.cuda.is_available():
            model = model.cuda()
        self.smooth = Smooth(model, num_classes, sigma, rate=rate)
        self.kill_marker = kill_marker

    def name(self):
        import socket
        return f"{socket.gethostname()}:{os.getpid()}"

    def certify(self, x, y, index, task):
        if self.kill_marker and not pathlib.Path(self.kill_marker).exists():
            # test-only: end this process in the middle of a group, once
            certify_group(self.smooth, x[:1], y[:1], index[:1], task)
            pathlib.Path(self.kill_marker).write_text(str(os.getpid()))
            os._exit(1)
        return certify_group(self.smooth, x, y, index, task), self.name()


class RayExecutor:
    """Hand groups to `workers` Ray actors. factory(): the base classifier (the same
    weights as the driver's Smooth, checked by fingerprint). gpus_per_worker: 1 to
    give each actor a GPU; cpus_per_worker may be a fraction (tests on 2 CPUs);
    threads: torch / numba threads per actor (default: cpus_per_worker rounded,
    at least 1). address: see connect. The actors outlive a run (close() or `with`
    ends them). _kill_marker: test-only, the first actor to start a group ends its
    process there once, writing its pid to that file."""

    def __init__(self, factory, workers=2, address="local", cpus_per_worker=1.0,
                 gpus_per_worker=0.0, threads=None, _kill_marker=None):
        if not (isinstance(workers, (int, np.integer)) and workers >= 1):
            raise ValueError(f"workers = {workers!r} must be an integer >= 1")
        if not callable(factory):
            raise ValueError("factory must be a callable that builds the model")
        self.factory, self.workers, self.address = factory, int(workers), address
        self.cpus, self.gpus = float(cpus_per_worker), float(gpus_per_worker)
        self.threads = max(1, round(self.cpus)) if threads is None else int(threads)
        self.kill_marker = None if _kill_marker is None else str(_kill_marker)
        self._pool, self._actors = None, []

    def _start(self, smooth):
        """The actors for this Smooth: kept between runs (a worker starts in seconds:
        torch, the compiled kernels, the model), started again for another one."""
        ray = connect(self.address)
        fingerprint = model_fingerprint(smooth.base_classifier)
        key = (fingerprint, smooth.num_classes, repr(smooth.sigma), smooth.rate)
        if self._pool != key:
            self.close()
            remote = ray.remote(max_restarts=-1, max_task_retries=-1)(_Worker)
            self._actors = [remote.options(num_cpus=self.cpus, num_gpus=self.gpus).remote(
                self.factory, smooth.num_classes, smooth.sigma, smooth.rate, fingerprint,
                self.threads, self.kill_marker) for _ in range(self.workers)]
            self._pool = key
        return ray, self._actors

    def close(self):
        """End the actors (also done when a run fails)."""
        if self._actors:
            import ray
            for actor in self._actors:
                ray.kill(actor, no_restart=True)
        self._pool, self._actors = None, []

    def __enter__(self):
        return self

    def __exit__(self, *error):
        self.close()

    def run(self, smooth, groups, task):
        """Yield (group number, rows, lost samples, worker name) as groups finish."""
        ray, actors = self._start(smooth)
        queue = collections.deque(enumerate(groups))
        running = {}

        def submit(actor):
            if queue:
                number, (x, y, index) = queue.popleft()
                running[actor.certify.remote(x, y, index, task)] = (number, actor)
        finished = False
        try:
            for actor in actors:
                for _ in range(IN_FLIGHT):
                    submit(actor)
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                number, actor = running.pop(ready[0])
                try:
                    (rows, lost), worker = ray.get(ready[0])
                except ray.exceptions.RayError as error:
                    raise ValueError(f"a Ray worker failed: {_cause(error)}") from None
                submit(actor)
                yield number, rows, lost, worker
            finished = True
        finally:                        # an error or an early stop: no task left behind
            if not finished:
                self.close()


def _cause(error):
    """The first line of the error a worker raised (Ray wraps it)."""
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return next((line for line in reversed(text) if "Error" in line), text[-1] if text else repr(cause))
