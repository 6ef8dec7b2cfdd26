"""The training config: validated once, before anything is written.

Hydra composes ``conf/config.yaml`` into a DictConfig; :func:`run_spec` checks
every key a user may set and returns a frozen :class:`RunSpec`.  Every error is
one line naming the key, the value and what is allowed, so that a typo fails
before an MLflow run exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from gradlab.activations import ACTIVATIONS
from gradlab.costs import COSTS, get_cost
from gradlab.data import DATASETS
from gradlab.errors import check_choice, check_number, lookup
from gradlab.init import INITS
from gradlab.network import DTYPES

#: Top-level keys that say where and how to run, not what to compute; they are
#: left out of the config hash, so moving a sweep to a server or to more cores
#: does not make finished points look new.
RUNTIME_KEYS = ("mlflow", "runtime", "force")


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
        """A name a person can read in the MLflow run list."""
        return f"{self.activation}-d{self.depth}-{self.init}-s{self.seed}"


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


def flatten(cfg: Mapping, prefix: str = "") -> dict[str, object]:
    """{'model': {'depth': 5}} -> {'model.depth': 5} (MLflow params)."""
    out: dict[str, object] = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_hash(cfg: Mapping) -> str:
    """SHA-256 (16 hex digits) of the resolved config without its runtime keys."""
    science = {k: v for k, v in cfg.items() if k not in RUNTIME_KEYS and k != "hydra"}
    blob = json.dumps(flatten(science), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
