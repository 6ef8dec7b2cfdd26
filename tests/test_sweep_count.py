"""How many jobs a sweep has, as the sweep callback counts them for its summary."""

import pytest
from omegaconf import OmegaConf

from gradlab.jobs.sweep import _sweep_overrides, count_jobs


@pytest.mark.parametrize(
    ("params", "task", "jobs"),
    [
        ({"model.depth": "2,5,10,20", "model.activation": "sigmoid,tanh,relu"}, [], 12),
        # a command-line value replaces the preset's sweep of that key (Hydra's rule)
        ({"model.depth": "2,5,10,20", "model.activation": "sigmoid,tanh,relu"},
         ["model.depth=2", "model.activation=sigmoid,tanh"], 2),
        ({"model.depth": "2,5"}, ["seed=0,1,2", "+experiment=default_sweep"], 6),
    ],
)  # fmt: skip
def test_command_line_values_replace_the_presets_sweep(params, task, jobs):
    cfg = OmegaConf.create({"hydra": {"sweeper": {"params": params}, "overrides": {"task": task}}})
    assert count_jobs(_sweep_overrides(cfg)) == jobs
