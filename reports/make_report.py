"""Regenerate every report figure from what MLflow recorded.

    python reports/make_report.py                      # latest sweep in ./mlflow.db
    python reports/make_report.py --sweep all          # every training run
    python reports/make_report.py --tracking-uri http://127.0.0.1:5000 --sweep 3f2a9c1d0b7e

Writes <out>/figures/*.png (200 dpi), *.svg and *.csv (the data drawn), and
<out>/index.md with a two-line caption per figure and the sweep summary table.
Figures 1-5 show the training sweep chosen by --sweep/--filter (default: the
latest one outside the theory presets); figures 6-13 always the latest sweep of
each theory preset (probe_mean_field, phase_diagram, jacobian_spectrum,
nielsen_ch5, exploding, rnn_time_gap, rnn_clipping, rnn_vs_lstm), with a note
naming any preset that was never run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from gradlab.report.build import DEFAULT_EXPERIMENT, SWEEP_ALL
    from gradlab.track.client import default_tracking_uri

    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(ROOT),
        help="MLflow store to read ($MLFLOW_TRACKING_URI if set, else the project's mlflow.db)",
    )
    p.add_argument("--experiment", default=DEFAULT_EXPERIMENT, help="MLflow experiment name")
    p.add_argument(
        "--sweep",
        default=None,
        help=f"sweep id (tag gradlab.sweep_id) of figures 1-5; default: the most recent "
        f"training sweep outside the theory presets; '{SWEEP_ALL}': every training run",
    )
    p.add_argument(
        "--filter",
        default=None,
        help="extra MLflow filter, e.g. \"params.`model.activation` = 'sigmoid'\"",
    )
    p.add_argument("--out", type=Path, default=ROOT / "reports", help="output folder")
    args = p.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out={str(args.out)!r} is not allowed; it is a file, not a folder")

    from mlflow.exceptions import MlflowException

    from gradlab.report.build import ReportError, make_report

    try:
        paths = make_report(
            args.tracking_uri, args.experiment, args.sweep, args.out, args.filter, root=ROOT
        )
    except (ReportError, ValueError, OSError, MlflowException) as err:
        message = (err.message if isinstance(err, MlflowException) else str(err)).strip()
        first = message.splitlines()[0] if message else type(err).__name__
        print(f"make_report: {first}", file=sys.stderr)
        return 1
    figures = sum(path.suffix == ".png" for path in paths)
    print(f"wrote {figures} figures (PNG, SVG, CSV) to {args.out / 'figures'}")
    print(f"open {args.out / 'index.html'} in a browser ({args.out / 'index.md'} on a Git host)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
