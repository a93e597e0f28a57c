"""The `idrs-fast` command line: demo, train, certify, merge, radius, audit, analyze,
thresholds.

    idrs-fast demo                 # train, certify and compare on toy data and digits
    idrs-fast <command> --help
"""
import argparse
import math
import os
import pathlib
import sys
import time

import numpy as np

from .sources import DATASETS, built_in_data, load_train_file, train_file_model



def _describe(stats):
    """samples/s, ETA and inputs per worker, for a progress line."""
    if not stats:
        return ""
    eta = stats["eta_s"]
    text = f"{stats['samples_per_s']:,.0f} samples/s, ETA {eta:.0f} s" if math.isfinite(eta) else ""
    workers = stats.get("workers", {})
    if len(workers) > 1:
        text += " | " + " ".join(f"{name}: {count}" for name, count in sorted(workers.items()))
    return text


def _progress(label):
    """A progress bar on stderr (tqdm when installed, else a counting line): inputs
    done, samples per second, ETA and, on Ray, inputs per worker."""
    try:
        from tqdm import tqdm
    except ImportError:
        def update(done, total, stats=None):
            print(f"\r{label}: {done}/{total} {_describe(stats)}", end="\n" if done >= total else "",
                  file=sys.stderr)
        return update
    bar = {}

    def update(done, total, stats=None):
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit="input", leave=False)
        bar["bar"].set_postfix_str(_describe(stats), refresh=False)
        bar["bar"].update(done - bar["bar"].n)
        if done >= total:
            bar["bar"].close()
    return update


def _sigma(args, x_train):
    from .sigma import KnnSigma
    if args.rate > 0:
        if x_train is None:
            raise ValueError("--rate > 0 (IDRS sigma(x)) needs training inputs: give --train-data "
                             "or a built-in --data")
        return KnnSigma(x_train, args.sigma, args.rate, k=args.k, m=args.m, cap=args.cap)
    return args.sigma


def cmd_train(args):
    import torch
    from .training import train
    data = built_in_data(args.data, args.seed)
    model = train_file_model(data, args.seed, args.width, args.depth)
    train(model, data[0], data[1], _sigma(args, data[0]), epochs=args.epochs, seed=args.seed,
          lr=args.lr)
    torch.save(dict(state=model.state_dict(), data=args.data, seed=args.seed, width=args.width,
                    depth=args.depth), args.out)
    print(f"wrote {args.out}")


def environment(model=None):
    """Versions of the packages around idrs_fast (its own is a compared setting,
    pipeline.run_settings) and the device, recorded in a log beside its settings."""
    import numba
    import torch

    device = "cpu"
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    return dict(torch=torch.__version__, numpy=np.__version__,
                numba=numba.__version__, python=sys.version.split()[0], device=device)


def certify_run(model, data, args, log_path, label, source=None, data_provenance=None,
                index=None, executor=None, extra=None):
    """Certify data[2:] (x_test, y_test) with `model` into `log_path`: the settings
    line records the model's and the data's provenance, the subset and sigma."""
    from .pipeline import certify_dataset
    from .smoothing import Smooth
    x_train, y_train, x_test, y_test = data
    if getattr(args, "max_inputs", 0):
        x_test, y_test = x_test[:args.max_inputs], y_test[:args.max_inputs]
    settings = dict(data_provenance or dict(data=args.data), sigma_b=args.sigma, k=args.k,
                    m=args.m, cap=args.cap, inputs=int(len(x_test)),
                    **(source.provenance if source else {}), **(extra or {}))
    num_classes = (int(np.max(y_train)) + 1 if y_train is not None
                   else _output_classes(model, x_test))
    if int(np.max(y_test)) >= num_classes or int(np.min(y_test)) < 0:
        raise ValueError(f"labels run from {int(np.min(y_test))} to {int(np.max(y_test))} but the "
                         f"model scores {num_classes} classes")
    smooth = Smooth(model, num_classes, _sigma(args, x_train), rate=args.rate)
    if index is not None:
        x_test, y_test = x_test[index], y_test[index]
    certify_dataset(smooth, x_test, y_test, log_path, args.n0, args.n, args.alpha,
                    batch_size=args.batch, seed=args.seed, inputs_per_group=args.group,
                    progress=_progress(label), settings=settings, index=index,
                    executor=executor, environment=environment())
    return log_path


