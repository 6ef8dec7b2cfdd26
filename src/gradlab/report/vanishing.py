"""Figure 2: the vanishing factor ‖∇b^1‖/‖∇b^L‖ at initialisation against depth.

:func:`vanishing_data` turns the runs' ``vanish_ratio`` metric into one row per
(activation × init line, depth) with the median over seeds (pure);
:func:`plot_vanishing_vs_depth` draws it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gradlab import names
from gradlab.errors import check_choice
from gradlab.report.frames import (
    ACTIVATION,
    BANDS,
    DEPTH,
    INIT,
    NoDataError,
    activation_order,
    format_value,
    prepare,
    setup_text,
    short_key,
    spread_edge,
    varying,
)
from gradlab.report.layer_data import SIGMOID_FACTOR
from gradlab.report.style import LINESTYLES, line_styles, log_y, new_figure, positive, wrap


def vanishing_data(runs: pd.DataFrame, band: str = "minmax") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs with their ``line`` and ``_variant`` labels, the points of figure 2).

    The points: one row per ``line`` (activation × init, and any other set-up
    key that varies) × depth, ``value`` = median over seeds of vanish_ratio,
    ``lo``/``hi`` its band, ``n_runs``, ``n_diverged``, ``reference`` = 0.25**depth.
    """
    check_choice("band", band, BANDS)
    runs, _ = prepare(runs, None, need=(ACTIVATION, INIT, DEPTH, names.VANISH_RATIO))
    runs = runs[runs[DEPTH].notna()].copy()
    runs["_ratio"] = pd.to_numeric(runs[names.VANISH_RATIO], errors="coerce")
    if not np.isfinite(positive(runs["_ratio"])).any():
        raise NoDataError(f"no run has a positive finite {names.VANISH_RATIO}")
    runs["_act_rank"] = runs[ACTIVATION].map(
        {a: i for i, a in enumerate(activation_order(runs[ACTIVATION]))}
    )
    runs = runs.sort_values(["_act_rank", INIT, DEPTH], kind="stable")
    extra = varying(runs, exclude=(ACTIVATION, INIT, DEPTH))
    keys = [ACTIVATION, INIT, *extra]
    # colour = activation; line style and marker = init and any other varying key
    runs["_variant"] = [
        ", ".join(
            [
                format_value(r[0]),
                *(f"{short_key(k)}={format_value(v)}" for k, v in zip(extra, r[1:], strict=True)),
            ]
        )
        for r in runs[keys[1:]].itertuples(index=False)
    ]
    runs["line"] = runs[ACTIVATION].map(format_value) + ", " + runs["_variant"]
    good = runs[np.isfinite(positive(runs["_ratio"]))]
    data = (
        good.groupby(["line", ACTIVATION, INIT, DEPTH], sort=False)
        .agg(
            value=("_ratio", "median"),
            lo=("_ratio", lambda s: spread_edge(s, band, True)),
            hi=("_ratio", lambda s: spread_edge(s, band, False)),
            n_runs=("run_id", "count"),
        )
        .reset_index()
    )
    n_div = runs.groupby(["line", DEPTH], sort=False)["diverged"].sum().rename("n_diverged")
    data = data.merge(n_div.reset_index(), on=["line", DEPTH], how="left")
    data["n_diverged"] = data["n_diverged"].astype(int)
    data["reference"] = SIGMOID_FACTOR ** data[DEPTH].astype(float)
    return runs, data


def plot_vanishing_vs_depth(
    runs: pd.DataFrame, *, band: str = "minmax", title: str | None = None
) -> tuple[pd.DataFrame, Figure]:
    """Figure 2: ‖∇b^1‖/‖∇b^L‖ at initialisation against depth.

    One line per activation × init (colour = activation, line style and marker
    = init), median over seeds with a min–max (or IQR) band, on a log axis,
    with the reference (1/4)^{depth}: Nielsen's (ch. 5) heuristic, the product of
    depth sigmoid factors σ′ ≤ 1/4 if every ‖W^l‖₂ were 1; at the usual inits
    ‖W^l‖₂ ≈ 1.5–2, so it is a reference slope, not a bound.
    Set-ups with a run that later diverged get a black ✕ over their point.

    Returns
    -------
    data : DataFrame
        One row per point: ``line``, ``model.activation``, ``model.init``,
        ``model.depth``, ``value`` (median vanish_ratio), ``lo``, ``hi``,
        ``n_runs``, ``n_diverged``, ``reference`` = 0.25**depth.
    fig : Figure
    """
    runs, data = vanishing_data(runs, band)
    fig = new_figure(9.0, 6.5)
    ax = fig.subplots()
    styles = line_styles(runs, "line", ACTIVATION, "_variant")
    variants = list(dict.fromkeys(runs["_variant"]))
    for line, d in data.groupby("line", sort=False):
        d = d.sort_values(DEPTH)
        x = d[DEPTH].to_numpy(dtype=float)
        colour, marker = styles[line]
        ls = LINESTYLES[variants.index(runs.loc[runs["line"] == line, "_variant"].iloc[0]) % 4]
        ax.plot(x, d["value"], ls=ls, marker=marker, color=colour, label=line)
        if (d["n_runs"] > 1).any():
            ax.fill_between(x, d["lo"], d["hi"], color=colour, alpha=0.15, lw=0)
        hit = d[d["n_diverged"] > 0]
        if len(hit):
            ax.plot(hit[DEPTH].astype(float), hit["value"], "x", color="k", ms=9, mew=2)
    depths = np.sort(runs[DEPTH].dropna().unique().astype(float))
    grid = np.linspace(depths.min(), depths.max(), 50) if len(depths) > 1 else depths
    ax.plot(
        grid, SIGMOID_FACTOR**grid, color="k", ls="--", lw=1.2, label=r"$(1/4)^{\mathrm{depth}}$"
    )
    ax.axhline(1.0, color="0.5", lw=0.8, label="no vanishing (ratio 1)")
    if (data["n_diverged"] > 0).any():
        ax.plot(
            [], [], "x", color="k", ms=9, mew=2, label="a run of this set-up diverged in training"
        )
    log_y(ax)
    ax.set_xticks(depths)
    ax.set_xticklabels([format_value(d) for d in depths])
    ax.set_xlabel("depth = hidden layers  (L = depth + 1)")
    ax.set_ylabel(r"$\|\nabla b^1\|\,/\,\|\nabla b^L\|$ at initialisation")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    setup = setup_text(runs, exclude=(DEPTH, INIT))
    head = title or "Vanishing factor against depth, one line per activation × init"
    fig.suptitle(wrap(head + (f"\n{setup}" if setup else ""), 9.0), fontsize=11)
    return data, fig
