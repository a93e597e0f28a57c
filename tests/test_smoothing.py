"""Monte-Carlo smoothing, sigma(x), Clopper-Pearson, logs, reports and the CLI."""
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy.stats import binom, norm

torch = pytest.importorskip("torch")

import naive  # noqa: E402
from idrs_fast import datasets  # noqa: E402
from idrs_fast.analyze import certified_accuracy, summary, table  # noqa: E402
from idrs_fast.logs import CertifyLog, load_log, pa_from_log, read_log  # noqa: E402
from idrs_fast.sigma import KnnSigma, knn_mean_distance  # noqa: E402
from idrs_fast._noise import stream_keys  # noqa: E402
from idrs_fast.smoothing import (ABSTAIN, Smooth, clopper_pearson_lower,  # noqa: E402
                                 clopper_pearson_upper)


def _bisect(f, lo=0.0, hi=1.0):
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) else (lo, mid)
    return lo


@pytest.mark.parametrize("n", [1, 10, 1000, 100_000])
def test_clopper_pearson_matches_binomial_tail_inversion(n):
    """Lower bound p: P(Bin(n, p) >= k) = alpha, found by bisection on scipy's binom."""
    for alpha in (0.001, 0.05, 0.5):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            if k < 0 or k > n:
                continue
            lower = clopper_pearson_lower(k, n, alpha)
            expected = 0.0 if k == 0 else _bisect(lambda p: binom.sf(k - 1, n, p) < alpha)
            assert lower == pytest.approx(expected, abs=1e-9)
            upper = clopper_pearson_upper(k, n, alpha)
            expected = 1.0 if k == n else _bisect(lambda p: binom.cdf(k, n, p) > alpha)
            assert upper == pytest.approx(expected, abs=1e-9)


def test_clopper_pearson_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        clopper_pearson_lower(1, 10, 1.5)
    with pytest.raises(ValueError, match="counts"):
        clopper_pearson_lower(11, 10, 0.01)


def test_knn_sigma_matches_brute_force():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(300, 7)).astype(np.float32)
    x = rng.normal(size=(50, 7)).astype(np.float32)
    ours = knn_mean_distance(torch.tensor(x), torch.tensor(train), 5, chunk=7).numpy()
    np.testing.assert_allclose(ours, naive.knn_mean_distance(x, train, 5), rtol=1e-4)
    own = naive.knn_mean_distance(train, train, 6)
    m_mean = float(np.mean(own * 6 / 5))          # excluding the point itself (distance 0)
    sigma = KnnSigma(train, 0.25, 0.1, k=5, m="mean", cap=1.1)
    assert sigma.m == pytest.approx(m_mean, rel=1e-4)
    expected = np.minimum(0.25 * np.exp(0.1 * (naive.knn_mean_distance(x, train, 5) - m_mean)), 1.1 * 0.25)
    np.testing.assert_allclose(sigma(x).numpy(), expected, rtol=1e-4)
    assert np.all(KnnSigma(train, 0.25, 0.0)(x).numpy() == np.float32(0.25))
    with pytest.raises(ValueError, match="k = 400"):
        KnnSigma(train, 0.25, 0.1, k=400)
    for bad, message in ((dict(cap=0.0), "cap"), (dict(rate=np.inf), "rate"), (dict(sigma_b=np.nan), "sigma_b")):
        args = dict(sigma_b=0.25, rate=0.1)
        args.update(bad)
        with pytest.raises(ValueError, match=message):
            KnnSigma(train, **args)
    broken = train.copy()
    broken[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        KnnSigma(broken, 0.25, 0.1)


class Constant(torch.nn.Module):
    """Always class `c` of `classes` (a fake parameter gives it a device)."""

    def __init__(self, classes, c=0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.classes, self.c = classes, c

    def forward(self, x):
        out = torch.zeros(x.shape[0], self.classes)
        out[:, self.c] = 1.0
        return out


def test_certify_constant_classifier_gives_the_closed_form():
    """n hits of n: pA = alpha^(1/n), radius = sigma Phi^-1(pA) (rate 0)."""
    smooth = Smooth(Constant(3, 2), 3, 0.5)
    result = smooth.certify(torch.zeros(4, 5), 10, 1000, 0.001)
    p_a = 0.001 ** (1 / 1000)
    np.testing.assert_allclose(result["pA"], p_a, rtol=1e-12)
    np.testing.assert_allclose(result["radius"], 0.5 * norm.ppf(p_a), rtol=1e-10)
    assert np.all(result["predict"] == 2)


def _small_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def test_certify_is_deterministic_and_independent_of_batching():
    x = torch.tensor(datasets.toy_2d(20, 10)[2][:12])
    smooth = Smooth(_small_model(), 2, 0.5)
    a = smooth.certify(x, 32, 700, 0.01, batch_size=10_000, seed=3)
    b = smooth.certify(x, 32, 700, 0.01, batch_size=300, seed=3)
    c = smooth.certify(x[5:], 32, 700, 0.01, batch_size=1000, seed=3, index=np.arange(5, 12))
    for key in ("predict", "pA", "radius"):
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key][5:], c[key])
    d = smooth.certify(x, 32, 700, 0.01, seed=4)
    assert not np.array_equal(a["pA"], d["pA"])


