"""The top-level API: every advertised name resolves, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import msfdiff


def test_every_exported_name_resolves():
    for name in msfdiff.__all__:
        assert getattr(msfdiff, name) is not None, name
    assert msfdiff.SceneUnmixer.__module__ == "msfdiff.unmixing.estimator"


def test_import_does_not_load_torch():
    code = "import sys, msfdiff, msfdiff.cli.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
