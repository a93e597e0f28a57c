"""The CPU top-class counter against torch's argmax + bincount (the GPU path)."""
import numpy as np
import pytest
import torch

from idrs_fast._counting import count_top_classes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("classes", [2, 3, 10])
def test_counts_match_torch_argmax_bincount(classes, dtype):
    generator = torch.Generator().manual_seed(classes)
    rows, inputs = 997, 7
    # coarse scores: many ties; a few NaN (torch counts a NaN as the maximum)
    scores = torch.randint(0, 3, (rows, classes), generator=generator).to(dtype)
    scores[torch.rand(rows, classes, generator=generator) < 0.02] = float("nan")
    owner = torch.sort(torch.randint(0, inputs, (rows,), generator=generator)).values
    expected = torch.bincount(owner * classes + scores.argmax(1), minlength=inputs * classes)
    counts = np.full(inputs * classes, 5, dtype=np.int64)
    count_top_classes(scores.numpy(), owner.numpy(), counts, np.empty(rows + 3, np.int64))
    np.testing.assert_array_equal(counts - 5, expected.numpy())