def test_noise_is_standard_normal_and_scaled_per_input():
    """The classifier sees x + sigma(x) e: with f = 1[first coordinate > 0] at x = 0
    the counts are a fair coin; at x = (sigma, 0) they match Phi(1)."""
    class Sign(Constant):
        def forward(self, z):
            return torch.stack([z[:, 0] <= 0, z[:, 0] > 0], 1).float()
    smooth = Smooth(Sign(2), 2, lambda z: 0.5 + z[:, 1], rate=2.0)
    x = torch.tensor([[0.0, 0.0], [0.5, 0.0], [1.0, 0.5]])
    counts, nonfinite = smooth.counts(x, smooth.sigmas(x), 40_000, stream_keys(0, [1, 2, 3], 1), 10_000)
    counts = counts.numpy()
    assert nonfinite.tolist() == [0, 0, 0]
    share = counts[:, 1] / 40_000
    np.testing.assert_allclose(share, [0.5, norm.cdf(1.0), norm.cdf(1.0)], atol=0.01)


def test_predict_abstains_on_a_coin_flip():
    class Half(Constant):
        def forward(self, x):
            out = torch.zeros(x.shape[0], 2)
            out[:, 0] = x[:, 0]
            return out
    predictions = Smooth(Half(2), 2, 1.0).predict(torch.zeros(3, 2), 2000, 0.001)
    assert np.all(predictions == ABSTAIN)
    assert np.all(Smooth(Constant(2, 1), 2, 1.0).predict(torch.zeros(3, 2), 200, 0.001) == 1)


def test_idrs_radius_with_input_dependent_sigma():
    data = datasets.toy_2d(100, 20)
    sigma = KnnSigma(data[0], 0.5, 0.1)
    smooth = Smooth(Constant(2, 0), 2, sigma)
    assert smooth.rate == 0.1                      # the provider's own semi-elasticity
    result = smooth.certify(torch.tensor(data[2][:5]), 10, 1000, 0.001)
    from idrs_fast import certified_radius
    expected = certified_radius(result["pA"], result["sigma"], 0.1, 2)
    np.testing.assert_array_equal(result["radius"], expected)
    assert np.all(result["sigma"] != 0.5)


