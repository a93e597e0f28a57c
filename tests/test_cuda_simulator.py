"""The ncx2 kernels, the saddlepoint range included, as numba.cuda device functions
under NUMBA_ENABLE_CUDASIM=1 (the simulator runs them as plain Python, where a
domain error raises instead of giving NaN, so it also catches a kernel that leans on
NaN silently), against the CPU build at extreme arguments. Run in a subprocess: the
simulator must be chosen before numba is imported."""
import json
import os
import subprocess
import sys

import numpy as np

from idrs_fast import ncx2

X = [3e18, 1e20, 5.0, 1e13 - 4.5e7, 1e-100, 1.7e308, 40.0]
DF = [2.0, 3.0, 2.0, 1e13, 1e50, 3.0, 30.0]
NC = [1.0, 1.0, 1e200, 0.0, 1.0, 1e300, 5.0]

SCRIPT = """
import json, math, sys
import numpy as np
from numba import cuda
from idrs_fast.kernels.ncx2 import ncx2_log_pdf, ncx2_log_tail, ncx2_quantile

@cuda.jit
def run(x, df, nc, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i, 0] = ncx2_log_tail(x[i], df[i], nc[i], False)
        out[i, 1] = ncx2_log_tail(x[i], df[i], nc[i], True)
        out[i, 2] = ncx2_log_pdf(x[i], df[i], nc[i])
        out[i, 3] = ncx2_quantile(math.log(0.3), df[i], nc[i], False)

x, df, nc = (np.array(v) for v in json.loads(sys.argv[1]))
out = np.empty((x.size, 4))
run[1, 8](x, df, nc, out)
print(json.dumps(out.tolist()))
"""


def test_ncx2_kernels_run_as_cuda_device_functions_in_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    run = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([X, DF, NC])], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    device = np.array(json.loads(run.stdout.strip().splitlines()[-1]))
    x, df, nc = (np.array(v) for v in (X, DF, NC))
    cpu = np.stack([ncx2.logcdf(x, df, nc), ncx2.logsf(x, df, nc), ncx2.logpdf(x, df, nc),
                    ncx2.ppf(0.3, df, nc)], 1)
    np.testing.assert_allclose(device, cpu, rtol=1e-12, atol=1e-300)