def _output_classes(model, x):
    """The number of classes the model scores (one forward pass on one input)."""
    import torch
    try:
        with torch.no_grad():
            scores = model(torch.as_tensor(x[:1], dtype=torch.float32))
    except Exception as error:
        first = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise ValueError(f"the model does not take these inputs (shape {tuple(x.shape[1:])}): "
                         f"{first[:120]}") from None
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(f"the model returned shape {tuple(scores.shape)} for one input: "
                         "expected (1, classes) scores with classes >= 2")
    return int(scores.shape[1])


def _executor(args, source):
    if args.ray_address is None:
        return None
    from .scaleout import RayExecutor
    return RayExecutor(source, workers=args.workers, address=args.ray_address,
                       cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker)


def cmd_certify(args):
    from .pipeline import parse_shard, subset
    from .sources import ModelSource, load_data
    _check_output(args.log)
    normalize = _normalize(args.normalize)
    source = ModelSource(args.model, normalize, args.noise_space)
    model = source()
    data_spec = args.data
    if data_spec is None:
        if source.kind != "file" or not _is_train_file(args.model):
            raise ValueError("--data is required unless --model is a file of `idrs-fast train`")
        data_spec = load_train_file(args.model)[2]["data"]
    x_train, y_train, x_test, y_test, provenance = load_data(data_spec, args.data_seed, normalize,
                                                             args.noise_space)
    if args.train_data is not None:
        train = load_data(args.train_data, args.data_seed, normalize, args.noise_space)
        # a built-in name brings its own training split; a file or factory is all training data
        x_train, y_train = train[:2] if train[0] is not None else train[2:4]
    args.data = data_spec
    shard = parse_shard(args.shard) if args.shard else None
    index = subset(len(x_test), args.skip, args.max, shard)
    extra = dict(subset=dict(skip=args.skip, max=args.max, of=int(len(x_test))),
                 shard=args.shard, sigma_source="train" if x_train is not None else None)
    executor = _executor(args, source)
    try:
        certify_run(model, (x_train, y_train, x_test, y_test), args, args.log, "certify", source,
                    provenance, index, executor, extra)
    finally:
        if executor is not None:
            executor.close()
    print(f"wrote {args.log}")


def _is_train_file(path):
    try:
        load_train_file(path)
        return True
    except ValueError:
        return False


def _normalize(text):
    """'m1,m2,m3:s1,s2,s3' as ((m...), (s...)), or None."""
    if text is None:
        return None
    try:
        mean, std = text.split(":")
        return tuple(float(v) for v in mean.split(",")), tuple(float(v) for v in std.split(","))
    except ValueError:
        raise ValueError(f"--normalize {text!r} must be MEAN,...:STD,... (one per channel)") from None


def cmd_audit(args):
    from .audit import audit, load_certificates, report, write_json
    if args.json:
        _check_output(args.json)
    x, sigma, predict, radius_low, p_a, claimed = load_certificates(args.log, args.inputs)
    result = audit(x, sigma, predict, radius_low, p_a, dim=args.dim, claimed_rate=claimed)
    print(report(result))
    if args.json:
        write_json(result, args.json)
        print(f"wrote {args.json}")


def cmd_stability(args):
    from .stability import run
    cells = run(args.out, quick=args.quick, references=args.references, dims=args.dims,
                max_nc=args.max_nc)
    broken = sum(1 for c in cells if c["idrs_fast"]["wrong"] or c["idrs_fast"]["not_finite"])
    print(f"wrote {args.out}/stability.md ({len(cells)} (N, lambda) cells; idrs_fast broken in "
          f"{broken}, scipy in {sum(1 for c in cells if c['scipy']['wrong'] or c['scipy']['not_finite'])})")


def cmd_reproduce(args):
    from .reproduce import run
    checks = run(args.out, quick=args.quick)
    print(f"wrote {args.out}/REPRODUCTION.md ({len(checks)} checks)")


def cmd_merge(args):
    from .pipeline import merge_logs
    _check_output(args.out)
    count = merge_logs(args.logs, args.out)
    print(f"wrote {args.out} ({count} rows from {len(args.logs)} logs)")