FAULTS_PER_FORWARD = """
import resource, torch
from idrs_fast.smoothing import Smooth
from idrs_fast.training import mlp
torch.manual_seed(0)
model = mlp(64, 10, width=64)
Smooth(model, 10, 0.25).certify(torch.zeros(1, 64), 1, 1, 0.5)
x = torch.randn(10_000, 64)
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with torch.no_grad():
    for passes in (3, 10):
        start = faults()
        for _ in range(passes):
            model(x)
print((faults() - start) / passes)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")
def test_retained_memory_stops_page_faults_in_large_forward_batches():
    """A 10,000-row forward pass of a 64-wide MLP page-faults its activations back in
    (1,200-3,000 faults per pass under glibc's defaults) unless Smooth has made glibc
    keep freed blocks."""
    run = subprocess.run([sys.executable, "-c", FAULTS_PER_FORWARD], capture_output=True, text=True,
                         check=True)
    assert float(run.stdout) < 100


@pytest.mark.parametrize("bad, message", [
    (dict(n0=0), "n0 = 0"), (dict(n=0), "n = 0"), (dict(alpha=1.0), "alpha = 1.0"),
])
def test_certify_bad_arguments(bad, message):
    args = dict(n0=10, n=100, alpha=0.01)
    args.update(bad)
    with pytest.raises(ValueError, match=message):
        Smooth(Constant(2), 2, 0.5).certify(torch.zeros(2, 2), **args)


def test_wrong_shapes_and_sigmas():
    smooth = Smooth(Constant(2), 2, 0.5)
    with pytest.raises(ValueError, match=r"x has shape \(3,\): expected a batch"):
        smooth.certify(torch.zeros(3), 10, 100, 0.01)
    with pytest.raises(ValueError, match=r"sigma returned shape \(2,\) for 3 inputs"):
        Smooth(Constant(2), 2, lambda z: torch.ones(2), rate=0.0).certify(torch.zeros(3, 2), 10, 100, 0.01)
    with pytest.raises(ValueError, match="finite and > 0"):
        Smooth(Constant(2), 2, -1.0).certify(torch.zeros(3, 2), 10, 100, 0.01)


def _nan_model():
    """The issue's example: every score NaN."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Threshold(1e9, float("nan")))


class PartlyBroken(Constant):
    """Class c, but NaN (or inf) scores wherever the first coordinate exceeds `cut`."""

    def __init__(self, classes, c, cut, value=float("nan")):
        super().__init__(classes, c)
        self.cut, self.value = cut, value

    def forward(self, x):
        out = super().forward(x)
        out[x[:, 0] > self.cut] = self.value
        return out


def test_a_model_with_non_finite_scores_is_not_certified():
    """NaN used to be counted as class 0 and certified with the largest radius."""
    with pytest.raises(ValueError, match="NaN or inf scores for 10 of 10 samples of input 0"):
        Smooth(_nan_model(), 3, 0.5).certify(torch.randn(3, 4), 10, 1000, 0.001)
    with pytest.raises(ValueError, match="NaN or inf scores"):
        Smooth(_nan_model(), 3, 0.5).predict(torch.randn(3, 4), 100, 0.001)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_samples_vote_for_no_class(value):
    """A NaN / inf score for a sample only lowers pA: with scores broken where
    z0 > sigma (probability 1 - Phi(1) = 0.159 at x = 0), about 84 % of the samples
    vote for the class, and the pA bound follows their count, not n."""
    smooth = Smooth(PartlyBroken(3, 1, 1.0, value), 3, 1.0)
    result = smooth.certify(torch.zeros(2, 3), 50, 20_000, 0.001)
    counts, lost = smooth.counts(torch.zeros(2, 3), torch.ones(2), 20_000, stream_keys(0, [0, 1], 1), 10_000)
    assert np.all(np.abs(lost.numpy() / 20_000 - norm.sf(1.0)) < 0.01)
    assert np.all(counts.numpy()[:, 1] + lost.numpy() == 20_000)
    np.testing.assert_array_equal(result["pA"], clopper_pearson_lower(counts.numpy()[:, 1], 20_000, 0.001))
    assert np.all(result["nonfinite"] >= lost.numpy()) and np.all(result["predict"] == 1)


def test_non_finite_inputs_are_refused_before_sampling():
    class Counting(Constant):
        calls = 0

        def forward(self, x):
            Counting.calls += 1
            return super().forward(x)
    x = torch.zeros(4, 3)
    for value in (float("nan"), float("inf")):
        x[2, 1] = value
        with pytest.raises(ValueError, match=r"x\[2\] has a NaN or infinite coordinate"):
            Smooth(Counting(2), 2, 0.5).certify(x, 10, 100, 0.01)
    assert Counting.calls == 0
    with pytest.raises(ValueError, match="empty"):
        Smooth(Constant(2), 2, 0.5).certify(torch.zeros(0, 3), 10, 100, 0.01)


def test_rate_comes_from_the_sigma_provider():
    """KnnSigma(rate=0.5) certified with rate 0.02, and an input-dependent sigma with
    the default rate 0 gave Cohen's radius: both unsound."""
    train = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    knn = KnnSigma(train, 0.25, rate=0.5, k=5)
    assert Smooth(Constant(2), 2, knn).rate == 0.5
    assert Smooth(Constant(2), 2, knn, rate=0.5).rate == 0.5
    assert Smooth(Constant(2), 2, 0.25).rate == 0.0
    with pytest.raises(ValueError, match="disagrees"):
        Smooth(Constant(2), 2, knn, rate=0.02)
    with pytest.raises(ValueError, match="disagrees"):
        Smooth(Constant(2), 2, 0.25, rate=0.1)
    with pytest.raises(ValueError, match="without a `rate` attribute"):
        Smooth(Constant(2), 2, lambda z: 0.5 + 0 * z[:, 0])
    for bad in (float("nan"), -1.0, float("inf"), "0.1", True):
        with pytest.raises(ValueError, match="rate"):
            Smooth(Constant(2), 2, lambda z: 0.5 + 0 * z[:, 0], rate=bad)
    stated = Smooth(Constant(2, 0), 2, lambda z: 0.5 * torch.exp(0.1 * z[:, 0]), rate=0.1)
    result = stated.certify(torch.tensor(train[:3]), 10, 1000, 0.001)
    from idrs_fast import certified_radius
    np.testing.assert_array_equal(result["radius"], certified_radius(result["pA"], result["sigma"], 0.1, 2))


def test_index_must_have_one_entry_per_input():
    """index=[0] with 50 inputs read past the end of the key array in compiled code."""
    smooth = Smooth(_small_model(), 2, 0.5)
    x = torch.tensor(datasets.toy_2d(30, 25)[2])
    for bad in ([0], np.arange(51), np.zeros((50, 1), int)):
        with pytest.raises(ValueError, match="index has shape"):
            smooth.certify(x, 10, 100, 0.01, index=bad)
        with pytest.raises(ValueError, match="index has shape"):
            smooth.predict(x, 100, 0.01, index=bad)
    with pytest.raises(ValueError, match="integers"):
        smooth.certify(x, 10, 100, 0.01, index=np.linspace(0, 1, 50))
    with pytest.raises(ValueError, match="index must hold integers in"):
        smooth.certify(x, 10, 100, 0.01, index=-np.arange(50))


def test_separate_pb_bounds_hold_jointly_at_one_minus_alpha():
    """Bonferroni: each bound at alpha / 2, so the pair holds with prob. >= 1 - alpha."""
    class Split(Constant):
        def forward(self, z):
            return torch.stack([z[:, 0] <= 0.5, (z[:, 0] > 0.5) & (z[:, 0] <= 1.5), z[:, 0] > 1.5], 1).float()
    smooth = Smooth(Split(3), 3, 1.0)
    result = smooth.certify(torch.zeros(2, 2), 50, 5000, 0.01, separate_pb=True)
    counts, _ = smooth.counts(torch.zeros(2, 2), torch.ones(2), 5000, stream_keys(0, [0, 1], 1), 10_000)
    counts = counts.numpy()
    np.testing.assert_array_equal(result["pA"], clopper_pearson_lower(counts[:, 0], 5000, 0.005))
    np.testing.assert_array_equal(result["pB"], clopper_pearson_upper(counts[:, 1], 5000, 0.005))
    assert np.all(result["pA"] < clopper_pearson_lower(counts[:, 0], 5000, 0.01))


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_the_model_gets_inputs_in_its_own_dtype(dtype):
    model = _small_model().to(dtype)
    x = torch.tensor(datasets.toy_2d(20, 5)[2])
    result = Smooth(model, 2, 0.5).certify(x, 16, 500, 0.01)
    assert result["radius"].shape == (10,) and np.all(result["nonfinite"] == 0)


def test_model_with_the_wrong_number_of_classes():
    with pytest.raises(ValueError, match=r"returned shape \(\d+, 3\), expected \(batch, 2\)"):
        Smooth(Constant(3), 2, 0.5).certify(torch.zeros(2, 2), 10, 100, 0.01)


def test_log_resumes_drops_partial_rows_and_rejects_other_runs(tmp_path):
    path = tmp_path / "run.tsv"
    with CertifyLog(path, dict(seed=1)) as log:
        log.write(0, 1, 1, 0.5, True, 0.1, 0.25, 0.99)
        log.write(1, 0, -1, 0.0, False, 0.1, 0.25, 0.4)
    with path.open("a") as handle:
        handle.write("2\t1\t1\t0.3")                      # killed mid-row
    with CertifyLog(path, dict(seed=1)) as resumed:
        assert resumed.done == [0, 1]
    assert path.read_text().endswith("0.4\n")
    with pytest.raises(ValueError, match=r"another run \(settings differ: \['seed'\]\)"):
        CertifyLog(path, dict(seed=2))
    rows = read_log(path)
    assert rows["idx"] == ["0", "1"] and rows["pA"] == ["0.99", "0.4"]


@pytest.mark.parametrize("cut", ["settings", "inside header", "inside settings"])
def test_a_log_cut_in_its_first_lines_resumes_with_its_header(tmp_path, cut):
    """A log cut right after its settings line used to resume with no column header."""
    path = tmp_path / "run.tsv"
    CertifyLog(path, dict(seed=1)).close()
    text = path.read_text()
    first = text.index("\n") + 1
    keep = {"settings": first, "inside header": first + 7, "inside settings": 9}[cut]
    path.write_text(text[:keep])
    with CertifyLog(path, dict(seed=1)) as log:
        log.write(0, 1, 1, 0.5, True, 0.1, 0.25, 0.99)
    assert path.read_text() == text + "0\t1\t1\t0.5\t1\t0.1000\t0.25\t0.99\n"
    assert load_log(path)["idx"].tolist() == [0]


HOLD_LOG = """
import sys, time
from idrs_fast.logs import CertifyLog
log = CertifyLog(sys.argv[1], dict(seed=1))
print("open", flush=True)
time.sleep(60)
"""


def test_a_second_process_on_one_log_is_refused(tmp_path):
    """Two processes on one log wrote every row twice (80 rows for 40 inputs)."""
    path = tmp_path / "run.tsv"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOG, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ValueError, match="being written by another process"):
            CertifyLog(path, dict(seed=1))
    finally:
        holder.kill()
        holder.wait()
    with CertifyLog(path, dict(seed=1)) as log:             # free again once it is gone
        assert log.done == []


