"""The configs of the three entry points: every preset composes and passes its schema,
the schemas cover exactly the composed keys, and bad input gets its one-line message.

Composition uses Hydra's compose API on the real conf/ (gradlab.jobs.config.compose,
as the entry points compose it); presets are found by entry point
(conf/<entry>/experiment/), not by a comment inside them.
"""

import shutil

import pytest
from helpers import CONF, compose_config
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from gradlab.engine.init import INITS
from gradlab.errors import ConfigError
from gradlab.explain.example import SCHEMA as EXPLAIN_SCHEMA
from gradlab.jobs.cli import check_override_keys, hydra_job
from gradlab.jobs.config import VALIDATORS, compose, group_choices, presets, with_shared_conf
from gradlab.jobs.train import run as train_run
from gradlab.schema import check_keys
from gradlab.theory.probe import SCHEMA as PROBE_SCHEMA
from gradlab.track.params import flatten
from gradlab.training.spec import SCHEMA as TRAIN_SCHEMA

SCHEMAS = {"train": TRAIN_SCHEMA, "probe": PROBE_SCHEMA, "explain": EXPLAIN_SCHEMA}
#: Every preset of every entry point, found by directory.
PRESETS = [(entry, name) for entry in VALIDATORS for name in presets(CONF, entry)]
PARSER = OverridesParser.create()


def resolved(entry, overrides=()):
    return OmegaConf.to_container(compose_config(overrides, entry), resolve=True)


def test_presets_live_with_their_entry_point():
    assert set(VALIDATORS) == set(SCHEMAS)
    # every preset file under conf/ belongs to an entry point's experiment/ group
    found = {(p.parent.parent.name, p.stem) for p in CONF.rglob("experiment/*.yaml")}
    assert found == set(PRESETS)
    assert {("train", "default_sweep"), ("train", "nielsen_ch5"), ("train", "exploding")} <= found
    assert {("probe", "phase_diagram"), ("explain", "seed_example_232")} <= found
    assert {("train", p) for p in ("rnn_time_gap", "rnn_clipping", "rnn_vs_lstm")} <= found


def sweep_points(cfg) -> list[list[str]]:
    """The override list of every job the basic sweeper makes of a preset's params."""
    params = cfg.hydra.sweeper.get("params") or {}
    parsed = PARSER.parse_overrides([f"{k}={v}" for k, v in params.items()])
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def apply(cfg, point: list[str]) -> dict:
    """``cfg`` (without Hydra's node) with one sweep point's overrides, merged as Hydra
    merges them (OmegaConf.update with merge=True), resolved."""
    base = OmegaConf.to_container(cfg, resolve=False)
    base.pop("hydra")
    job = OmegaConf.create(base)
    for o in PARSER.parse_overrides(point):
        OmegaConf.update(job, o.key_or_group, o.value(), merge=True)
    return OmegaConf.to_container(job, resolve=True)


@pytest.mark.parametrize(("entry", "preset"), PRESETS)
def test_every_point_of_every_preset_passes_its_schema(entry, preset):
    cfg = compose_config([f"+experiment={preset}"], entry, hydra=True)
    assert cfg.hydra.runtime.choices["experiment"] == preset
    points = sweep_points(cfg)
    if entry == "explain":
        assert points == [[]]  # a walkthrough is one run
    else:
        assert len(points) > 1, f"{preset} sweeps nothing"
    groups = group_choices(CONF, entry)
    composed = {}
    for point in points:
        # group choices (+remedy=adam) are composed by Hydra, once per combination
        chosen = tuple(o for o in point if o.lstrip("+").split("=")[0] in groups)
        if chosen and chosen not in composed:
            composed[chosen] = compose_config([f"+experiment={preset}", *chosen], entry, hydra=True)
        rest = [o for o in point if o not in chosen]
        VALIDATORS[entry](apply(composed[chosen] if chosen else cfg, rest))


def test_a_sweep_point_is_the_config_hydra_composes_for_it():
    cfg = compose_config(["+experiment=probe_mean_field"], "probe", hydra=True)
    point = sweep_points(cfg)[7]  # 6 cases × seeds 0, 1, 2: the third case, seed 1
    composed = resolved("probe", ["+experiment=probe_mean_field", *point])
    assert apply(cfg, point) == composed
    probe = composed["probe"]
    assert (probe["sigma_w2"], probe["sigma_b2"], probe["depth"], composed["seed"]) == (
        "critical",
        0.05,
        20,
        1,
    )


@pytest.mark.parametrize("entry", list(SCHEMAS))
def test_schema_has_exactly_the_composed_keys(entry):
    keys = set(flatten(resolved(entry)))
    assert keys == set(SCHEMAS[entry]), keys ^ set(SCHEMAS[entry])
    VALIDATORS[entry](resolved(entry))  # the primary config as shipped is valid