def cmd_radius(args):
    from . import certified_radius
    if (args.pA is None) == (args.log is None):
        raise ValueError("give either --pA values or --log FILE (with --out)")
    if args.log is not None:
        from .pipeline import recertify_log
        if args.out is None:
            raise ValueError("--log needs --out FILE for the re-certified log")
        _check_output(args.out)
        count = recertify_log(args.log, args.out, args.sigma0, args.rate, args.dim,
                              clamp=args.clamp, n=args.n, alpha=args.alpha)
        print(f"wrote {args.out} ({count} rows)")
        return
    radius = certified_radius(np.asarray(args.pA), args.sigma0, args.rate, args.dim, clamp=args.clamp)
    for p, r in zip(args.pA, np.atleast_1d(radius)):
        print(f"pA = {p:.10g}\tradius = {r:.10g}")


def _check_output(path):
    """Fail before the work if `path` cannot be written."""
    folder = pathlib.Path(path).resolve().parent
    if not folder.is_dir():
        raise ValueError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{path}: the folder {folder} is not writable")


def cmd_analyze(args):
    from .analyze import plot_curves, run_labels, table
    from .logs import load_log
    if args.plot:
        _check_output(args.plot)
    logs = {label: load_log(path) for label, path in run_labels(args.logs, args.label).items()}
    print(table(logs, args.radii, latex=args.latex))
    if args.plot:
        plot_curves(logs, args.plot)
        print(f"wrote {args.plot}")


def cmd_thresholds(args):
    from . import theory
    print("| N | " + " | ".join(f"pA = {p:g}" for p in args.pA) + " |")
    print("|---|" + "---|" * len(args.pA))
    for dim in args.dim:
        low = theory.sigma_ratio_threshold(args.pA, dim)
        high = theory.sigma_ratio_upper_threshold(args.pA, dim)
        cells = " | ".join(f"{a:.4f} .. {b:.4f}" for a, b in zip(np.atleast_1d(low), np.atleast_1d(high)))
        print(f"| {dim} | {cells} |")


def cmd_demo(args):
    """Train small models on the 2-D toy data and on digits, certify their test sets
    with a constant sigma (Cohen) and with IDRS, print tables, write PNG curves."""
    import torch
    from .analyze import plot_curves, table
    from .logs import load_log
    from .training import train
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    plans = [  # data, sigma_b, IDRS rate, radii, model width
        ("toy2d", 0.5, 0.2, [0.25, 0.5, 0.75, 1.0], 20),
        ("digits", 0.25, 0.02, [0.25, 0.5, 0.75, 1.0], 64),
    ]
    for name, sigma_b, rate, radii, width in plans:
        data = built_in_data(name, args.seed)
        model = train_file_model(data, args.seed, width, 3)
        print(f"[{name}] training ({data[0].shape[0]} examples, {data[0].shape[1]} dims, "
              f"sigma {sigma_b})", file=sys.stderr)
        train(model, data[0], data[1], sigma_b, epochs=args.epochs, seed=args.seed, lr=1e-2)
        logs = {}
        for label, run_rate in (("constant sigma (Cohen)", 0.0), (f"IDRS rate {rate:g}", rate)):
            run = argparse.Namespace(data=name, sigma=sigma_b, rate=run_rate, k=20, m="mean",
                                     cap=5.0, n0=args.n0, n=args.n, alpha=args.alpha,
                                     seed=args.seed, batch=args.batch, max_inputs=args.max_inputs,
                                     group=64)
            path = out / f"{name}_rate{run_rate:g}.tsv"
            certify_run(model, data, run, path, f"{name} {label}")
            logs[label] = load_log(path)
        print(f"\n### {name}: certified accuracy (n = {args.n}, alpha = {args.alpha})\n")
        print(table(logs, radii))
        plot_curves(logs, out / f"{name}_curves.png", title=name)
        print(f"\ncurves: {out / (name + '_curves.png')}")
    print(f"\ndone in {time.perf_counter() - began:.0f} s; logs and PNGs in {out}/", file=sys.stderr)