def test_readers_refuse_duplicated_indices_and_malformed_rows(tmp_path):
    path = tmp_path / "twice.tsv"
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t1\t1.0\n"
                    "1\t1\t1\t0.5\t1\t1.0\n0\t1\t1\t0.5\t1\t1.0\n")
    with pytest.raises(ValueError, match=r"index 0 is written 2 times \(lines 2, 4\)"):
        load_log(path)
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t1\t1.0\n1\t1\t1\n"
                    "2\t1\t1\t0.5\t1\t1.0\n")
    with pytest.raises(ValueError, match=r"twice.tsv:3: 3 fields where the header has 6"):
        load_log(path)
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\tlarge\t1\t1.0\n")
    with pytest.raises(ValueError, match=r"twice.tsv:2: radius = 'large' is not a number"):
        load_log(path)
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="not a text file"):
        load_log(path)


def test_pa_from_cohen_logs_never_exceeds_the_bound_behind_the_printed_radius(tmp_path):
    """Cohen et al. print sigma Phi^-1(pA) with 3 significant digits: inverting the
    printed value overstated pA by up to 7e-4; the lower end of its rounding interval
    cannot."""
    rng = np.random.default_rng(0)
    p_true = np.concatenate([rng.uniform(0.5, 1.0, 3000), 1 - 10 ** rng.uniform(-9, -1, 3000)])
    sigma = 0.25
    radius = sigma * norm.ppf(p_true)
    path = tmp_path / "sigma_0.25"
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n" + "".join(
        f"{i}\t0\t0\t{r:.3}\t1\t0:00:01.5\n" for i, r in enumerate(radius)))
    log = load_log(path)
    recovered = pa_from_log(log, sigma)
    assert np.all(recovered <= p_true)
    printed = read_log(path)["radius"]
    three_digits = np.array([len(t.split("e")[0].replace(".", "").lstrip("0")) == 3 for t in printed])
    assert three_digits.mean() > 0.8
    assert np.max((p_true - recovered)[three_digits]) < 2e-3     # '1.5' (for 1.50) is looser
    naive_inversion = norm.cdf(log["radius"] / sigma)
    assert np.max(naive_inversion - p_true) > 1e-4          # what the old inversion did


