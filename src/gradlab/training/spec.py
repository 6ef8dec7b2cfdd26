"""The training config: validated once, before anything is written.

Hydra composes ``conf/config.yaml`` into a DictConfig; :func:`run_spec` checks
every key a user may set and returns a frozen :class:`RunSpec`.  Every error is
one line naming the key, the value and what is allowed, so that a typo fails
before an MLflow run exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gradlab.data import DATASETS
from gradlab.engine.activations import ACTIVATIONS
from gradlab.engine.costs import COSTS, get_cost
from gradlab.engine.init import INITS
from gradlab.engine.network import DTYPES
from gradlab.errors import check_choice, check_number, lookup


@dataclass(frozen=True)
class RunSpec:
    """Everything one training run needs, typed and checked."""

    depth: int
    width: int
    activation: str
    output_activation: str
    init: str
    gain: float
    bias_std: float
    dtype: str
    data_name: str
    test_fraction: float
    n_samples: int
    n_inputs: int
    n_outputs: int
    cost: str
    lr: float
    batch_size: int
    epochs: int
    weight_decay: float
    log_every: int
    probe_size: int
    seed: int

    def sizes(self, n_inputs: int, n_outputs: int) -> list[int]:
        """[n_0, width × depth, n_L]."""
        return [n_inputs] + [self.width] * self.depth + [n_outputs]

    @property
    def run_name(self) -> str:
        """A name a person can read in the MLflow run list (:func:`run_name`)."""
        return run_name(
            {"model": {"activation": self.activation, "depth": self.depth, "init": self.init},
             "seed": self.seed}
        )  # fmt: skip


def run_name(cfg: Mapping) -> str:
    """``sigmoid-d5-lecun_normal-s0``: the run name of a training config, also when
    its values are invalid (a rejected sweep point is still recorded under it)."""
    model = cfg.get("model", {})
    return f"{model.get('activation')}-d{model.get('depth')}-{model.get('init')}-s{cfg.get('seed')}"


def run_spec(cfg: Mapping) -> RunSpec:
    """Validate a composed training config; raise ``ValueError`` naming the bad key."""

    def integer(key, minimum):
        return check_number(key, lookup(cfg, key), integer=True, minimum=minimum)

    def number(key, minimum=None, exclusive_minimum=None):
        return check_number(
            key, lookup(cfg, key), minimum=minimum, exclusive_minimum=exclusive_minimum
        )

    def choice(key, allowed):
        return check_choice(key, lookup(cfg, key), allowed)

    spec = RunSpec(
        depth=integer("model.depth", 1),
        width=integer("model.width", 1),
        activation=choice("model.activation", ACTIVATIONS),
        output_activation=choice("model.output_activation", ACTIVATIONS),
        init=choice("model.init", INITS),
        gain=number("model.gain", minimum=0),
        bias_std=number("model.bias_std", minimum=0),
        dtype=choice("model.dtype", DTYPES),
        data_name=choice("data.name", DATASETS),
        test_fraction=number("data.test_fraction", minimum=0),
        n_samples=integer("data.n_samples", 1),
        n_inputs=integer("data.n_inputs", 1),
        n_outputs=integer("data.n_outputs", 1),
        cost=choice("train.cost", COSTS),
        lr=number("train.lr", exclusive_minimum=0),
        batch_size=integer("train.batch_size", 1),
        epochs=integer("train.epochs", 0),
        weight_decay=number("train.weight_decay", minimum=0),
        log_every=integer("train.log_every", 1),
        probe_size=integer("train.probe_size", 1),
        seed=integer("seed", 0),
    )
    if spec.test_fraction >= 1:
        raise ValueError(
            f"data.test_fraction={spec.test_fraction!r} is not allowed; it must be < 1"
        )
    try:
        get_cost(spec.cost).check_output(spec.output_activation)
    except ValueError:
        raise ValueError(
            f"model.output_activation={spec.output_activation!r} is not allowed with "
            f"train.cost={spec.cost!r}; choose one of: "
            f"{', '.join(COSTS[spec.cost].output_activations or ())}"
        ) from None
    return spec


def check_batch_size(spec: RunSpec, n_train: int) -> None:
    """The batch must fit in the training set (known once the data are loaded)."""
    if spec.batch_size > n_train:
        raise ValueError(
            f"train.batch_size={spec.batch_size} is not allowed; it must be <= {n_train}, "
            f"the number of training samples in data.name={spec.data_name!r}"
        )
