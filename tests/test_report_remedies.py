"""Figures 11–13 (preset ``remedies``): their data equal what MLflow recorded.

A tiny remedies sweep is recorded by the real job code (gradlab.jobs.train.run)
under a parent run tagged as preset ``remedies``; the figure data are compared
with the summary metrics and profiles read back through MLflow's own API, and
with hand-made tables where a rule (SELU in both panels, diverged = chance) is
tested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, train_cfg

from gradlab import names
from gradlab.jobs import train
from gradlab.report import catalog
from gradlab.report.presets import Inputs, load_theory
from gradlab.report.remedies import (
    accuracy_text,
    remedy_accuracy_data,
    remedy_gradient_data,
    remedy_label,
    update_ratio_data,
)
from gradlab.track.client import client_for
from gradlab.track.record import SweepContext

TINY = {
    "model.width": 8,
    "train.epochs": 1,
    "train.batch_size": 40,
    "train.log_every": 15,
    "train.probe_size": 100,
}
REMEDIES = {
    "plain": {},
    "adam": {"train.optimizer": "adam", "train.lr": 0.001},
    "selu": {"model.activation": "selu"},
}
DEPTHS, SEEDS = (2, 4), (0, 1)
#: every test but the hand-made one reads the recorded sweep (20 runs)
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """sigmoid/tanh × plain/Adam/SELU × depth 2, 4 × seed 0, 1; SELU recorded once per
    depth and seed, as the sweep's second activation finds it FINISHED and skips it."""
    tmp = tmp_path_factory.mktemp("remedies")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = client_for(uri)
    exp = client.create_experiment("gradlab", artifact_location=(tmp / "mlruns").as_uri())
    tags = {names.TAG_KIND: "sweep", names.TAG_SWEEP_ID: "r1", names.TAG_PRESET: "remedies"}
    parent = client.create_run(exp, tags=tags, run_name="sweep-remedies")
    sweep = SweepContext(parent.info.run_id, "r1")
    for act in ("sigmoid", "tanh"):
        for overrides in REMEDIES.values():
            for depth in DEPTHS:
                for seed in SEEDS:
                    point = {"model.activation": act, **overrides, "model.depth": depth}
                    cfg = train_cfg(**{"mlflow.tracking_uri": uri, **TINY, **point, "seed": seed})
                    train.run(cfg, ROOT, sweep)
    sweeps = load_theory(client, exp)
    return client, exp, Inputs(client, sweeps)


@slow
def test_accuracy_data_are_the_recorded_test_accuracies(store):
    client, exp, inp = store
    runs = inp.runs(names.PRESET_REMEDIES)
    assert len(runs) == 2 * 2 * 2 * 2 + 2 * 2  # SELU points are not recorded twice
    data = remedy_accuracy_data(runs).set_index(["panel", "remedy", "model.depth"])
    for (act, remedy, depth), row in data.iterrows():
        query = f"params.`model.depth` = '{depth}'"
        query += f" and params.`model.activation` = '{'selu' if remedy == 'SELU' else act}'"
        query += f" and params.`train.optimizer` = '{'adam' if remedy == 'Adam' else 'sgd'}'"
        found = client.search_runs([exp], query)
        acc = [r.data.metrics[names.TEST_ACCURACY] for r in found]
        assert row["n_seeds"] == len(SEEDS) == len(acc)
        assert row["median"] == pytest.approx(np.median(acc))
        assert (row["lo"], row["hi"]) == (min(acc), max(acc))
    # SELU replaced the activation: the same numbers in both panels
    selu = data.xs("SELU", level="remedy")
    np.testing.assert_array_equal(selu.loc["sigmoid"].to_numpy(), selu.loc["tanh"].to_numpy())


