"""Open the MLflow UI on gradlab's runs, at the page the README describes.

    python experiments/ui.py                      # ./mlflow.db on http://127.0.0.1:5000
    python experiments/ui.py --port 5001 --tracking-uri sqlite:////abs/path/mlflow.db
    python experiments/ui.py --print-url --tracking-uri http://server:5000   # a team server

Prints the URL that opens the experiment's runs in MLflow's "Model training"
view with gradlab's saved chart view (gradient against layer on log axes, see
gradlab/track/ui.py), then runs ``mlflow ui`` on this machine only (127.0.0.1).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="store to browse (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)",
    )
    parser.add_argument("--experiment", default="gradlab", help="experiment name")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: local only)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--print-url",
        action="store_true",
        help="print the URL and exit (for a store already served elsewhere)",
    )
    return parser.parse_args(argv)  # fmt: skip


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from gradlab.track import client as tracking
    from gradlab.track import ui

    uri = tracking.resolve_tracking_uri(args.tracking_uri, ROOT)
    db = tracking.sqlite_path(uri)
    if db is not None and not db.is_file():
        print(f"gradlab: error: no store at {db}; record runs first (make run)", file=sys.stderr)
        return 1
    client = tracking.client_for(uri)
    if client.get_experiment_by_name(args.experiment) is None:
        print(
            f"gradlab: error: {uri} has no experiment {args.experiment!r}; record runs first "
            "(make run)",
            file=sys.stderr,
        )
        return 1
    experiment_id = tracking.ensure_experiment(client, args.experiment, uri)  # adds the view
    base = uri if args.print_url and uri.startswith("http") else f"http://{args.host}:{args.port}"
    print(f"Runs of {args.experiment!r}, gradient against layer first:\n  "
          f"{ui.experiment_url(base, experiment_id)}", flush=True)  # fmt: skip
    if args.print_url:
        return 0
    print("In the runs table, expand a sweep (the + beside its name) to chart its runs. "
          "Ctrl-C stops the server.", flush=True)  # fmt: skip
    mlflow = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
              "--host", args.host, "--port", str(args.port)]  # fmt: skip
    os.execv(sys.executable, mlflow)
    return 0  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