def test_a_log_is_bound_to_its_model_and_a_failed_run_leaves_nothing(tmp_path):
    """Resuming a half-finished log with another model mixed the two models' rows."""
    from idrs_fast.pipeline import _sigma_identity, certify_dataset
    x, y = datasets.toy_2d(20, 10)[2:]
    path = tmp_path / "run.tsv"

    def stop_after_first_group(done, total, stats):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        certify_dataset(Smooth(_small_model(0), 2, 0.5), x, y, path, 8, 100, 0.01,
                        inputs_per_group=4, progress=stop_after_first_group)
    assert len(load_log(path)["idx"]) == 4
    with pytest.raises(ValueError, match=r"another run \(settings differ: \['model'\]\)"):
        certify_dataset(Smooth(_small_model(1), 2, 0.5), x, y, path, 8, 100, 0.01)
    with pytest.raises(ValueError, match=r"settings differ: \['n'\]"):
        certify_dataset(Smooth(_small_model(0), 2, 0.5), x, y, path, 8, 200, 0.01)
    with pytest.raises(ValueError, match=r"settings differ: \['sigma'\]"):
        certify_dataset(Smooth(_small_model(0), 2, 0.4), x, y, path, 8, 100, 0.01)
    train = np.asarray(x, np.float32)
    assert _sigma_identity(KnnSigma(train, 0.5, 0.1, k=3)) != _sigma_identity(KnnSigma(train + 1, 0.5, 0.1, k=3))
    assert certify_dataset(Smooth(_small_model(0), 2, 0.5), x, y, path, 8, 100, 0.01) == 16
    with pytest.raises(ValueError, match="settings do not record this run"):
        certify_dataset(Smooth(_small_model(0), 2, 0.5), x, y, CertifyLog(tmp_path / "b.tsv", {}), 8, 100, 0.01)
    fresh = tmp_path / "failed.tsv"
    with pytest.raises(ValueError, match="NaN or inf"):
        certify_dataset(Smooth(_nan_model(), 3, 0.5), np.zeros((3, 4)), np.zeros(3), fresh, 8, 100, 0.01)
    assert not fresh.exists()


