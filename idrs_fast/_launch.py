"""The one table of launched kernels, and the one template their launchers come from.

Every entry names a scalar kernel of kernels/, its element-wise array arguments (flat,
one element per thread), its scalar arguments (the same for every element) and its
outputs. `launcher_source` writes the loop that applies the kernel to every element,
for the CPU (a ``prange`` loop, _backend.py) or for CUDA (a grid-stride loop,
_cuda.py): the two targets share this table, this template and the kernels' source.
"""
from typing import NamedTuple

from .kernels import ball, ncx2, radius, xi


class Kernel(NamedTuple):
    function: object
    arrays: tuple                      # element-wise inputs
    scalars: tuple = ()                # inputs shared by all elements
    outputs: tuple = (("out", "float64"),)   # (name, dtype); name None: discarded
    constants: tuple = ()              # literal arguments appended to the call
    balance: tuple = ()                # on a GPU, sort the elements by these first


# what a radius search's cost depends on, primary key last (np.lexsort): sorted so, the
# 32 threads of a warp run similar searches (benchmarks/bench_gpu.py's model from CPU
# costs on Cohen's CIFAR-10 logs: 75% of a warp's time is useful in log order, 89%
# sorted, 98% at best; by pA alone 80%)
RADIUS_COST = ("log_qa", "s0", "rate", "dim")

KERNELS = {
    "ncx2_log_tail": Kernel(ncx2.ncx2_log_tail, ("x", "df", "nc"), ("upper",)),
    "ncx2_log_pdf": Kernel(ncx2.ncx2_log_pdf, ("x", "df", "nc")),
    "ncx2_quantile": Kernel(ncx2.ncx2_quantile, ("log_p", "df", "nc", "upper")),
    "needs_scipy": Kernel(ncx2.needs_scipy, ("x", "df", "nc"), outputs=(("out", "bool"),)),
    "ball_log_mass": Kernel(ball.ball_log_mass, ("d", "margin", "dim"), ("upper",),
                            (("out", "float64"), ("evaluations", "int64"))),
    "ball_margin_quantile": Kernel(ncx2.ball_margin_quantile, ("d", "log_p", "dim"), ("upper",)),
    "log_xi": Kernel(xi.log_xi, ("a", "s0", "s1", "gap", "dim", "log_p"),
                     outputs=(("out", "float64"), (None, None)), constants=("nan",)),
    "cohen_radius": Kernel(radius.cohen_radius, ("log_qa", "log_pb", "sigma")),
    "certified_radius": Kernel(radius.certified_radius,
                               ("log_qa", "log_pb", "s0", "rate", "sigma_t", "dim"), ("rel_tol",),
                               balance=RADIUS_COST),
    "certified_radius_grid": Kernel(radius.certified_radius_grid,
                                    ("log_qa", "log_pb", "s0", "rate", "sigma_t", "dim"), ("step",),
                                    balance=RADIUS_COST),
}

SCALAR_TYPES = {"upper": bool, "rel_tol": float, "step": float}

LOOPS = {
    "cpu": "for i in prange({first}.size):",
    "cuda": "for i in range(cuda.grid(1), {first}.size, cuda.gridsize(1)):",
}


def launcher_source(name, target):
    """Python source of the launcher `name`_`target`(arrays..., scalars..., outputs...):
    outputs[i] = kernel(arrays[i]..., scalars...) for every element i."""
    spec = KERNELS[name]
    outputs = tuple(out for out, _ in spec.outputs if out)
    call = [f"{a}[i]" for a in spec.arrays] + list(spec.scalars) + list(spec.constants)
    targets = ", ".join(f"{out}[i]" if out else "_" for out, _ in spec.outputs)
    return (f"def {name}_{target}({', '.join(spec.arrays + spec.scalars + outputs)}):\n"
            f"    {LOOPS[target].format(first=spec.arrays[0])}\n"
            f"        {targets} = kernel({', '.join(call)})\n")


def define_launcher(name, target, namespace):
    """The launcher's plain Python function, compiled from launcher_source with this
    file as its file name (Numba's cache needs one on disk) and `namespace` (prange or
    cuda) as its globals."""
    scope = dict(namespace, kernel=KERNELS[name].function, nan=float("nan"), __name__=__name__)
    exec(compile(launcher_source(name, target), __file__, "exec"), scope)
    return scope[f"{name}_{target}"]


def output_specs(name):
    """(name, dtype) of the outputs a launcher writes."""
    return tuple((out, dtype) for out, dtype in KERNELS[name].outputs if out)


def scalar_values(name, scalars):
    """The scalar arguments of kernel `name`, given by keyword, in the table's order and
    types (one compiled launcher per type signature)."""
    spec = KERNELS[name]
    if set(scalars) != set(spec.scalars):
        raise TypeError(f"{name} takes the scalars {spec.scalars}, got {tuple(scalars)}")
    return [SCALAR_TYPES[key](scalars[key]) for key in spec.scalars]


def balance_keys(name, arrays):
    """The arrays kernel `name`'s elements are sorted by before a GPU launch (np.lexsort
    order: primary key last); empty when the kernel's cost does not vary much."""
    spec = KERNELS[name]
    return [arrays[spec.arrays.index(key)] for key in spec.balance]
