"""Usage errors on the command line: the flag and the problem, no 'internal error'."""

from __future__ import annotations

import subprocess
import sys


def test_out_of_range_option_is_a_usage_error(tmp_path):
    out = tmp_path / "samples"
    cmd = [sys.executable, "-m", "msfdiff.cli.main", "sample", "--run", str(tmp_path)]
    result = subprocess.run([*cmd, "--n", "0", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Invalid value for '--n'" in result.stderr
    assert "internal error" not in result.stderr
    assert not out.exists()