def test_runs_sharing_a_file_name_get_distinct_labels(tmp_path):
    """Cohen's layout names every file sigma_0.50: analyze keyed runs by base name."""
    from idrs_fast.analyze import run_labels
    a = tmp_path / "noise_0.25" / "test" / "sigma_0.50"
    b = tmp_path / "noise_0.50" / "test" / "sigma_0.50"
    c = tmp_path / "noise_0.50" / "test" / "sigma_1.00"
    assert run_labels([a, b, c]) == {"noise_0.25/test/sigma_0.50": a,
                                     "noise_0.50/test/sigma_0.50": b, "sigma_1.00": c}
    with pytest.warns(UserWarning, match="more than once"):
        assert list(run_labels([a, a, c])) == ["sigma_0.50", "sigma_1.00"]
    assert run_labels([a, b], ["x", "y"]) == {"x": a, "y": b}
    with pytest.raises(ValueError, match="distinct"):
        run_labels([a, b], ["x", "x"])


def test_analyze_tables():
    log = dict(label=np.array([0, 0, 1, 1]), predict=np.array([0, -1, 1, 0]),
               radius=np.array([0.6, 0.0, 0.3, 0.2]), correct=np.array([1, 0, 1, 0]))
    np.testing.assert_allclose(certified_accuracy(log, [0.0, 0.25, 0.5, 1.0]), [0.5, 0.5, 0.25, 0.0])
    s = summary(log)
    assert (s["accuracy"], s["abstention"], s["misclassification"]) == (0.5, 0.25, 0.25)
    assert s["class_accuracy_std"] == pytest.approx(0.0)
    assert "| a | 0.500 | 0.250 |" in table({"a": log}, [0.25, 0.5])
    assert "\\begin{tabular}" in table({"a": log}, [0.25], latex=True)


