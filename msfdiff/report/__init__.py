"""The per-run HTML report: everything a run directory holds, as one self-contained page.

>>> from msfdiff.report import write_report          # doctest: +SKIP
>>> write_report("runs/demo")                         # -> runs/demo/report.html

The report only reads the run directory (through :class:`msfdiff.layout.RunLayout`); the
``msfdiff report`` command lives in :mod:`msfdiff.cli.report`. Modules by role:
``run`` reads the run, ``sections`` builds each part of the page, ``template`` holds the HTML
and CSS, ``embed`` turns pictures into data URIs, ``screenshot`` checks the page in Chromium.
"""

from msfdiff.report.render import render_report, write_report

__all__ = ["render_report", "write_report"]
