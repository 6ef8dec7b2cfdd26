"""Figures 1, 1b and 4, the data: a per-layer quantity of each run, as seed medians.

:func:`layer_profiles` turns (runs, history) into the tidy frame that
:mod:`gradlab.report.layer_figures` draws: one row per (activation, phase,
line, layer) median over seeds, plus every diverged run's last finite profile.
A line is every run that shares the ``line_by`` value and every other set-up
key that varies; only seeds are aggregated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gradlab import names
from gradlab.errors import check_choice
from gradlab.report.frames import (
    ACTIVATION,
    BANDS,
    SETUP_KEYS,
    NoDataError,
    activation_order,
    format_value,
    require,
    short_key,
    spread_edge,
    varying,
)
from gradlab.report.style import line_styles

#: σ′ ≤ 1/4: the per-layer factor of Nielsen's (ch. 5) heuristic for the sigmoid.
SIGMOID_FACTOR = 0.25


def with_lines(
    runs: pd.DataFrame, panel_key: str, line_by: str
) -> tuple[pd.DataFrame, list[str], dict[str, tuple[str, str]]]:
    """Label each run's line; return the labels in plotting order and their styles.

    A line is every run of a panel that shares ``line_by`` and every other set-up
    key that varies within the panel; only seeds are aggregated, never set-ups.
    The colour follows the ``line_by`` value (the same depth has the same colour
    in every panel); the marker tells apart the other keys ("variant").
    """
    sort_keys = [k for k in (line_by, *SETUP_KEYS) if k in runs]
    runs = runs.sort_values(sort_keys, kind="stable", na_position="last").copy()
    runs["line"], runs["_variant"] = "", ""
    for _, panel in runs.groupby(panel_key, sort=False, dropna=False):
        keys = [line_by, *varying(panel, exclude=(line_by, panel_key))]
        parts = [
            [f"{short_key(k)}={format_value(v)}" for k, v in zip(keys, row, strict=True)]
            for row in panel[keys].itertuples(index=False)
        ]
        runs.loc[panel.index, "line"] = [", ".join(p) for p in parts]
        runs.loc[panel.index, "_variant"] = [", ".join(p[1:]) for p in parts]
    runs["_hue"] = runs[line_by].map(format_value)
    return runs, list(dict.fromkeys(runs["line"])), line_styles(runs, "line", "_hue", "_variant")


def _last_finite(h: pd.DataFrame, quantity: str, upto: float) -> pd.DataFrame:
    """Rows of the latest logged step ≤ ``upto`` whose ``quantity`` is finite at every layer."""
    ok = np.isfinite(h[quantity].to_numpy(dtype=float))
    good = h.assign(_ok=ok).groupby("step")["_ok"].all()
    steps = good.index[good.to_numpy() & (good.index <= upto)]
    if len(steps) == 0:
        return h.iloc[0:0]
    return h[h["step"] == steps.max()].drop_duplicates("layer", keep="last")


def _run_curves(
    runs: pd.DataFrame, history: pd.DataFrame, quantity: str, phases, extra=()
) -> tuple[pd.DataFrame, list[str]]:
    """One row per (run, phase, layer): the curve each run contributes.

    ``kind`` is ``'run'``, or ``'diverged'`` when the run diverged (phase final)
    or the phase holds non-finite values; a diverged curve is the run's last
    profile that is finite at every layer (its "last finite point").
    """
    meta = runs.set_index("run_id")
    curves, skipped = [], []
    for run_id, h in history.groupby("run_id", sort=False):
        diverged = bool(meta.at[run_id, "diverged"])
        for phase in phases:
            sel = h[h["phase"] == phase]
            if len(sel):
                sel = sel[sel["step"] == sel["step"].max()].drop_duplicates("layer", keep="last")
            finite = np.isfinite(sel[quantity].to_numpy(dtype=float)).all()
            kind = "run"
            if (phase == names.PHASE_FINAL and diverged) or not finite:
                kind = "diverged"
                upto = sel["step"].max() if len(sel) else h["step"].max()
                sel = _last_finite(h, quantity, upto)
            if len(sel) == 0:
                why = "no finite values" if kind == "diverged" else f"no '{phase}' rows"
                skipped.append(f"{meta.at[run_id, 'run_name']} ({why})")
                continue
            part = sel[["step", "layer", quantity, *extra]].rename(columns={quantity: "value"})
            curves.append(part.assign(run_id=run_id, phase=phase, kind=kind))
    if not curves:
        raise NoDataError(f"no run has finite {quantity} values in phase(s) {', '.join(phases)}")
    return pd.concat(curves, ignore_index=True), skipped


def layer_profiles(
    runs: pd.DataFrame,
    history: pd.DataFrame,
    quantity: str,
    phases,
    line_by: str,
    band: str,
    with_bound: bool,
) -> tuple[pd.DataFrame, list, list[str]]:
    """The data of a layer-profile grid: seed medians plus each diverged run's curve."""
    check_choice("band", band, BANDS)
    for phase in phases:
        check_choice("phase", phase, (names.PHASE_INIT, names.PHASE_TRAIN, names.PHASE_FINAL))
    runs, lines, styles = with_lines(runs, ACTIVATION, line_by)
    extra = ("bound",) if with_bound else ()
    require(history, (quantity, *extra), "history")
    curves, skipped = _run_curves(runs, history, quantity, phases, extra)
    if not with_bound:
        curves["bound"] = np.nan
    curves = curves.merge(runs[["run_id", ACTIVATION, "line"]], on="run_id")
    counts = (
        runs.groupby([ACTIVATION, "line"], sort=False)
        .agg(line_runs=("run_id", "count"), line_diverged=("diverged", "sum"))
        .reset_index()
    )
    keys = [ACTIVATION, "line", "phase", "layer"]
    ok = curves[curves["kind"] == "run"]
    med = (
        ok.groupby(keys, sort=False)
        .agg(
            value=("value", "median"),
            lo=("value", lambda s: spread_edge(s, band, True)),
            hi=("value", lambda s: spread_edge(s, band, False)),
            bound=("bound", "median"),
            n_runs=("run_id", "nunique"),
            run_ids=("run_id", lambda s: ",".join(sorted(set(s)))),
        )
        .reset_index()
        .assign(kind="median", step=np.nan)
    )
    div = curves[curves["kind"] == "diverged"].rename(columns={"run_id": "run_ids"})
    div = div.assign(lo=div["value"], hi=div["value"], n_runs=1)
    data = pd.concat([med, div], ignore_index=True)
    data["envelope"] = np.nan
    is_sig = (data[ACTIVATION] == "sigmoid") & (data["kind"] == "median")
    for _, grp in data[is_sig].groupby(["line", "phase"], sort=False):
        top = grp.loc[grp["layer"].idxmax()]  # anchor: the output layer L
        data.loc[grp.index, "envelope"] = top["value"] * SIGMOID_FACTOR ** (
            top["layer"] - grp["layer"]
        )
    data = data.merge(counts, on=[ACTIVATION, "line"], how="left")
    data["line_diverged"] = data["line_diverged"].astype(int)
    orders = {
        "phase": {p: i for i, p in enumerate(phases)},
        ACTIVATION: {a: i for i, a in enumerate(activation_order(runs[ACTIVATION]))},
        "line": {name: i for i, name in enumerate(lines)},
    }
    data = data.sort_values(
        ["phase", ACTIVATION, "line", "kind", "run_ids", "layer"],
        key=lambda s: s.map(orders[s.name]) if s.name in orders else s,
        kind="stable",
    ).reset_index(drop=True)
    cols = [ACTIVATION, "phase", "line", "kind", "run_ids", "step", "layer", "value", "lo", "hi"]
    cols += ["bound", "envelope", "n_runs", "line_runs", "line_diverged"]
    return data[cols], lines, styles, skipped
