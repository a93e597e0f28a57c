"""idrs_fast: input-dependent randomized smoothing certificates, fast and exact.

Súkeník, Kuvshinov & Günnemann, "Intriguing Properties of Input-Dependent
Randomized Smoothing", ICML 2022.
"""
import hashlib
import os
import pathlib
import sys


def _kernel_digest():
    """Hash of the kernel sources: Numba's cache only watches the file of the jitted
    function itself, not the kernels it inlines, so the cache folder carries this."""
    here = pathlib.Path(__file__).resolve().parent
    kernels = here / "kernels"
    if not kernels.is_dir():            # editable install: kernels/ beside idrs_fast/
        kernels = here.parent / "kernels"
    digest = hashlib.sha256()
    for path in sorted(kernels.glob("*.py")) + [here / "_backend.py", here / "_launch.py"]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# Run from a source checkout (kernels/ beside idrs_fast/ rather than installed inside
# it): let `idrs_fast.kernels` resolve to that folder.
_HERE = pathlib.Path(__file__).resolve().parent
if not (_HERE / "kernels").is_dir() and (_HERE.parent / "kernels" / "_jit.py").is_file():
    __path__.append(str(_HERE.parent))

# Numba's on-disk cache: a user-writable place unless the user chose one
# (site-packages may be read-only; numba#4908).
_CACHE_DIR = os.environ.setdefault(
    "NUMBA_CACHE_DIR",
    os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                 "idrs_fast", "numba-" + _kernel_digest()),
)
if "numba" in sys.modules:
    # numba read its configuration when it was imported, before the line above: without
    # this it would cache beside _backend.py, keyed to that file alone, and load stale
    # code after a kernel changed
    from numba.core import config as _numba_config
    if not _numba_config.CACHE_DIR:
        _numba_config.CACHE_DIR = _CACHE_DIR

from . import ncx2, theory  # noqa: E402
from .radius import (CLAMP_PRESETS, certified_radius, cohen_radius,  # noqa: E402
                     xi_greater, xi_smaller)

__version__ = "0.1.0"
__all__ = ["ncx2", "theory", "xi_greater", "xi_smaller", "certified_radius",
           "cohen_radius", "CLAMP_PRESETS", "__version__"]