def test_datasets():
    x, y, xt, yt = datasets.toy_2d(50, 10)
    assert x.shape == (100, 2) and set(y) == {0, 1} and xt.shape == (20, 2)
    for dim in (2, 6, 18, 60, 180, 400):
        assert datasets.cone(dim, 5, 2)[0].shape == (10, dim)
    x, y, xt, yt = datasets.digits()
    assert x.shape[1] == 64 and len(x) + len(xt) == 1797 and x.max() <= 1.0


CONSOLE_SCRIPT = shutil.which("idrs-fast") or str(pathlib.Path(sys.executable).parent / "idrs-fast")


def _cli(*args, **kwargs):
    """Through the installed console script, as a user runs it."""
    return subprocess.run([CONSOLE_SCRIPT, *args], capture_output=True, text=True, timeout=300,
                          **kwargs)


@pytest.mark.parametrize("command", ["demo", "train", "certify", "merge", "radius", "audit",
                                     "stability", "reproduce", "analyze", "thresholds"])
def test_cli_help(command):
    result = _cli(command, "--help")
    assert result.returncode == 0 and "usage: idrs-fast" in result.stdout


def test_cli_radius_and_thresholds():
    result = _cli("radius", "--pA", "0.999", "--sigma0", "0.25", "--rate", "0.01", "--dim", "3072")
    assert "radius = 0.75807235" in result.stdout
    result = _cli("thresholds", "--pA", "0.9", "--dim", "784")
    assert "0.9463" in result.stdout