def _number(kind, test, requirement):
    """An argparse type: `kind` of the text, checked by `test`."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}")
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"{text} {requirement}")
        return value
    parse.__name__ = requirement
    return parse


POSITIVE_INT = _number(int, lambda v: v >= 1, "must be an integer >= 1")
COUNT = _number(int, lambda v: v >= 0, "must be an integer >= 0")
SEED = _number(int, lambda v: 0 <= v < 2 ** 32, "must be an integer in [0, 2^32)")
POSITIVE = _number(float, lambda v: v > 0, "must be finite and > 0")
RATE = _number(float, lambda v: v >= 0, "must be finite and >= 0")
ALPHA = _number(float, lambda v: 0 < v < 1, "must be in (0, 1)")


class _Parser(argparse.ArgumentParser):
    """argparse answering a mistake with one line (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_sigma(parser):
    parser.add_argument("--sigma", type=POSITIVE, default=0.25, help="sigma_b (constant sigma if --rate 0)")
    parser.add_argument("--rate", type=RATE, default=0.0, help="semi-elasticity r of sigma(x) (Eq. 1)")
    parser.add_argument("--k", type=POSITIVE_INT, default=20, help="nearest neighbours in sigma(x)")
    parser.add_argument("--m", default="mean", help="offset m of sigma(x): number, 'min' or 'mean'")
    parser.add_argument("--cap", type=POSITIVE, default=5.0, help="cap sigma(x) at cap * sigma_b")


def _add_mc(parser):
    parser.add_argument("--n0", type=POSITIVE_INT, default=100, help="selection samples")
    parser.add_argument("--n", type=POSITIVE_INT, default=10_000, help="estimation samples")
    parser.add_argument("--alpha", type=ALPHA, default=0.001, help="failure probability")
    parser.add_argument("--batch", type=POSITIVE_INT, default=10_000, help="samples per forward pass")
    parser.add_argument("--seed", type=SEED, default=0)
    parser.add_argument("--group", type=POSITIVE_INT, default=64, help="inputs certified together")


def _m_value(text):
    try:
        return float(text)
    except ValueError:
        return text


def main(argv=None):
    parser = _Parser(prog="idrs-fast", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("demo", help="train, certify and compare on toy data and digits (< 3 min)")
    p.add_argument("--out", default="idrs_demo", help="folder for logs and PNGs")
    p.add_argument("--epochs", type=POSITIVE_INT, default=40)
    p.add_argument("--n0", type=POSITIVE_INT, default=64)
    p.add_argument("--n", type=POSITIVE_INT, default=2000)
    p.add_argument("--alpha", type=ALPHA, default=0.001)
    p.add_argument("--batch", type=POSITIVE_INT, default=20_000)
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--max-inputs", type=COUNT, default=0)
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("train", help="train an MLP with Gaussian noise augmentation")
    p.add_argument("--data", default="toy2d", help=DATASETS)
    p.add_argument("--out", required=True, help="model file (.pt)")
    p.add_argument("--epochs", type=POSITIVE_INT, default=40)
    p.add_argument("--lr", type=POSITIVE, default=1e-2)
    p.add_argument("--width", type=POSITIVE_INT, default=20)
    p.add_argument("--depth", type=POSITIVE_INT, default=3)
    p.add_argument("--seed", type=SEED, default=0)
    _add_sigma(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("certify", help="certify a test set into a resumable TSV log")
    p.add_argument("--model", required=True,
                   help="a TorchScript file, module:callable building the model, or a file of `idrs-fast train`")
    p.add_argument("--data", default=None,
                   help=f"test data: .npz (x, y), an ImageFolder folder, module:callable returning a "
                        f"torch Dataset, or {DATASETS} (default: the train file's)")
    p.add_argument("--train-data", default=None, help="training inputs for sigma(x) (--rate > 0)")
    p.add_argument("--data-seed", type=SEED, default=0, help="seed of a built-in data set")
    p.add_argument("--normalize", default=None, help="MEAN,...:STD,... per channel, before the model")
    p.add_argument("--noise-space", choices=("input", "normalized"), default="input",
                   help="add the noise before (input, Cohen et al.) or after the normalization")
    p.add_argument("--log", required=True, help="TSV log (resumed if it exists)")
    p.add_argument("--skip", type=POSITIVE_INT, default=1, help="certify every skip-th input")
    p.add_argument("--max", type=COUNT, default=0, help="only inputs below this index (0: all)")
    p.add_argument("--shard", default=None, help="i/K: only shard i of K (then `idrs-fast merge`)")
    p.add_argument("--ray-address", default=None, help="local, auto or HOST:PORT: run on Ray actors")
    p.add_argument("--workers", type=POSITIVE_INT, default=2, help="Ray actors")
    p.add_argument("--cpus-per-worker", type=POSITIVE, default=1.0)
    p.add_argument("--gpus-per-worker", type=RATE, default=0.0)
    _add_sigma(p)
    _add_mc(p)
    p.set_defaults(run=cmd_certify)

    p = sub.add_parser("audit", help="find per-input-sigma certificates that do not stand")
    p.add_argument("log", help="a log with a sigma column (ours, DDRS's, ANCER's)")
    p.add_argument("--inputs", required=True, help=".npy or .npz (x): the log's inputs, in idx order")
    p.add_argument("--dim", type=POSITIVE_INT, default=None, help="input dimension (default: the inputs')")
    p.add_argument("--json", default=None, help="also write the result as JSON")
    p.set_defaults(run=cmd_audit)

    p = sub.add_parser("stability", help="ncx2 accuracy and cost against mpmath, idrs_fast vs scipy")
    p.add_argument("--out", default="stability", help="folder for the report")
    p.add_argument("--quick", action="store_true", help="the main grid only (under a minute)")
    p.add_argument("--references", default=None, help="folder of the mpmath references (tests/data)")
    p.add_argument("--dims", type=POSITIVE, nargs="+", default=None, help="only these N")
    p.add_argument("--max-nc", type=RATE, default=None, help="only lambda up to this")
    p.set_defaults(run=cmd_stability)

    p = sub.add_parser("reproduce", help="recompute the paper's quantitative claims (docs/REPRODUCTION.md)")
    p.add_argument("--out", default="docs", help="folder for REPRODUCTION.md and its PNGs")
    p.add_argument("--quick", action="store_true", help="small settings (the tests)")
    p.set_defaults(run=cmd_reproduce)

    p = sub.add_parser("merge", help="merge the logs of the shards of one run")
    p.add_argument("logs", nargs="+")
    p.add_argument("-o", "--out", required=True, help="the merged log")
    p.set_defaults(run=cmd_merge)

    p = sub.add_parser("radius", help="certified radius (Theorem 3.2) for given pA, or a whole log")
    p.add_argument("--pA", type=float, nargs="+", default=None)
    p.add_argument("--log", default=None, help="re-certify a (Cohen et al.) log with IDRS")
    p.add_argument("--out", default=None, help="the re-certified log (with --log)")
    p.add_argument("--sigma0", "--sigma", dest="sigma0", type=POSITIVE, required=True)
    p.add_argument("--rate", type=RATE, required=True)
    p.add_argument("--dim", type=POSITIVE_INT, required=True)
    p.add_argument("--clamp", default=None, help="cifar10 or mnist (Appendix D)")
    p.add_argument("--n", type=POSITIVE_INT, default=None, help="samples, for a log with a count column")
    p.add_argument("--alpha", type=ALPHA, default=0.001, help="for a log with a count column")
    p.set_defaults(run=cmd_radius)

    p = sub.add_parser("analyze", help="certified-accuracy tables and curves from logs")
    p.add_argument("logs", nargs="+")
    p.add_argument("--radii", type=RATE, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    p.add_argument("--latex", action="store_true")
    p.add_argument("--plot", default=None, help="PNG path for the curves")
    p.add_argument("--label", nargs="+", default=None,
                   help="one name per log (default: the shortest distinguishing path)")
    p.set_defaults(run=cmd_analyze)

    p = sub.add_parser("thresholds", help="Theorem 2.4 sigma-ratio thresholds (Table 1)")
    p.add_argument("--pA", type=float, nargs="+", default=[0.9, 0.99, 0.999, 0.99993])
    p.add_argument("--dim", type=_number(int, lambda v: v >= 2, "must be an integer >= 2"), nargs="+", default=[784, 3072, 150528, 196608])
    p.set_defaults(run=cmd_thresholds)

    args = parser.parse_args(argv)
    if hasattr(args, "m"):
        args.m = _m_value(args.m)
    try:
        args.run(args)
    except (ValueError, KeyError) as error:
        parser.exit(2, f"idrs-fast {args.command}: error: {str(error).strip(chr(39))}\n")
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        parser.exit(2, f"idrs-fast {args.command}: error: {where}{error.strerror or error}\n")


if __name__ == "__main__":
    main()