@slow
def test_gradient_data_are_the_recorded_profiles(store):
    client, _, inp = store
    p = names.PRESET_REMEDIES
    runs, history = inp.runs(p), inp.history(p)
    data = remedy_gradient_data(runs, history)
    assert set(data["depth"]) == {4}  # the upper middle of depths 2 and 4
    data = remedy_gradient_data(runs, history, depth=4)
    mine = runs[(runs["model.activation"] == "tanh") & (runs["model.depth"] == 4)]
    mine = mine[mine["train.optimizer"] == "adam"]
    for phase, prefix in ((names.PHASE_INIT, names.PROFILE_INIT), (names.PHASE_FINAL, "final")):
        key = names.profile_metric(
            names.PROFILE_FINAL if prefix == "final" else prefix, "grad_b_norm"
        )
        per_seed = [
            [m.value for m in sorted(client.get_metric_history(r, key), key=lambda m: m.step)]
            for r in mine["run_id"]
        ]
        got = data[(data["panel"] == "tanh") & (data["remedy"] == "Adam")]
        got = got[got["phase"] == phase].sort_values("layer")
        np.testing.assert_allclose(got["median"], np.median(per_seed, axis=0), rtol=1e-12)
        np.testing.assert_allclose(got["lo"], np.min(per_seed, axis=0), rtol=1e-12)


@slow
def test_update_ratio_data_average_the_logged_updates(store):
    client, _, inp = store
    p = names.PRESET_REMEDIES
    runs, history = inp.runs(p), inp.history(p)
    data = update_ratio_data(runs, history, depth=2)
    assert set(data["remedy"]) == {"plain", "Adam"}
    run = runs[(runs["model.activation"] == "sigmoid") & (runs["model.depth"] == 2)]
    run_ids = run[run["train.optimizer"] == "sgd"]["run_id"]
    per_seed = []
    for r in run_ids:
        layers = [
            client.get_metric_history(r, names.layer_metric("update_ratio", layer))
            for layer in (1, 2, 3)
        ]
        # steps 15, 30 (train) and the final step 36; step 0 (init) logs NaN
        per_seed.append([np.mean([m.value for m in h if m.step > 0]) for h in layers])
    got = data[(data["panel"] == "sigmoid") & (data["remedy"] == "plain")].sort_values("layer")
    np.testing.assert_allclose(got["median"], np.median(per_seed, axis=0), rtol=1e-12)


@slow
def test_remedy_figures_are_drawn_from_the_store(store):
    _, _, inp = store
    for fig in catalog.THEORY_FIGURES:
        if names.PRESET_REMEDIES in fig.presets:
            data, drawn = fig.draw(inp)
            assert len(data) > 0 and len(drawn.axes) >= 2
            fig.text(data)


def test_labels_and_rules_on_hand_made_runs():
    row = pd.Series(
        {"model.activation": "tanh", "model.init": "lsuv", "model.residual": "True",
         "model.norm": "layer", "train.optimizer": "adam", "train.clip_norm": 1.0}
    )  # fmt: skip
    assert remedy_label(row) == "LSUV + residual + layer norm + Adam + clipping"
    plain = {"model.init": "lecun_normal", "model.residual": "False", "model.norm": "None",
             "train.optimizer": "sgd", "train.clip_norm": np.nan}  # fmt: skip
    runs = pd.DataFrame(
        [
            {"run_id": "a", "model.activation": "sigmoid", "model.depth": 20, "seed": 0,
             names.TEST_ACCURACY: 0.9, "diverged": False, **plain},
            {"run_id": "b", "model.activation": "sigmoid", "model.depth": 20, "seed": 1,
             names.TEST_ACCURACY: 0.5, "diverged": True, **plain},
            {"run_id": "c", "model.activation": "sigmoid", "model.depth": 20, "seed": 2,
             names.TEST_ACCURACY: 0.3, "diverged": False, **plain},
        ]
    )  # fmt: skip
    data = remedy_accuracy_data(runs)
    row = data.iloc[0]
    # the diverged run counts as chance: median of 0.9, 0.1, 0.3
    assert (row["median"], row["lo"], row["hi"], row["n_seeds"]) == (0.3, 0.1, 0.9, 3)
    assert "sigmoid, depth 20" in accuracy_text(data) and "plain 0.300" in accuracy_text(data)
