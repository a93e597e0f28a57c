"""`idrs-fast stability --quick` end to end: the report, its JSON and PNGs, and what
it must find on the mpmath grid (idrs_fast right everywhere, scipy broken at
lambda = 1e16)."""
import json
import subprocess
import sys
import pathlib

CONSOLE_SCRIPT = str(pathlib.Path(sys.executable).with_name("idrs-fast"))


def test_stability_quick_report(tmp_path):
    result = subprocess.run([CONSOLE_SCRIPT, "stability", "--quick", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("stability.md", "stability.json", "accuracy_idrs_fast.png", "accuracy_scipy.png",
                 "xi_curves.png"):
        assert (tmp_path / name).stat().st_size > 500, name
    data = json.loads((tmp_path / "stability.json").read_text())
    cells = data["cells"]
    assert {c["dim"] for c in cells} >= {1.0, 3072.0, 196608.0}
    assert max(c["nc"] for c in cells) == 1e16
    assert all(c["idrs_fast"]["max_error"] < 1e-12 for c in cells)
    assert all(c["scipy"]["not_finite"] + c["scipy"]["wrong"] > 0 for c in cells if c["nc"] == 1e16)
    near_cohen = data["xi"][1]
    assert near_cohen["sigma1"] / near_cohen["sigma0"] > 0.99999
    assert "| 196608 | 1e+16 |" in (tmp_path / "stability.md").read_text()
