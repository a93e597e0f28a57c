"""PTX gate: every launcher of the kernel table and every Monte-Carlo kernel is
compiled to PTX for sm_90 on this (GPU-less) machine by tests/ptx_gate.py, so a
kernel that does not type or lower for CUDA fails here (the table's launchers at NVVM
-O0, a quarter of -O3's compile time; `python tests/ptx_gate.py --optimize NAME` gives
the -O3 size and time). The noise kernel's PTX must
hold no float32 FMA, no contractible float32 multiply and no approximate float32
operation (kernels/noise.py: the GPU draws the CPU's bits). Needs numba-cuda with NVVM and NVRTC (.ci/run installs them);
skipped without, unless IDRS_FAST_REQUIRE_PTX=1 (set in CI: there it must run)."""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

from idrs_fast._launch import KERNELS

GATE = pathlib.Path(__file__).with_name("ptx_gate.py")
MONTE_CARLO = ["noisy_rows", "tally_votes_f4", "tally_votes_f8"]


def _toolchain():
    return all(importlib.util.find_spec(name) for name in ("numba_cuda", "nvidia.cuda_nvcc",
                                                           "nvidia.cuda_nvrtc"))


@pytest.fixture(scope="module")
def compiled():
    if not _toolchain():
        if os.environ.get("IDRS_FAST_REQUIRE_PTX") == "1":
            pytest.fail("IDRS_FAST_REQUIRE_PTX=1 but numba-cuda, NVVM or NVRTC is missing")
        pytest.skip("numba-cuda with NVVM and NVRTC not installed")
    names = list(KERNELS) + MONTE_CARLO
    halves = [names[0::2], names[1::2]]             # two processes: CI has two cores
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    runs = [subprocess.Popen([sys.executable, str(GATE), *half], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env) for half in halves]
    results = {}
    for run in runs:
        out, err = run.communicate(timeout=900)
        assert run.returncode == 0, err[-3000:]
        for line in out.splitlines():
            row = json.loads(line)
            results[row["name"]] = row
    return results


def test_every_kernel_compiles_to_ptx_for_sm90(compiled):
    assert set(compiled) == set(KERNELS) | set(MONTE_CARLO)
    for row in compiled.values():
        assert row["bytes"] > 1000, row


def test_the_noise_kernel_rounds_every_float32_operation_as_ieee(compiled):
    """No FMA, no multiply that ptxas could still fuse (only mul.rn), no approximate
    or flush-to-zero division and square root: each operation rounds as on the CPU."""
    assert compiled["noisy_rows"]["fma32"] == 0
    assert compiled["noisy_rows"]["contractible_mul32"] == 0
    assert compiled["noisy_rows"]["inexact32"] == 0