def test_shared_blocks_come_from_shared_groups():
    for entry in ("train", "probe"):
        primary = OmegaConf.load(CONF / entry / "config.yaml")
        assert not {"mlflow", "runtime", "force", "hydra"} & set(primary), entry
        cfg = compose_config([], entry, hydra=True)
        choices = cfg.hydra.runtime.choices
        assert (choices["mlflow"], choices["runtime"]) == ("default", "default")
        assert choices["hydra/callbacks"] == "mlflow_sweep"
        assert cfg.hydra.callbacks.mlflow_sweep._target_ == "gradlab.jobs.sweep.MlflowSweepCallback"
        assert cfg.hydra.job.chdir is False
    assert compose_config(["hydra/launcher=slurm"], "probe", hydra=True).hydra.launcher.mem_gb == 4


def test_shared_groups_are_found_from_a_conf_anywhere(tmp_path, monkeypatch):
    # a copy under a path with a space and a quote, composed from an unrelated working dir
    conf = tmp_path / "it's a dir" / "conf"
    shutil.copytree(CONF, conf)
    digits = conf / "data" / "digits.yaml"
    digits.write_text(digits.read_text().replace("test_fraction: 0.2", "test_fraction: 0.3"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = compose(conf, "train", ["+experiment=nielsen_ch5"])
    assert cfg.data.test_fraction == 0.3  # read from the copy, not from the checkout
    assert cfg.model.bias_std == 1.0 and cfg.mlflow.experiment_name == "gradlab"
    # a search path the user gives keeps its entries; the shared conf/ joins them
    extra = tmp_path / "extra" / "mlflow"
    extra.mkdir(parents=True)
    (extra / "server.yaml").write_text("tracking_uri: http://127.0.0.1:5000\nexperiment_name: x\n")
    given = [f"hydra.searchpath=[file://{tmp_path / 'extra'}]", "mlflow=server"]
    assert compose(conf, "train", given).mlflow.tracking_uri == "http://127.0.0.1:5000"
    assert with_shared_conf(["seed=1"], conf)[0] == "seed=1"


# ---- one-line messages: a bad value per kind of key, an unknown key ------------------

ACTIVATION_LIST = "sigmoid, tanh, relu, leaky_relu, linear, softplus, selu"
INIT_LIST = ", ".join([*INITS, "lsuv"])
MODEL_KEYS = (
    "kind, depth, width, activation, output_activation, init, gain, bias_std, dtype, "
    "residual, residual_scale, norm"
)


@pytest.mark.parametrize(
    ("entry", "overrides", "message"),
    [
        ("train", ["model.depth=0"], "model.depth=0 is not allowed; it must be an integer >= 1"),
        ("train", ["model.width=2.5"], "model.width=2.5 is not allowed; it must be an integer"),
        ("train", ["train.lr=0"], "train.lr=0 is not allowed; it must be a number > 0"),
        ("train", ["model.gain=-1"], "model.gain=-1 is not allowed; it must be a number >= 0"),
        (
            "train",
            ["data.test_fraction=1.0"],
            "data.test_fraction=1.0 is not allowed; it must be a number < 1",
        ),
        (
            "train",
            ["model.activation=sigmod"],
            f"model.activation='sigmod' is not allowed; choose one of: {ACTIVATION_LIST}",
        ),
        ("train", ["force=maybe"], "force='maybe' is not allowed; it must be true or false"),
        (
            "train",
            ["runtime.blas_threads=0"],
            "runtime.blas_threads=0 is not allowed; it must be an integer >= 1",
        ),
        (
            "train",
            ["mlflow.experiment_name=null"],
            "mlflow.experiment_name=None is not allowed; it must be an MLflow experiment name",
        ),
        (
            "train",
            ["+model.dpth=3"],
            f"model.dpth=3 is not allowed; model has no key 'dpth' (keys there: {MODEL_KEYS})",
        ),
        (
            "train",
            ["train.cost=cross_entropy", "model.output_activation=tanh"],
            "model.output_activation='tanh' is not allowed with train.cost='cross_entropy'; "
            "choose one of: sigmoid",
        ),
        (
            "train",
            ["model.residual=yes"],
            "model.residual='yes' is not allowed; it must be true or false",
        ),
        (
            "train",
            ["model.residual_scale=-0.5"],
            "model.residual_scale=-0.5 is not allowed; it must be a number >= 0",
        ),
        (
            "train",
            ["model.norm=group"],
            "model.norm='group' is not allowed; choose one of: layer, batch",
        ),
        (
            "train",
            ["model.norm=batch", "train.batch_size=1"],
            "train.batch_size=1 is not allowed with model.norm='batch'; it must be an integer >= 2",
        ),
        (
            "train",
            ["model.init=lsuvv"],
            "model.init='lsuvv' is not allowed; choose one of: " + INIT_LIST,
        ),
        (
            "train",
            ["train.optimizer=rmsprop"],
            "train.optimizer='rmsprop' is not allowed; choose one of: sgd, momentum, adam",
        ),
        (
            "train",
            ["train.momentum=1.0"],
            "train.momentum=1.0 is not allowed; it must be a number < 1",
        ),
        (
            "train",
            ["train.betas=[0.9]"],
            "train.betas=[0.9] is not allowed; it must be a list of 2 numbers in [0, 1)",
        ),
        (
            "train",
            ["train.betas=[0.9,1.5]"],
            "train.betas=[0.9, 1.5] is not allowed; it must be a list of 2 numbers in [0, 1)",
        ),
        (
            "train",
            ["train.clip_norm=0"],
            "train.clip_norm=0 is not allowed; it must be a number > 0",
        ),
        (
            "train",
            ["train.cost=softmax_cross_entropy"],
            "model.output_activation='sigmoid' is not allowed with "
            "train.cost='softmax_cross_entropy'; choose one of: linear",
        ),
        ("probe", ["probe.depth=3"], "probe.depth=3 is not allowed; it must be an integer >= 4"),
        (
            "probe",
            ["probe.kind=jacobian", "probe.depth=0"],
            "probe.depth=0 is not allowed; it must be an integer >= 1",
        ),
        (
            "probe",
            ["probe.sigma_w2=big"],
            "probe.sigma_w2='big' is not allowed; it must be a number > 0, 'critical' (χ₁ = 1) "
            "or null (the init's own)",
        ),
        (
            "probe",
            ["probe.input_std=-1"],
            "probe.input_std=-1 is not allowed; it must be a number >= 0",
        ),
        (
            "probe",
            ["+seeds=3"],
            "seeds=3 is not allowed; the config has no key 'seeds' (keys there: "
            "probe, seed, mlflow, runtime, force)",
        ),
        ("explain", ["docs=maybe"], "docs='maybe' is not allowed; it must be true or false"),
        ("explain", ["out=3"], "out=3 is not allowed; it must be a path or null"),
        ("explain", ["precision=-1"], "precision=-1 is not allowed; it must be an integer >= 0"),
        (
            "explain",
            ["notes=example_999"],
            "notes='example_999' is not allowed; choose one of: example_221, example_232",
        ),
    ],
)
def test_schema_messages(entry, overrides, message):
    with pytest.raises(ValueError) as err:
        VALIDATORS[entry](resolved(entry, overrides))
    assert str(err.value) == message


def test_a_group_given_a_plain_value_is_named():
    with pytest.raises(ValueError) as err:
        check_keys({"model": 5, "seed": 0}, TRAIN_SCHEMA)
    assert str(err.value) == f"model=5 is not allowed; it must be a group of keys: {MODEL_KEYS}"


@pytest.mark.parametrize(
    ("entry", "overrides", "message"),
    [
        (
            "train",
            ["model.dpth=3"],
            f"model.dpth=3 is not allowed; model has no key 'dpth' (keys there: {MODEL_KEYS})",
        ),
        (
            "probe",
            ["-m", "sed=1,2"],
            "sed=1,2 is not allowed; the config has no key 'sed' (keys there: "
            "mlflow, runtime, force, probe, seed)",
        ),
        (
            "probe",
            ["-m", "+experiment=phase_diagram,nielsen_ch5"],
            "experiment=nielsen_ch5 is not allowed; choose one of: jacobian_spectrum, "
            "phase_diagram, probe_mean_field, width_vs_depth (conf/probe/experiment/)",
        ),
        (
            "train",
            ["model=transformer"],
            "model=transformer is not allowed; choose one of: lstm, mlp, rnn (conf/train/model/)",
        ),
        (
            "train",
            ["-m", "data=digits,mnist"],
            "data=mnist is not allowed; choose one of: adding, digits, digits_seq, gaussian, "
            "mnist1d, recall (conf/data/)",
        ),
    ],
)
def test_command_line_names_what_exists(entry, overrides, message):
    with pytest.raises(ConfigError) as err:
        check_override_keys(overrides, CONF, entry)
    assert str(err.value) == message


def test_known_keys_and_presets_pass_the_command_line_check():
    check_override_keys(["-m", "+experiment=default_sweep", "model.depth=2,3"], CONF, "train")
    check_override_keys(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], CONF, "train")


def test_bad_single_run_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = compose_config(["model.activation=sigmod"])  # default store: <root>/mlflow.db
    with pytest.raises(SystemExit) as stop:
        hydra_job(cfg, tmp_path, train_run)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        f"gradlab: error: model.activation='sigmod' is not allowed; choose one of: "
        f"{ACTIVATION_LIST}\n"
    )
    assert list(tmp_path.iterdir()) == []
