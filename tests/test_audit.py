"""DDRS (idrs_fast.ddrs) and the audit of per-input-sigma certificates
(idrs_fast.audit) on cases with known answers: valid constant-sigma and IDRS
certificates (nothing refuted), the Appendix C counterexample (refuted), a pair just
inside / outside the Theorem 2.4 threshold, and bad input."""
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.stats import norm

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
import appendix_c  # noqa: E402

from idrs_fast import datasets, theory  # noqa: E402
from idrs_fast.audit import audit, load_certificates  # noqa: E402
from idrs_fast.ddrs import DdrsSigma, memory_certify, optimize_sigma, order_dependence  # noqa: E402
from idrs_fast.pipeline import certify_dataset  # noqa: E402
from idrs_fast.sigma import KnnSigma  # noqa: E402
from idrs_fast.smoothing import Smooth  # noqa: E402

CONSOLE_SCRIPT = str(pathlib.Path(sys.executable).with_name("idrs-fast"))


def _toy_model(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    from idrs_fast.training import train
    x_train, y_train, _, _ = datasets.toy_2d(200, 10, seed=seed)
    train(model, x_train, y_train, 0.25, epochs=15, seed=seed, lr=1e-2)
    return model


@pytest.fixture(scope="module")
def toy():
    x_train, y_train, x_test, y_test = datasets.toy_2d(200, 60, seed=1)
    return _toy_model(), x_train, x_test.astype(np.float32), y_test


def test_appendix_c_counterexample_is_refuted():
    out = appendix_c.counterexample(n=2000)
    assert out["sigma0"] > 50                                # DDRS's sigma keeps growing
    assert out["predict"] == [0, 1] and out["radius"][0] > 50.0   # the ball covers (0, 0)
    refuted = out["audit"]["refuted"]
    assert len(refuted) == 1 and refuted[0]["x0"] == 0 and refuted[0]["grade"] == "contradicted"
    assert refuted[0]["xi"] > 0.999 and "xi >= 1/2" in refuted[0]["reason"]
    assert out["audit"]["summary"]["contradicted"] == 1


def test_valid_constant_sigma_certificates_are_not_refuted(toy, tmp_path):
    model, _, x, y = toy
    log = tmp_path / "cohen.tsv"
    certify_dataset(Smooth(model, 2, 0.5), x, y, log, 32, 2000, 0.001)
    np.save(tmp_path / "x.npy", x)
    result = audit(*load_certificates(log, tmp_path / "x.npy")[:5])
    assert result["summary"]["certificates"] > 30
    assert result["summary"]["pairs_checked"] > 50         # the balls do hold other inputs
    assert result["refuted"] == []


def test_idrs_certificates_stand_and_imply_at_most_their_rate(toy, tmp_path):
    model, x_train, x, y = toy
    rate = 0.5
    sigma = KnnSigma(x_train, 0.5, rate, k=5)
    log = tmp_path / "idrs.tsv"
    certify_dataset(Smooth(model, 2, sigma), x, y, log, 32, 2000, 0.001)
    np.savez(tmp_path / "x.npz", x=x)
    *certificates, claimed = load_certificates(log, tmp_path / "x.npz")
    result = audit(*certificates, claimed_rate=claimed)
    assert claimed == rate and result["summary"]["pairs_checked"] > 20
    assert result["refuted"] == []
    assert 0.2 * rate < result["summary"]["implied_semi_elasticity"] <= rate * (1 + 1e-3)


@pytest.mark.parametrize("where", ["below the threshold", "just inside", "just outside"])
def test_a_pair_across_the_theorem_2_4_threshold(where):
    """A neighbour at 1e-6 of a certificate of radius 1 with sigma1 / sigma0 below
    Theorem 2.4's threshold (a bound: xi(0+) >= 1/2 below it) is refuted, with that
    reason; just inside the exact xi(0+) = 1/2 crossing (a little above the bound)
    it is refuted by xi alone; just outside it stands."""
    from scipy.optimize import brentq

    from idrs_fast import xi_greater
    p_a, dim = 0.99, 3072
    threshold = float(theory.sigma_ratio_threshold(p_a, dim))
    crossing = brentq(lambda t: xi_greater(0.0, 0.5, 0.5 * t, dim, 1 - p_a) - 0.5, threshold, 1.0,
                      xtol=1e-14)
    assert threshold < crossing < 1.02 * threshold
    ratio = {"below the threshold": 0.999 * threshold, "just inside": 0.9999 * crossing,
             "just outside": 1.0001 * crossing}[where]
    x = np.zeros((2, dim))
    x[1, 0] = 1e-6
    result = audit(x, np.array([0.5, 0.5 * ratio]), np.array([0, 0]), np.array([1.0, 0.0]),
                   np.array([p_a, 0.6]))
    assert len(result["refuted"]) == (0 if where == "just outside" else 1)
    if result["refuted"]:
        row = result["refuted"][0]
        assert row["grade"] == "not justified" and "xi >= 1/2" in row["reason"]
        assert ("Theorem 2.4" in row["reason"]) == (where == "below the threshold")


def test_printed_radii_get_the_benefit_of_the_doubt(tmp_path):
    """Cohen's radius printed to 3 digits may round up: a neighbour just inside the
    printed radius but outside the true one is not refuted."""
    sigma, p_a = 0.25, 0.99
    true_radius = sigma * norm.ppf(p_a)                       # 0.58159...
    log = tmp_path / "ddrs.tsv"
    log.write_text("idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime\n"
                   f"0\t1\t1\t{true_radius:.3g}\t1\t{sigma}\t1.0\n1\t0\t0\t0.0\t1\t{sigma}\t1.0\n")
    x = np.zeros((2, 5))
    x[1, 0] = 0.5817                                          # < 0.582 printed, > true radius
    np.save(tmp_path / "x.npy", x)
    assert audit(*load_certificates(log, tmp_path / "x.npy")[:5])["refuted"] == []
    x[1, 0] = 0.5                                            # truly inside, another class
    np.save(tmp_path / "x.npy", x)
    assert audit(*load_certificates(log, tmp_path / "x.npy")[:5])["summary"]["contradicted"] == 1


def test_bad_audit_input_gets_clear_errors(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    no_sigma = tmp_path / "a.tsv"
    no_sigma.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t1\t1\n1\t1\t1\t0.5\t1\t1\n")
    with pytest.raises(ValueError, match="no sigma column"):
        load_certificates(no_sigma, tmp_path / "x.npy")
    three = tmp_path / "b.tsv"
    three.write_text("idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime\n" +
                     "".join(f"{i}\t1\t1\t0.5\t1\t0.25\t1\n" for i in range(3)))
    with pytest.raises(ValueError, match="has 2 inputs but .* has 3 rows"):
        load_certificates(three, tmp_path / "x.npy")
    nan = tmp_path / "c.tsv"
    nan.write_text("idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime\n0\t1\t1\t0.5\t1\tnan\t1\n"
                   "1\t1\t1\t0.5\t1\t0.25\t1\n")
    with pytest.raises(ValueError, match="sigma of row 0 is nan"):
        audit(*load_certificates(nan, tmp_path / "x.npy")[:5])
    result = subprocess.run([CONSOLE_SCRIPT, "audit", str(no_sigma), "--inputs", str(tmp_path / "x.npy")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no sigma column" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_audit_writes_the_json_summary(tmp_path):
    out = appendix_c.counterexample(n=500)
    log = tmp_path / "ddrs.tsv"
    log.write_text("idx\tlabel\tpredict\tradius\tcorrect\tsigma\ttime\n"
                   f"0\t0\t0\t{out['radius'][0]:.3g}\t1\t{out['sigma0']:.6g}\t1\n"
                   f"1\t1\t1\t{out['radius'][1]:.3g}\t1\t0.12\t1\n")
    np.save(tmp_path / "x.npy", np.array([[50.0, 0.0], [0.0, 0.0]]))
    result = subprocess.run([CONSOLE_SCRIPT, "audit", str(log), "--inputs", str(tmp_path / "x.npy"),
                             "--json", str(tmp_path / "a.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "| 2 | 1 | 0 |" in result.stdout or "| 1 | 1 | 0 |" in result.stdout
    summary = json.loads((tmp_path / "a.json").read_text())["summary"]
    assert {"certificates", "contradicted", "not_justified", "largest_refuted_radius"} <= set(summary)
    assert summary["contradicted"] == 1 and summary["largest_refuted_radius"] > 50
    assert summary["refuted_fraction_per_class"] == {"0": 1.0, "1": 0.0}      # JSON keys


def test_ddrs_sigma_is_deterministic_and_climbs_the_objective(toy):
    model, _, x, _ = toy
    batch = torch.tensor(x[:6])
    a = optimize_sigma(model, batch, sigma0=0.12, samples=50, iterations=20, step=0.04, seed=3)
    b = optimize_sigma(model, batch, sigma0=0.12, samples=50, iterations=20, step=0.04, seed=3,
                       inputs_per_pass=6)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, torch.full_like(a, 0.12))
    assert torch.all(a >= 1e-3)
    with pytest.raises(ValueError, match="clamp"):
        optimize_sigma(model, batch, clamp=(0.5, 0.4))
    provider = DdrsSigma(model, samples=20, iterations=5, step=0.04)
    assert provider.identity()["certificate"].endswith("not sound") and provider.rate == 0.0
    with pytest.warns(UserWarning, match="NOT certificates"):
        smooth = Smooth(model, 2, provider)
    result = smooth.certify(batch, 16, 200, 0.01)
    assert result["sound"] is False and Smooth(model, 2, 0.5).certify(batch, 16, 50, 0.01)["sound"]
    np.testing.assert_allclose(result["sigma"], provider(batch).numpy(), rtol=1e-6)


def test_memory_certification_resolves_overlaps_in_order():
    x = np.array([[0.0], [1.0], [5.0]])
    predict = np.array([0, 1, 1])
    radius = np.array([0.8, 0.5, 2.0])
    p, r = memory_certify(x, None, predict, radius)
    np.testing.assert_allclose(r, [0.8, 0.2, 2.0])           # ball 1 shrunk to 1 - 0.8
    p, r = memory_certify(x, None, predict, radius, order=[1, 0, 2])
    np.testing.assert_allclose(r, [0.5, 0.5, 2.0])           # now ball 0 gives way
    p, r = memory_certify(np.array([[0.0], [0.3]]), None, np.array([0, 1]), np.array([0.8, 0.5]))
    assert p.tolist() == [0, -1] and r.tolist() == [0.8, 0.0]  # inside another class's ball
    mean, low, high = order_dependence(x, None, predict, radius, predict, [0.0, 0.4], orders=10)
    assert np.all(low <= mean) and np.all(mean <= high) and high[1] > low[1] - 1e-12


def test_ancer_logs_are_read_by_their_min_sigma_column(tmp_path):
    """ANCER writes idx label predict radius radius_proxy correct min_sigma time."""
    log = tmp_path / "ancer.tsv"
    log.write_text("idx\tlabel\tpredict\tradius\tradius_proxy\tcorrect\tmin_sigma\ttime\n"
                   "0\t0\t0\t2.0\t2.1\t1\t0.9\t1.0\n1\t1\t1\t0.1\t0.1\t1\t0.12\t1.0\n")
    np.save(tmp_path / "x.npy", np.array([[0.0, 0.0], [1.0, 0.0]]))
    x, sigma, predict, radius_low, p_a, claimed = load_certificates(log, tmp_path / "x.npy")
    np.testing.assert_allclose(sigma, [0.9, 0.12])
    result = audit(x, sigma, predict, radius_low, p_a)
    assert result["summary"]["contradicted"] == 1 and result["refuted"][0]["x0"] == 0
