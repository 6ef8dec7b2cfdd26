"""The training config of a recurrent run: one schema per model kind and data set.

``model.kind`` (set by conf/train/model/rnn.yaml and lstm.yaml) chooses the model
table, ``data.name`` the data table; :func:`train_schema` joins them with the keys
every training run has, so every composed config is checked against exactly the
keys of the options it chose, in one place (:func:`train_spec`).  A config
without ``model.kind`` is the MLP's (:data:`gradlab.training.spec.SCHEMA`).

The cost follows the task: the adding problem is a regression on a real target,
always trained with the quadratic c = ½(ŷ − y)²; for the classification tasks
(recall, digits_seq) ``train.cost`` chooses between softmax cross-entropy on the
linear readout (``cross_entropy``) and the quadratic cost on one-hot targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gradlab import names
from gradlab.data.sequences import DIGITS_READS, SEQUENCE_DATASETS
from gradlab.engine.activations import ACTIVATIONS
from gradlab.engine.init import INITS
from gradlab.engine.network import DTYPES
from gradlab.engine.recurrent import OUTPUTS
from gradlab.schema import Choice, Integer, Number, validate
from gradlab.training.spec import SCHEMA as MLP_SCHEMA
from gradlab.training.spec import run_name as mlp_run_name
from gradlab.training.spec import run_spec

#: ``model.kind`` of each model option (conf/train/model/<kind>.yaml sets it).
MODEL_KINDS = ("mlp", "rnn", "lstm")
RECURRENT_KINDS = names.RECURRENT_KINDS
#: ``train.cost`` of a sequence classification task → the readout cost it trains with.
SEQUENCE_COST = {"cross_entropy": "softmax_cross_entropy", "quadratic": "quadratic"}
#: Tasks whose target is a class (one-hot) rather than a real number.
CLASSIFICATION_TASKS = ("recall", "digits_seq")

_RECURRENT_COMMON = {
    "model.kind": Choice(RECURRENT_KINDS),
    "model.hidden": Integer(1),
    "model.init": Choice(tuple(INITS)),
    "model.gain": Number(minimum=0),
    "model.dtype": Choice(tuple(DTYPES)),
    "model.outputs": Choice(OUTPUTS),
}
#: The model keys of each recurrent kind (conf/train/model/<kind>.yaml).
MODEL_SCHEMAS = {
    "rnn": {
        **_RECURRENT_COMMON,
        "model.activation": Choice(tuple(ACTIVATIONS)),
        "model.spectral_radius": Number(above=0, nullable=True),
        "model.bias_std": Number(minimum=0),
    },
    "lstm": {**_RECURRENT_COMMON, "model.forget_bias": Number()},
}
_GENERATED = {
    "data.test_fraction": Number(minimum=0, below=1),
    "data.n_samples": Integer(1),
}
#: The data keys of each sequence task (conf/data/<name>.yaml).
DATA_SCHEMAS = {
    "adding": {"data.name": Choice(SEQUENCE_DATASETS), **_GENERATED, "data.length": Integer(2)},
    "recall": {
        "data.name": Choice(SEQUENCE_DATASETS),
        **_GENERATED,
        "data.length": Integer(0),
        "data.n_symbols": Integer(2),
        "data.n_distractors": Integer(1),
    },
    "digits_seq": {
        "data.name": Choice(SEQUENCE_DATASETS),
        "data.test_fraction": Number(minimum=0, below=1),
        "data.read": Choice(DIGITS_READS),
    },
}
#: Keys every training run has, whatever the model: train.*, seed, mlflow.*, runtime.*.
COMMON_SCHEMA = {k: c for k, c in MLP_SCHEMA.items() if not k.startswith(("model.", "data."))}


def model_kind(cfg: Mapping) -> str:
    """``model.kind`` of a composed config (``'mlp'`` for a config without a model group,
    as a hand-written test config may be)."""
    model = cfg.get("model")
    kind = model.get("kind", "mlp") if isinstance(model, Mapping) else "mlp"
    if kind not in MODEL_KINDS:
        raise ValueError(
            f"model.kind={kind!r} is not allowed; choose one of: {', '.join(MODEL_KINDS)}"
        )
    return kind


def train_schema(cfg: Mapping) -> dict:
    """The constraint table of ``cfg``: its model kind's keys, its data set's keys, the rest."""
    kind = model_kind(cfg)
    if kind == "mlp":
        return dict(MLP_SCHEMA)
    data = cfg.get("data")
    name = data.get("name") if isinstance(data, Mapping) else None
    if name not in DATA_SCHEMAS:
        raise ValueError(
            f"data.name={name!r} is not allowed with model.kind={kind!r}; choose one of: "
            f"{', '.join(SEQUENCE_DATASETS)} (data=adding, recall or digits_seq)"
        )
    return {**MODEL_SCHEMAS[kind], **DATA_SCHEMAS[name], **COMMON_SCHEMA}


@dataclass(frozen=True)
class SequenceSpec:
    """Everything one recurrent training run needs, typed and checked.

    ``model`` and ``data`` hold the validated keys of the chosen options without
    their group prefix (``model["hidden"]``, ``data["length"]``).
    """

    kind: str
    model: dict
    data: dict
    cost: str  # a key of gradlab.engine.recurrent.SEQUENCE_COSTS
    optimizer: str  # sgd | momentum | adam (gradlab.training.optim.make_optimizer)
    lr: float
    momentum: float
    betas: tuple[float, float]
    clip_norm: float | None
    batch_size: int
    epochs: int
    weight_decay: float
    log_every: int
    probe_size: int
    seed: int

    @property
    def task(self) -> str:
        return self.data["name"]

    @property
    def data_name(self) -> str:
        """``data.name``, as :func:`gradlab.training.spec.check_batch_size` names it."""
        return self.task

    @property
    def classification(self) -> bool:
        return self.task in CLASSIFICATION_TASKS

    @property
    def outputs(self) -> str:
        return self.model["outputs"]

    @property
    def run_name(self) -> str:
        return sequence_run_name({"model": self.model, "data": self.data, "seed": self.seed})


def sequence_run_name(cfg: Mapping) -> str:
    """``rnn-tanh-H32-rho0.9-adding-T50-s0``, also for a config with invalid values."""
    model, data = cfg.get("model", {}), cfg.get("data", {})
    kind = model.get("kind")
    parts = [str(kind)]
    if kind == "rnn":
        parts.append(str(model.get("activation")))
    parts.append(f"H{model.get('hidden')}")
    if kind == "rnn" and model.get("spectral_radius") is not None:
        parts.append(f"rho{model.get('spectral_radius')}")
    parts.append(str(data.get("name")))
    if "length" in data:
        parts.append(f"T{data.get('length')}")
    elif "read" in data:
        parts.append(str(data.get("read")))
    return "-".join([*parts, f"s{cfg.get('seed')}"])


def train_run_name(cfg: Mapping) -> str:
    """The run name of any training config (MLP or recurrent), valid or not."""
    model = cfg.get("model")
    recurrent = isinstance(model, Mapping) and model.get("kind") in RECURRENT_KINDS
    return sequence_run_name(cfg) if recurrent else mlp_run_name(cfg)


def sequence_spec(cfg: Mapping) -> SequenceSpec:
    """Validate a recurrent training config; ``ValueError`` names the bad key."""
    v = validate(cfg, train_schema(cfg))
    kind = v["model.kind"]
    task = v["data.name"]
    if task in CLASSIFICATION_TASKS:
        cost = SEQUENCE_COST[_check_cost(v["train.cost"])]
    else:
        cost = "quadratic"
    return SequenceSpec(
        kind=kind,
        model={k.split(".", 1)[1]: x for k, x in v.items() if k.startswith("model.")},
        data={k.split(".", 1)[1]: x for k, x in v.items() if k.startswith("data.")},
        cost=cost,
        optimizer=v["train.optimizer"],
        lr=v["train.lr"],
        momentum=v["train.momentum"],
        betas=tuple(v["train.betas"]),
        clip_norm=v["train.clip_norm"],
        batch_size=v["train.batch_size"],
        epochs=v["train.epochs"],
        weight_decay=v["train.weight_decay"],
        log_every=v["train.log_every"],
        probe_size=v["train.probe_size"],
        seed=v["seed"],
    )


def _check_cost(cost: str) -> str:
    if cost not in SEQUENCE_COST:
        raise ValueError(
            f"train.cost={cost!r} is not allowed for a recurrent network; choose one of: "
            f"{', '.join(SEQUENCE_COST)}"
        )
    return cost


def train_spec(cfg: Mapping):
    """The validated spec of any training config: :func:`run_spec` for an MLP,
    :func:`sequence_spec` for an RNN or LSTM (chosen by ``model.kind``)."""
    return run_spec(cfg) if model_kind(cfg) == "mlp" else sequence_spec(cfg)
