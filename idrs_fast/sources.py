"""Where a certification run's model and data come from, as the command line names
them, and the provenance each leaves in the log.

Models (`--model`): a TorchScript file, a `module:callable` that builds the model
(weights included) wherever it is called, or a file of `idrs-fast train`. Data
(`--data`): an .npz with arrays `x` and `y`, a folder in torchvision's ImageFolder
layout (read with Pillow; images as [0, 1] tensors as ToTensor gives), a `module:callable`
returning a torch Dataset of (input, label) pairs, or a built-in name (toy2d,
digits, cone:N). A ModelSource is picklable and builds its model where it is
called: on a Ray worker it builds it there, once.

Preprocessing as the field does it: with `normalize=(mean, std)` the model sees
(x - mean) / std per channel; noise="input" adds the noise before that layer (Cohen
et al.'s models carry it as their first layer), noise="normalized" after it.
"""
import hashlib
import importlib
import pathlib
import pickle
import sys

import numpy as np


BUILT_IN = ("toy2d", "digits")
DATASETS = "toy2d, digits or cone:N (N in 2, 6, 18, 60, 180, 400, ...)"
MODEL_KEYS = ("state", "data", "seed", "width", "depth")
NOISE_SPACES = ("input", "normalized")


def model_fingerprint(model):
    """sha256 (16 hex digits) of a torch model's class name and state_dict (names,
    dtypes, shapes and bytes of every parameter and buffer)."""
    import torch
    digest = hashlib.sha256(type(model).__qualname__.encode())
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def file_sha256(path):
    """sha256 (16 hex digits) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def built_in_data(name, seed=0):
    """(x_train, y_train, x_test, y_test) of a built-in data set."""
    from . import datasets
    if name == "toy2d":
        return datasets.toy_2d(seed=seed)
    if name == "digits":
        return datasets.digits(seed=seed)
    if name.startswith("cone:"):
        return datasets.cone(int(name.split(":", 1)[1]), seed=seed)
    raise ValueError(f"unknown data set {name!r}: use {DATASETS}")


def train_file_model(data, seed, width, depth):
    """The MLP of `idrs-fast train` for this data (weights not yet loaded)."""
    import torch
    from .training import mlp
    x_train, y_train = data[0], data[1]
    torch.manual_seed(seed)
    return mlp(x_train.shape[1], int(np.max(y_train)) + 1, width, depth)


def load_train_file(path):
    """A model file of `idrs-fast train`; ValueError naming what is wrong with it."""
    import torch
    try:
        saved = torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as error:
        raise ValueError(f"{path} is not a model file of `idrs-fast train` "
                         f"({str(error).splitlines()[0][:80]})") from None
    missing = [key for key in MODEL_KEYS if not (isinstance(saved, dict) and key in saved)]
    if missing:
        raise ValueError(f"{path} is not a model file of `idrs-fast train`: no {missing}")
    data = built_in_data(saved["data"], saved["seed"])
    model = train_file_model(data, saved["seed"], saved["width"], saved["depth"])
    try:
        model.load_state_dict(saved["state"])
    except RuntimeError as error:
        raise ValueError(f"{path}: the weights do not fit the model it describes "
                         f"({str(error).splitlines()[0][:80]})") from None
    model.eval()
    return model, data, saved


def _callable(spec, what):
    """The object `module:name` (the module imported from sys.path or the current
    folder); ValueError naming what failed."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"{what} {spec!r} is not a file or a module:callable")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{what} {spec!r}: cannot import {module_name} ({error})") from None
    target = module
    for part in name.split("."):
        if not hasattr(target, part):
            raise ValueError(f"{what} {spec!r}: {module_name} has no {name}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{what} {spec!r} is not callable")
    return target


def _normalizer(normalize):
    import torch

    class Normalize(torch.nn.Module):
        """(x - mean) / std per channel (dimension 1), as Cohen et al.'s models start."""

        def __init__(self, mean, std):
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

        def forward(self, x):
            shape = (1, -1) + (1,) * (x.ndim - 2)
            return (x - self.mean.view(shape)) / self.std.view(shape)
    return Normalize(*normalize)


def check_normalize(normalize, noise):
    if noise not in NOISE_SPACES:
        raise ValueError(f"noise space {noise!r} must be one of {NOISE_SPACES}")
    if normalize is None:
        return None
    mean, std = (tuple(float(v) for v in np.atleast_1d(part)) for part in normalize)
    if len(mean) != len(std) or not mean or not all(s > 0 for s in std):
        raise ValueError(f"normalize = {normalize!r}: mean and std need one value per channel, "
                         "std > 0")
    return mean, std


