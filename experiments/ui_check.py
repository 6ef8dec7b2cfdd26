"""Walk the newcomer's path through the MLflow UI in headless Chromium, and check it.

    python experiments/ui_check.py                     # screenshots into reports/ui/
    python experiments/ui_check.py --out /tmp/shots    # elsewhere

Records a small sweep into a fresh store, starts ``experiments/ui.py`` on a
free port, and drives Debian's Chromium (Playwright for Python pointed at
``shutil.which("chromium")``; nothing downloads a browser) through what the
README describes: the printed URL opens the runs in the "Model training" view;
expanding the sweep shows its runs; the first chart section is gradient
against layer on log axes; a run's artifacts hold its figure, which renders;
``reports/index.html`` of that store loads with every figure rendered and no
broken link.  Each step asserts what must be on the page and saves a
screenshot.  Exit status 0 when every check passed, 1 with the failed check
on stderr.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
#: The sweep behind the screenshots: two depths × two activations, one short epoch.
SWEEP = ["model.depth=2,8", "model.activation=sigmoid,relu", "model.width=16", "train.epochs=1",
         "train.log_every=40"]  # fmt: skip
#: Chromium flags for a closed network: no background requests, no first-run UI.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


class CheckFailed(AssertionError):
    """A step of the path did not show what the README promises."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)
    print(f"  ok: {what}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record_sweep(store: Path) -> str:
    """Run the small sweep into a new store; return its tracking URI."""
    uri = f"sqlite:///{store / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    cmd = [sys.executable, str(ROOT / "experiments" / "train.py"), "-m", *SWEEP,
           f"hydra.sweep.dir={store / 'multirun'}"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    check(done.returncode == 0, f"the sweep ran (exit {done.returncode}) {done.stderr[-500:]}")
    return uri


def start_ui(uri: str, port: int) -> tuple[subprocess.Popen, str]:
    """``experiments/ui.py`` on ``port``; returns the process and the URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "experiments" / "ui.py"), "--tracking-uri", uri,
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = None
    for line in proc.stdout:
        if line.strip().startswith("http://"):
            url = line.strip()
            break
    check(url is not None, "experiments/ui.py printed the experiment URL")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    raise CheckFailed("the MLflow server answered /health within 120 s")


def decade_ticks(page) -> list[float]:
    """Distinct axis labels of the charts that are powers of ten below 0.1: on a log
    axis spanning the decades of a vanishing gradient there are several, on a
    linear one (0, 0.2, 0.4, … or 0, 50, 100, …) there are none."""
    texts = page.locator("svg text").evaluate_all("els => els.map(e => e.textContent)")
    values = set()
    for t in texts:
        try:
            v = float((t or "").strip().replace("\u2212", "-"))
        except ValueError:
            continue
        if 0 < v < 0.1 and abs(math.log10(v) - round(math.log10(v))) < 1e-9:
            values.add(v)
    return sorted(values)


def walk_ui(page, url: str, shots: Path) -> None:
    """The runs table, an expanded sweep, the profile charts, a run's figure."""
    page.goto(url)
    page.get_by_text("Runs", exact=True).first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    check("Model training" in body and "Detect Issues" not in body,
          "the URL opens the Model training view, not the GenAI one")  # fmt: skip
    assistant = page.locator("[data-component-id='mlflow.assistant.chat_panel.close']")
    if assistant.count():  # MLflow's chat panel takes a third of the page; not on our path
        assistant.first.click()
    expander = page.locator("button[data-component-id*='runnamecellrenderer']").first
    expander.wait_for(timeout=60_000)
    check("sweep-" in page.inner_text("body"), "the runs table lists the sweep's parent run")
    expander.click()
    page.get_by_text(re.compile(r"sigmoid-d8-")).first.wait_for(timeout=30_000)
    check(True, "expanding the sweep shows its runs")
    section = page.get_by_text("Gradient against layer", exact=False).first
    section.wait_for(timeout=30_000)
    page.wait_for_timeout(3000)  # let the charts draw
    decades = decade_ticks(page)
    check(len(decades) >= 3, f"the profile charts have log y axes (decade ticks {decades[:4]})")
    page.screenshot(path=str(shots / "01_runs_gradient_vs_layer.png"))
    page.get_by_text(re.compile(r"sigmoid-d8-")).first.click()
    page.get_by_text("Artifacts", exact=True).first.click()
    page.get_by_text("gradient_vs_layer.png").first.click()
    # the preview is an <img> of a blob the page fetched: wait until one has decoded
    page.wait_for_function(
        "() => [...document.images].some(i => i.complete && i.naturalWidth >= 300)",
        timeout=30_000,
    )
    widths = page.locator("img").evaluate_all("is => is.map(i => i.naturalWidth)")
    check(max(widths) >= 300, f"the run's figure renders in its artifacts ({max(widths)} px wide)")
    page.screenshot(path=str(shots / "02_run_artifact_figure.png"))


def check_report(page, index: Path, shots: Path) -> None:
    """``index.html``: loads, every figure renders, every local link resolves."""
    page.goto(index.as_uri())
    images = page.locator("img")
    check(images.count() >= 1, f"index.html shows figures ({images.count()})")
    page.wait_for_load_state("load")
    widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    check(all(w > 0 for w in widths), f"every figure of index.html renders ({len(widths)})")
    hrefs = page.locator("a[href]").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    local = [h for h in hrefs if not re.match(r"^(https?:|#|mailto:)", h)]
    broken = [h for h in local if not (index.parent / h).exists()]
    check(not broken, f"every local link of index.html resolves ({len(local)} links) {broken[:3]}")
    page.screenshot(path=str(shots / "03_report_index_html.png"), full_page=False)


def run(out: Path, report: bool = True) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    check(chromium is not None, "Debian's chromium is installed (apt-get install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        print(f"recording a {len(SWEEP)}-key sweep into {store} ...", flush=True)
        uri = record_sweep(store)
        proc, url = start_ui(uri, free_port())
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(60_000)
                walk_ui(page, url, out)
                if report:
                    reports = store / "reports"
                    cmd = [sys.executable, str(ROOT / "reports" / "make_report.py"),
                           "--tracking-uri", uri, "--out", str(reports)]  # fmt: skip
                    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                    check(done.returncode == 0, f"make_report.py wrote the report {done.stderr}")
                    check_report(page, reports / "index.html", out)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "ui",
                        help="folder for the screenshots (default: reports/ui)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        run(args.out)
    except CheckFailed as err:
        print(f"ui-check: FAILED: {err}", file=sys.stderr)
        return 1
    print(f"ui-check: every check passed; screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
