"""Certification at scale: your own model and data from the command line, shards
merged, Ray actors (a worker killed mid-group included) and logs re-certified
without a model. Every way of running must give the single-process log, every
column but `time`."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import scaleout_models  # noqa: E402

from idrs_fast.logs import load_log, read_log, read_settings  # noqa: E402
from idrs_fast.pipeline import parse_shard, subset  # noqa: E402
from idrs_fast.sources import ModelSource, load_data  # noqa: E402

CONSOLE_SCRIPT = str(pathlib.Path(sys.executable).with_name("idrs-fast"))
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
MC = ["--n0", "16", "--n", "400", "--batch", "1000", "--group", "4", "--seed", "3",
      "--sigma", "0.5"]


def _cli(*args):
    return subprocess.run([CONSOLE_SCRIPT, *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=ENV, cwd=HERE)


def rows(path):
    """A log's rows without the time column, and its settings (environment aside)."""
    table = read_log(path)
    return {k: v for k, v in table.items() if k not in ("time", "_line")}, read_settings(path)[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A TorchScript model and an .npz test set, and the single-process log of
    every 2nd of the first 40 inputs."""
    folder = tmp_path_factory.mktemp("scaleout")
    model = torch.jit.script(scaleout_models.mlp())
    model.save(str(folder / "model.ts"))
    x = np.random.default_rng(0).normal(size=(50, scaleout_models.DIM)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    np.savez(folder / "test.npz", x=x, y=y)
    single = folder / "single.tsv"
    result = _cli("certify", "--model", folder / "model.ts", "--data", folder / "test.npz",
                  "--skip", "2", "--max", "40", "--log", single, *MC)
    assert result.returncode == 0, result.stderr
    return folder


def test_the_log_records_provenance_and_the_subset(files):
    table, settings = rows(files / "single.tsv")
    assert table["idx"] == [str(i) for i in range(0, 40, 2)]
    assert settings["subset"] == {"skip": 2, "max": 40, "of": 50} and settings["shard"] is None
    assert settings["model_file"] == "model.ts" and len(settings["model_sha256"]) == 16
    assert settings["data_file"] == "test.npz" and settings["noise_space"] == "input"
    assert settings["idrs_fast"]                 # its version is compared: noise may change
    environment = read_settings(files / "single.tsv")[1]
    assert {"torch", "numpy", "device"} <= set(environment) and "idrs_fast" not in environment


def test_three_shards_merged_are_the_single_run(files):
    for i in range(3):
        result = _cli("certify", "--model", files / "model.ts", "--data", files / "test.npz",
                      "--skip", "2", "--max", "40", "--shard", f"{i}/3", "--log",
                      files / f"shard{i}.tsv", *MC)
        assert result.returncode == 0, result.stderr
    assert read_log(files / "shard1.tsv")["idx"] == [str(i) for i in range(2, 40, 6)]
    result = _cli("merge", *(files / f"shard{i}.tsv" for i in range(3)), "-o", files / "merged.tsv")
    assert result.returncode == 0, result.stderr
    assert rows(files / "merged.tsv") == rows(files / "single.tsv")
    # a gap, a shard twice and a shard of another run are refused, nothing written
    gap = _cli("merge", files / "shard0.tsv", files / "shard2.tsv", "-o", files / "gap.tsv")
    assert gap.returncode == 2 and "7 missing (first ['2', '8'" in gap.stderr
    twice = _cli("merge", *(files / f"shard{i}.tsv" for i in (0, 1, 2, 1)), "-o", files / "x.tsv")
    assert twice.returncode == 2 and "index 2 is also in" in twice.stderr
    other = files / "other.tsv"
    assert _cli("certify", "--model", files / "model.ts", "--data", files / "test.npz", "--skip", "2",
                "--max", "40", "--shard", "1/3", "--log", other, *MC[:-2], "--sigma", "0.4").returncode == 0
    differ = _cli("merge", files / "shard0.tsv", other, files / "shard2.tsv", "-o", files / "y.tsv")
    assert differ.returncode == 2 and "settings differ: ['sigma'" in differ.stderr
    assert not any((files / name).exists() for name in ("gap.tsv", "x.tsv", "y.tsv"))


@pytest.mark.parametrize("spec, message", [("5/3", "need 0 <= i < K"), ("1/0", "need 0 <= i < K"),
                                           ("a/b", "must be i/K"), ("2", "must be i/K")])
def test_bad_shard_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_shard(spec)


def test_subsets_split_with_no_padding_and_no_duplicates():
    every = subset(1000, skip=20)
    shards = [subset(1000, skip=20, shard=(i, 7)) for i in range(7)]
    assert sorted(np.concatenate(shards).tolist()) == every.tolist()
    assert subset(10, max_inputs=4).tolist() == [0, 1, 2, 3]


def test_models_and_data_from_factories_and_files(files, tmp_path):
    source = ModelSource("scaleout_models:mlp", normalize=((0.1,), (2.0,)))
    model = source()
    assert isinstance(model[0], torch.nn.Module) and source.provenance["model_factory"] == "scaleout_models:mlp"
    x = torch.randn(2, scaleout_models.DIM)
    np.testing.assert_allclose(model(x).detach(), scaleout_models.mlp()((x - 0.1) / 2.0).detach(), rtol=1e-6)
    *_, x_test, y_test, provenance = load_data("scaleout_models:dataset")
    assert x_test.shape == (30, scaleout_models.DIM) and provenance == {"data_factory": "scaleout_models:dataset"}
    with pytest.raises(ValueError, match="no array"):
        np.savez(tmp_path / "bad.npz", inputs=np.zeros(3))
        load_data(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="cannot import"):
        ModelSource("no_such_module:f")
    with pytest.raises(ValueError, match="one integer label per input"):
        np.savez(tmp_path / "shape.npz", x=np.zeros((4, 3)), y=np.zeros(5, np.int64))
        load_data(tmp_path / "shape.npz")


@pytest.mark.parametrize("model, data, message", [
    ("scaleout_models:broken", "test.npz", "weights file /nowhere/model.pt not found"),
    ("model.ts", "scaleout_models:dataset", None),
    ("model.ts", "shape.npz", "the model does not take these inputs (shape (7,))"),
    ("model.ts", "labels.npz", "labels run from 0 to 5 but the model scores 3 classes"),
])
def test_cli_bad_models_and_data_get_one_line(files, model, data, message):
    np.savez(files / "shape.npz", x=np.zeros((4, 7), np.float32), y=np.zeros(4, np.int64))
    np.savez(files / "labels.npz", x=np.zeros((4, scaleout_models.DIM), np.float32),
             y=np.array([0, 1, 5, 2]))
    result = _cli("certify", "--model", files / model if ":" not in model else model, "--data",
                  files / data if ":" not in data else data, "--log", files / "bad.tsv", *MC)
    if message is None:             # 12 inputs, the right classes: it runs
        assert result.returncode == 0, result.stderr
        (files / "bad.tsv").unlink()
        return
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (files / "bad.tsv").exists()


def test_radius_from_a_cohen_log_without_a_model(tmp_path):
    cohen = HERE.parents[1] / "shared" / "data" / "cohen2019_certify" / "cifar10" / "resnet110" / \
        "noise_0.25" / "test" / "sigma_0.25"
    if not cohen.exists():
        cohen = tmp_path / "sigma_0.25"
        cohen.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t3\t3\t0.378\t1\t15.4\n"
                         "20\t7\t-1\t0.0\t0\t15.6\n40\t1\t1\t0.95\t1\t15.0\n")
    out = tmp_path / "idrs.tsv"
    result = _cli("radius", "--log", cohen, "--sigma", "0.25", "--rate", "0.01", "--dim", "3072",
                  "--out", out)
    assert result.returncode == 0, result.stderr
    before, after = load_log(cohen), load_log(out)
    for column in ("idx", "label", "predict", "correct"):
        np.testing.assert_array_equal(after[column], before[column])
    assert np.all(after["radius"][before["predict"] < 0] == 0)
    assert np.all(after["radius"] <= before["radius"] + 5e-4)   # IDRS never above Cohen's
    assert np.mean(after["radius"] < before["radius"] - 1e-3) > 0.5
    again = _cli("radius", "--log", cohen, "--sigma", "0.25", "--rate", "0", "--dim", "3072",
                 "--out", tmp_path / "cohen.tsv")
    assert again.returncode == 0
    np.testing.assert_array_less(load_log(tmp_path / "cohen.tsv")["radius"], before["radius"] + 5e-4)
    assert _cli("analyze", out).returncode == 0


def test_a_printed_pa_column_is_rounded_down_before_it_is_certified(tmp_path):
    """'0.99' stands for any pA in [0.985, 0.995): re-certifying must use 0.985."""
    from idrs_fast import certified_radius
    log = tmp_path / "ours.tsv"
    log.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\tsigma\tpA\n"
                   "0\t1\t1\t0.5\t1\t1.0\t0.25\t0.99\n")
    assert _cli("radius", "--log", log, "--sigma", "0.25", "--rate", "0.01", "--dim", "3072",
                "--out", tmp_path / "idrs.tsv").returncode == 0
    radius = load_log(tmp_path / "idrs.tsv")["radius"][0]
    assert radius == pytest.approx(float(certified_radius(0.985, 0.25, 0.01, 3072)), rel=1e-5)
    assert radius < certified_radius(0.99, 0.25, 0.01, 3072) * (1 - 1e-3)


def test_idrs_without_training_inputs_is_refused_in_one_line(files):
    result = _cli("certify", "--model", files / "model.ts", "--data", files / "test.npz",
                  "--rate", "0.01", "--log", files / "no_train.tsv", *MC)
    assert result.returncode == 2 and "needs training inputs" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (files / "no_train.tsv").exists()


ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    os.environ.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    os.environ["PYTHONPATH"] = ENV["PYTHONPATH"]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _ray_run(files, log, progress=None, **executor):
    from idrs_fast.pipeline import certify_dataset
    from idrs_fast.scaleout import RayExecutor
    from idrs_fast.smoothing import Smooth
    source = ModelSource(str(files / "model.ts"))
    with np.load(files / "test.npz") as data:
        x, y = data["x"], data["y"]
    index = subset(len(x), 2, 40)
    smooth = Smooth(source(), 3, 0.5)
    settings = dict(load_data(files / "test.npz")[4], sigma_b=0.5, k=20, m="mean", cap=5.0,
                    inputs=50, **source.provenance, subset=dict(skip=2, max=40, of=50), shard=None,
                    sigma_source=None)
    return certify_dataset(smooth, x[index], y[index], log, 16, 400, 0.001, batch_size=1000, seed=3,
                           inputs_per_group=4, index=index, settings=settings, progress=progress,
                           executor=RayExecutor(executor.pop("factory", source), workers=2,
                                                cpus_per_worker=0.5, threads=1, **executor))


def test_ray_with_two_workers_gives_the_single_process_log(files, local_ray, tmp_path):
    reports = []
    assert _ray_run(files, tmp_path / "ray.tsv", progress=lambda *a: reports.append(a)) == 20
    done, total, stats = reports[-1]
    assert (done, total) == (20, 20) and stats["samples_per_s"] > 0
    assert len(stats["workers"]) == 2 and sum(stats["workers"].values()) == 20   # per worker
    table, settings = rows(tmp_path / "ray.tsv")
    assert table == rows(files / "single.tsv")[0]
    assert settings == rows(files / "single.tsv")[1]


def test_a_worker_killed_mid_group_changes_nothing(files, local_ray, tmp_path):
    marker = tmp_path / "killed"
    assert _ray_run(files, tmp_path / "ray.tsv", _kill_marker=marker) == 20
    pid = int(marker.read_text())
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):     # that worker process really ended
        os.kill(pid, 0)
    assert rows(tmp_path / "ray.tsv")[0] == rows(files / "single.tsv")[0]


def test_a_model_that_is_not_the_drivers_or_fails_to_build_is_refused(files, local_ray, tmp_path):
    with pytest.raises(ValueError, match="not the driver's"):
        _ray_run(files, tmp_path / "a.tsv", factory=scaleout_models.random_mlp)
    with pytest.raises(ValueError, match="weights file /nowhere/model.pt not found"):
        _ray_run(files, tmp_path / "b.tsv", factory=scaleout_models.broken)
    assert not (tmp_path / "a.tsv").exists() and not (tmp_path / "b.tsv").exists()


def test_cli_on_a_local_ray_instance_gives_the_single_process_log(files, tmp_path):
    result = _cli("certify", "--model", files / "model.ts", "--data", files / "test.npz",
                  "--skip", "2", "--max", "40", "--log", tmp_path / "cli_ray.tsv", *MC,
                  "--ray-address", "local", "--workers", "2", "--cpus-per-worker", "0.5")
    assert result.returncode == 0, result.stderr[-2000:]
    assert rows(tmp_path / "cli_ray.tsv") == rows(files / "single.tsv")


def test_an_image_folder_is_read_in_torchvisions_layout(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for k in range(3):
            pixels = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / label / f"{k}.png")
    *_, x, y, provenance = load_data(tmp_path)
    assert x.shape == (6, 3, 8, 6) and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert 0.0 <= x.min() and x.max() <= 1.0 and provenance["data_files"] == 6
    first = np.asarray(Image.open(tmp_path / "cat" / "0.png"), dtype=np.float32) / 255
    np.testing.assert_allclose(x[0], first.transpose(2, 0, 1), atol=1e-7)
