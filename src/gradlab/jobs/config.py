"""Where each entry point's config lives, and composing it as the entry point does.

``conf/<entry>/`` is the config directory of ``experiments/<entry>.py``: its
primary ``config.yaml`` and its presets ``experiment/NAME.yaml``
(``+experiment=NAME``).  The groups that train and probe share (``data/``,
``mlflow/``, ``runtime/``, ``hydra/callbacks/``, ``hydra/launcher/``) exist once,
in ``conf/`` itself, which joins Hydra's search path as an absolute directory:
on the command line through Hydra's own ``--config-dir`` (:func:`shared_conf_arg`),
in the compose API as a ``hydra.searchpath`` override (:func:`with_shared_conf`).
Both put it right after the primary directory.  Absolute, because a relative
entry in ``hydra.searchpath`` is read against the caller's working directory,
and configs outside a Python package cannot use ``pkg://``.

:data:`VALIDATORS` maps each entry point to the function that checks its
composed config against its schema (:mod:`gradlab.schema`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from omegaconf import DictConfig

from gradlab.explain.example import example_spec
from gradlab.theory.probe import probe_spec
from gradlab.training.sequence_spec import train_spec

#: The primary config's file name in every conf/<entry>/ directory.
CONFIG_NAME = "config"
#: Preset group of every entry point: conf/<entry>/experiment/NAME.yaml.
PRESET_GROUP = "experiment"
#: Entry point (experiments/<entry>.py, conf/<entry>/) -> its config validator.
VALIDATORS: dict[str, Callable[[Mapping], object]] = {
    "train": train_spec,
    "probe": probe_spec,
    "explain": example_spec,
}
SEARCHPATH = "hydra.searchpath"


def _quoted(text: str) -> str:
    """``text`` as a quoted value of Hydra's override grammar."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def shared_conf_arg(conf: Path) -> str:
    """The command-line flag that adds ``conf`` (the shared groups) to Hydra's search path."""
    return f"--config-dir={Path(conf).resolve()}"


def with_shared_conf(overrides: Iterable[str], conf: Path) -> list[str]:
    """``overrides`` plus the absolute search path entry ``file://<conf>``.

    A ``hydra.searchpath=[...]`` the user gives keeps its entries; ``conf`` is
    appended to them (Hydra reads only one such override).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    shared = f"file://{Path(conf).resolve()}"
    out, given = [], []
    for o in overrides:
        if o.split("=", 1)[0] == SEARCHPATH:
            given = list(OverridesParser.create().parse_override(o).value())
        else:
            out.append(o)
    entries = ", ".join(_quoted(str(p)) for p in [*given, shared])
    return [*out, f"{SEARCHPATH}=[{entries}]"]


def presets(conf: Path, entry: str) -> list[str]:
    """The ``+experiment=NAME`` presets of an entry point, sorted."""
    return group_choices(conf, entry)[PRESET_GROUP][1]


#: Config groups of conf/ shared by the entry points (hydra/ is Hydra's own).
SHARED_GROUPS = ("data", "mlflow", "runtime")


def group_choices(conf: Path, entry: str) -> dict[str, tuple[str, list[str]]]:
    """Every config group an entry point can choose from (``model=rnn``, ``data=gaussian``,
    ``+experiment=NAME``): its folder (``conf/train/model``) and its options, sorted.
    The groups are the folders of conf/<entry>/ and the shared ones of conf/."""
    conf = Path(conf)
    folders = [d for d in sorted((conf / entry).iterdir()) if d.is_dir()]
    folders += [conf / g for g in SHARED_GROUPS if (conf / g).is_dir()]
    choices = {
        d.name: (f"conf/{d.relative_to(conf).as_posix()}", sorted(p.stem for p in d.glob("*.yaml")))
        for d in folders
    }
    choices.setdefault(PRESET_GROUP, (f"conf/{entry}/{PRESET_GROUP}", []))
    return choices


def compose(
    conf: Path, entry: str, overrides: Iterable[str] = (), hydra: bool = False
) -> DictConfig:
    """conf/<entry>/config.yaml composed with ``overrides``, as experiments/<entry>.py does.

    ``conf`` is the project's conf/ directory; ``hydra=True`` keeps Hydra's own
    node (sweeper params, callbacks, runtime choices).  Uses Hydra's compose
    API, so it must not run inside an initialised Hydra app.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    if entry not in VALIDATORS:
        raise ValueError(f"entry={entry!r} is not allowed; choose one of: {', '.join(VALIDATORS)}")
    conf = Path(conf)
    with initialize_config_dir(config_dir=str(conf / entry), version_base="1.3"):
        return hydra_compose(
            CONFIG_NAME,
            overrides=with_shared_conf(overrides, conf),
            return_hydra_config=hydra,
        )
