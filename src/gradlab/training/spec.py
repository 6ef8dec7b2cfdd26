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
from gradlab.engine.normalization import NORM_AXES
from gradlab.schema import RUNTIME_SCHEMA, Choice, Flag, Integer, Number, validate
from gradlab.training.optim import OPTIMIZER_SCHEMA

#: ``model.init`` choice that draws orthogonal weights, then rescales them on the probe
#: batch (``MLP.lsuv``): a data-dependent init, so the training loop applies it.
LSUV = "lsuv"
#: Short run-name tags of the remedies (only non-default values appear in a run name).
NORM_TAGS = {"layer": "ln", "batch": "bn"}
OPTIMIZER_TAGS = {"sgd": "", "momentum": "mom", "adam": "adam"}

#: Every key of experiments/train.py's config and what it accepts (see gradlab.schema);
#: what each key means: the comments of conf/train/config.yaml and conf/data/.
SCHEMA = {
    "model.kind": Choice(("mlp",)),
    "model.depth": Integer(1),
    "model.width": Integer(1),
    "model.activation": Choice(tuple(ACTIVATIONS)),
    "model.output_activation": Choice(tuple(ACTIVATIONS)),
    "model.init": Choice((*INITS, LSUV)),
    "model.gain": Number(minimum=0),
    "model.bias_std": Number(minimum=0),
    "model.dtype": Choice(tuple(DTYPES)),
    "model.residual": Flag(),
    "model.residual_scale": Number(minimum=0),
    "model.norm": Choice(tuple(NORM_AXES), nullable=True),
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
    **OPTIMIZER_SCHEMA,
    "seed": Integer(0),
    **RUNTIME_SCHEMA,
}


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
    residual: bool
    residual_scale: float
    norm: str | None
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
    optimizer: str
    momentum: float
    betas: tuple[float, float]
    clip_norm: float | None
    seed: int

    def sizes(self, n_inputs: int, n_outputs: int) -> list[int]:
        """[n_0, width × depth, n_L]."""
        return [n_inputs] + [self.width] * self.depth + [n_outputs]

    @property
    def run_name(self) -> str:
        """A name a person can read in the MLflow run list (:func:`run_name`)."""
        model = {
            "activation": self.activation,
            "depth": self.depth,
            "init": self.init,
            "residual": self.residual,
            "residual_scale": self.residual_scale,
            "norm": self.norm,
        }
        train = {"optimizer": self.optimizer, "clip_norm": self.clip_norm, "cost": self.cost}
        return run_name({"model": model, "train": train, "seed": self.seed})


def run_name(cfg: Mapping) -> str:
    """``sigmoid-d20-lecun_normal-res-ln-adam-s0``: the run name of a training config,
    also when its values are invalid (a rejected sweep point is still recorded under it).

    After activation, depth and init come only the remedies a run uses: ``res`` (with
    α when ``model.residual_scale`` ≠ 1), ``ln``/``bn`` (``model.norm``), ``mom``/``adam``
    (``train.optimizer``), ``clip{c}`` (``train.clip_norm``) and ``softmax``
    (``train.cost=softmax_cross_entropy``).
    """
    model, train = cfg.get("model", {}), cfg.get("train", {})
    parts = [str(model.get("activation")), f"d{model.get('depth')}", str(model.get("init"))]
    if model.get("residual") is True:
        scale = model.get("residual_scale", 1.0)
        parts.append("res" if scale == 1 else f"res{scale:g}")
    parts.append(NORM_TAGS.get(model.get("norm"), ""))
    parts.append(OPTIMIZER_TAGS.get(train.get("optimizer"), ""))
    if train.get("clip_norm") is not None:
        parts.append(f"clip{train.get('clip_norm')}")
    if train.get("cost") == "softmax_cross_entropy":
        parts.append("softmax")
    return "-".join([p for p in parts if p] + [f"s{cfg.get('seed')}"])


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
        residual=v["model.residual"],
        residual_scale=v["model.residual_scale"],
        norm=v["model.norm"],
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
        optimizer=v["train.optimizer"],
        momentum=v["train.momentum"],
        betas=v["train.betas"],
        clip_norm=v["train.clip_norm"],
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
    if spec.norm == "batch":
        # batch statistics need two rows; the loop merges a last one-row batch into the one before
        rows = {"train.batch_size": spec.batch_size, "train.probe_size": spec.probe_size}
        for key, n in rows.items():
            if n < 2:
                raise ValueError(
                    f"{key}={n} is not allowed with model.norm='batch'; it must be an integer >= 2"
                )
    return spec


def check_batch_size(spec: RunSpec, n_train: int) -> None:
    """The batch must fit in the training set (known once the data are loaded)."""
    if spec.batch_size > n_train:
        raise ValueError(
            f"train.batch_size={spec.batch_size} is not allowed; it must be <= {n_train}, "
            f"the number of training samples in data.name={spec.data_name!r}"
        )