class ModelSource:
    """A picklable recipe for the base classifier: call it to build the model (on
    the CPU, in eval mode), with the normalization layer in front when the noise is
    added in input space. `provenance` describes it for the log."""

    def __init__(self, spec, normalize=None, noise="input"):
        self.spec = str(spec)
        self.normalize = check_normalize(normalize, noise)
        self.noise = noise
        path = pathlib.Path(self.spec)
        if path.is_file():
            self.kind = "file"
            self.provenance = dict(model_file=path.name, model_sha256=file_sha256(path))
        elif ":" in self.spec and not path.exists():
            _callable(self.spec, "--model")        # fail now, not on a worker
            self.kind = "factory"
            self.provenance = dict(model_factory=self.spec)
        else:
            raise ValueError(f"--model {self.spec}: No such file, and not a module:callable")
        self.provenance.update(normalize=self.normalize, noise_space=noise)

    def base_model(self):
        import torch
        if self.kind == "factory":
            try:
                model = _callable(self.spec, "--model")()
            except ValueError:
                raise
            except Exception as error:
                raise ValueError(f"--model {self.spec} failed to build the model: "
                                 f"{type(error).__name__}: {error}") from None
            if not isinstance(model, torch.nn.Module):
                raise ValueError(f"--model {self.spec!r} returned {type(model).__name__}, "
                                 "not a torch.nn.Module")
            return model
        try:
            return torch.jit.load(self.spec, map_location="cpu")
        except (RuntimeError, ValueError):
            return load_train_file(self.spec)[0]      # a file of `idrs-fast train`

    def __call__(self):
        import torch
        model = self.base_model()
        if self.normalize is not None and self.noise == "input":
            model = torch.nn.Sequential(_normalizer(self.normalize), model)
        return model.eval()


def load_data(spec, seed=0, normalize=None, noise="input"):
    """(x_train or None, y_train or None, x_test, y_test, provenance) of `--data`;
    with noise="normalized", x is normalized here (the noise is then added after)."""
    spec = str(spec)
    path = pathlib.Path(spec)
    train = (None, None)
    if spec in BUILT_IN or spec.startswith("cone:"):
        x_train, y_train, x, y = built_in_data(spec, seed)
        train = (x_train, y_train)
        provenance = dict(data=spec, data_seed=seed)
    elif path.is_file() and path.suffix == ".npz":
        with np.load(path) as archive:
            missing = [k for k in ("x", "y") if k not in archive]
            if missing:
                raise ValueError(f"--data {spec}: no array(s) {missing} in the .npz")
            x, y = archive["x"], archive["y"]
        provenance = dict(data_file=path.name, data_sha256=file_sha256(path))
    elif path.is_dir():
        x, y = _stack(_image_folder(path), spec)
        provenance = dict(data_folder=str(path), data_files=len(y))
    elif ":" in spec and not path.exists():
        x, y = _stack(_callable(spec, "--data")(), spec)
        provenance = dict(data_factory=spec)
    else:
        raise ValueError(f"--data {spec!r}: not a built-in name ({', '.join(BUILT_IN)}, cone:N), "
                         ".npz file, image folder or module:callable")
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
    if x.ndim < 2 or y.shape != (x.shape[0],) or y.dtype.kind not in "iu":
        raise ValueError(f"--data {spec}: x must be (inputs, ...) and y one integer label per "
                         f"input, got x {x.shape} and y {y.shape} {y.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"--data {spec}: x has NaN or infinite values")
    normalize = check_normalize(normalize, noise)
    if normalize is not None and noise == "normalized":
        import torch
        x = _normalizer(normalize)(torch.from_numpy(x)).numpy()
    return (*train, x, y.astype(np.int64), provenance)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _image_folder(path):
    """torchvision's ImageFolder layout without torchvision: one sub-folder per class
    (sorted names: labels 0, 1, ...), its images sorted by path, each converted to RGB
    and scaled to [0, 1] in (channels, height, width) as ToTensor does."""
    try:
        from PIL import Image
    except ImportError:
        raise ValueError(f"--data {path}: an image folder needs Pillow "
                         '(pip install "idrs_fast[images]")') from None
    classes = sorted(d.name for d in path.iterdir() if d.is_dir())
    if not classes:
        raise ValueError(f"--data {path}: no class sub-folders (ImageFolder layout: "
                         f"{path}/<class>/<image>)")
    items = []
    for label, name in enumerate(classes):
        for file in sorted((path / name).rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(file) as image:
                    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
                items.append((pixels.transpose(2, 0, 1), label))
    return items


def _stack(dataset, spec):
    """All (input, label) pairs of a torch Dataset as arrays."""
    import torch
    xs, ys = [], []
    try:
        for i in range(len(dataset)):
            item, label = dataset[i]
            xs.append(torch.as_tensor(item, dtype=torch.float32).numpy())
            ys.append(int(label))
    except (TypeError, ValueError) as error:
        raise ValueError(f"--data {spec}: items must be (input, integer label) pairs "
                         f"({error})") from None
    if not xs:
        raise ValueError(f"--data {spec}: the data set is empty")
    try:
        return np.stack(xs), np.array(ys, dtype=np.int64)
    except ValueError:
        raise ValueError(f"--data {spec}: inputs of different shapes") from None