def test_killed_certification_resumes_to_the_uninterrupted_log(tmp_path):
    model = tmp_path / "model.pt"
    assert _cli("train", "--data", "toy2d", "--out", str(model), "--epochs", "2").returncode == 0
    common = ["certify", "--model", str(model), "--n0", "16", "--n", "4000", "--batch", "4000",
              "--max", "96", "--group", "8", "--seed", "5"]
    whole = tmp_path / "whole.tsv"
    assert _cli(*common, "--log", str(whole)).returncode == 0
    killed = tmp_path / "killed.tsv"
    process = subprocess.Popen([CONSOLE_SCRIPT, *common, "--log", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if killed.exists() and killed.read_text().count("\n") >= 2 + 16:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    rows_at_kill = killed.read_text().count("\n") - 2
    assert 0 < rows_at_kill < 96, "the run was not interrupted midway"
    assert _cli(*common, "--log", str(killed)).returncode == 0

    def without_time(path):
        rows = read_log(path)
        return {k: v for k, v in rows.items() if k != "time"}

    assert without_time(killed) == without_time(whole)
    assert len(read_log(killed)["idx"]) == 96
    # the same file with other settings is refused, and nothing is written to it
    before = killed.read_text()
    result = _cli(*common[:-2], "--seed", "6", "--log", str(killed))
    assert result.returncode != 0 and "another run" in result.stderr
    assert killed.read_text() == before


def test_cli_demo_end_to_end_small(tmp_path):
    result = _cli("demo", "--out", str(tmp_path), "--epochs", "2", "--n", "200", "--n0", "16",
                  "--max-inputs", "20")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("| constant sigma (Cohen) |") == 2
    for name in ("toy2d", "digits"):
        assert (tmp_path / f"{name}_curves.png").stat().st_size > 1000
        assert len(read_log(tmp_path / f"{name}_rate0.tsv")["idx"]) == 20


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    model = folder / "model.pt"
    assert _cli("train", "--data", "toy2d", "--out", str(model), "--epochs", "1").returncode == 0
    torch.save({"x": 1}, folder / "nokeys.pt")
    (folder / "garbage.tsv").write_bytes(bytes(range(256)) * 4)
    (folder / "empty.tsv").write_text("")
    return folder


@pytest.mark.parametrize("args, message", [
    (["--rate", "nan"], "--rate: nan must be finite"), (["--rate", "-1"], "--rate: -1 must be"),
    (["--max", "-5"], "--max: -5 must be"), (["--group", "0"], "--group: 0 must be"),
    (["--alpha", "1.5"], "--alpha"), (["--seed", "-1"], "--seed"),
    (["--model", "{d}/missing.pt"], "missing.pt: No such file"),
    (["--model", "{d}/nokeys.pt"], "nokeys.pt is not a model file"),
    (["--model", "{d}/garbage.tsv"], "garbage.tsv is not a model file"),
    (["--log", "{d}"], "is a directory"), (["--log", "{d}/no/such/folder/x.tsv"], "does not exist"),
])
def test_cli_certify_mistakes_get_one_line_and_status_2(trained, args, message):
    args = [a.format(d=trained) for a in args]
    base = {"--model": str(trained / "model.pt"), "--log": str(trained / "out.tsv")}
    for flag in ("--model", "--log"):
        if flag in args:
            base.pop(flag)
    command = ["certify", *[x for kv in base.items() for x in kv], "--n", "100", "--max", "2", *args]
    result = _cli(*command)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (trained / "out.tsv").exists()            # a failed run leaves no log


@pytest.mark.parametrize("args, message", [
    (["{d}/missing.tsv"], "No such file"), (["{d}"], "is a directory"),
    (["{d}/garbage.tsv"], "not a text file"), (["{d}/empty.tsv"], "empty"),
    (["{d}/model.pt"], "not a text file"),
    (["{d}/ok.tsv", "--plot", "{d}/no/folder/c.png"], "does not exist"),
    (["{d}/ok.tsv", "--radii", "nan"], "--radii"),
])
def test_cli_analyze_mistakes_get_one_line_and_status_2(trained, args, message):
    if not (trained / "ok.tsv").exists():
        assert _cli("certify", "--model", str(trained / "model.pt"), "--log", str(trained / "ok.tsv"),
                    "--n", "100", "--max", "3").returncode == 0
    result = _cli("analyze", *[a.format(d=trained) for a in args])
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_cli_radius_refuses_absurd_dimensions():
    result = _cli("radius", "--pA", "0.999", "--sigma0", "0.25", "--rate", "0.01", "--dim", str(10 ** 18))
    assert result.returncode == 2 and "dim" in result.stderr and "Traceback" not in result.stderr
