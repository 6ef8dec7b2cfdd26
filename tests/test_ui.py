"""The newcomer's path through the MLflow UI and the HTML report, in headless Chromium.

Runs ``experiments/ui_check.py`` (what ``make ui-check`` runs) into a temporary
folder: a small sweep, the URL ``make ui`` prints, the runs table, an expanded
sweep, the profile charts on log axes, a run's figure, ``index.html``.  Needs
Debian's chromium and Playwright for Python; CI installs both (.ci/run, the dev
extra), so there the test never skips.
"""

import os
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

pytestmark = pytest.mark.slow


def test_newcomer_path_in_chromium(tmp_path):
    missing = []
    if shutil.which("chromium") is None:
        missing.append("Debian's chromium (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser check; missing: {', '.join(missing)}")
        pytest.skip(f"the browser check needs {', '.join(missing)}")
    done = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "ui_check.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == [
        "01_runs_gradient_vs_layer.png",
        "02_run_artifact_figure.png",
        "03_report_index_html.png",
    ]
