"""The CPU top-class counter against torch's argmax + bincount (the GPU path), with
rows that hold a NaN or infinite score voting for no class (the extra last column)."""
import numpy as np
import pytest
import torch

from idrs_fast._counting import count_top_classes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("classes", [2, 3, 10])
def test_counts_match_torch_argmax_bincount(classes, dtype):
    generator = torch.Generator().manual_seed(classes)
    rows, inputs = 997, 7
    # coarse scores: many ties; a few NaN, inf and -inf (those rows vote for no class)
    scores = torch.randint(0, 3, (rows, classes), generator=generator).to(dtype)
    for value in (float("nan"), float("inf"), -float("inf")):
        scores[torch.rand(rows, classes, generator=generator) < 0.01] = value
    owner = torch.sort(torch.randint(0, inputs, (rows,), generator=generator)).values
    finite = torch.isfinite(scores).all(1)
    top = torch.where(finite, scores.argmax(1), classes)
    expected = torch.bincount(owner * (classes + 1) + top, minlength=inputs * (classes + 1))
    assert 0 < int((~finite).sum()) < rows
    counts = np.full(inputs * (classes + 1), 5, dtype=np.int64)
    count_top_classes(scores.numpy(), owner.numpy(), counts, np.empty(rows + 3, np.int64))
    np.testing.assert_array_equal(counts - 5, expected.numpy())


def test_inconsistent_arrays_are_refused_before_the_compiled_loop():
    scores = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="owner outside"):
        count_top_classes(scores, np.array([0, 1, 2, 9]), np.zeros(3 * 4, np.int64), np.empty(4, np.int64))
    with pytest.raises(ValueError, match="inconsistent"):
        count_top_classes(scores, np.zeros(2, np.int64), np.zeros(3 * 4, np.int64), np.empty(4, np.int64))
