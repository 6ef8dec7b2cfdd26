"""The training config: its schema, validated once, before anything is written.

Hydra composes ``conf/train/config.yaml`` into a DictConfig; :func:`run_spec`
checks every key against :data:`SCHEMA` (and the rules that tie keys together)
and returns a frozen :class:`RunSpec`.  Every error is one line naming the key,
the value and what is allowed, so that a typo fails before an MLflow run exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gradlab.data import DATASETS
from gradlab.engine.activations import ACTIVATIONS
from gradlab.engine.costs import COSTS, get_cost
from gradlab.engine.init import INITS
from gradlab.engine.network import DTYPES
from gradlab.schema import RUNTIME_SCHEMA, Choice, Integer, Number, validate

#: Every key of experiments/train.py's config and what it accepts (see gradlab.schema);
#: what each key means: the comments of conf/train/config.yaml and conf/data/.
SCHEMA = {
    "model.depth": Integer(1),
    "model.width": Integer(1),
    "model.activation": Choice(tuple(ACTIVATIONS)),
    "model.output_activation": Choice(tuple(ACTIVATIONS)),
    "model.init": Choice(tuple(INITS)),
    "model.gain": Number(minimum=0),
    "model.bias_std": Number(minimum=0),
    "model.dtype": Choice(tuple(DTYPES)),
    "data.name": Choice(tuple(DATASETS)),
    "data.test_fraction": Number(minimum=0, below=1),
    "data.n_samples": Integer(1),
    "data.n_inputs": Integer(1),
    "data.n_outputs": Integer(1),
    "train.cost": Choice(tuple(COSTS)),
    "train.lr": Number(above=0),
    "train.batch_size": Integer(1),
    "train.epochs": Integer(0),
    "train.weight_decay": Number(minimum=0),
    "train.log_every": Integer(1),
    "train.probe_size": Integer(1),
    "seed": Integer(0),
    **RUNTIME_SCHEMA,
}
#: The optimiser keys of conf/train/config.yaml, added only where the table above lacks them;
#: the recurrent loop (gradlab.training.sequence_loop) reads them.
OPTIMIZER_SCHEMA = {
    "train.optimizer": Choice(("sgd", "adam")),
    "train.momentum": Number(minimum=0, below=1),
    "train.clip_norm": Number(above=0, nullable=True),
}
for _key, _constraint in OPTIMIZER_SCHEMA.items():
    SCHEMA.setdefault(_key, _constraint)


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
    """Validate a composed training config against :data:`SCHEMA`; ``ValueError`` names
    the bad key (unknown keys included)."""
    v = validate(cfg, SCHEMA)
    spec = RunSpec(
        depth=v["model.depth"],
        width=v["model.width"],
        activation=v["model.activation"],
        output_activation=v["model.output_activation"],
        init=v["model.init"],
        gain=v["model.gain"],
        bias_std=v["model.bias_std"],
        dtype=v["model.dtype"],
        data_name=v["data.name"],
        test_fraction=v["data.test_fraction"],
        n_samples=v["data.n_samples"],
        n_inputs=v["data.n_inputs"],
        n_outputs=v["data.n_outputs"],
        cost=v["train.cost"],
        lr=v["train.lr"],
        batch_size=v["train.batch_size"],
        epochs=v["train.epochs"],
        weight_decay=v["train.weight_decay"],
        log_every=v["train.log_every"],
        probe_size=v["train.probe_size"],
        seed=v["seed"],
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
