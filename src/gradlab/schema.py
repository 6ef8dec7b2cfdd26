"""Config schemas: one constraint table per entry point, checked in one pass.

Each entry point's schema is a table ``{dotted key: constraint}`` kept beside the
code that consumes the config: ``SCHEMA`` in :mod:`gradlab.training.spec`
(``experiments/train.py``), :mod:`gradlab.theory.probe` (``experiments/probe.py``)
and :mod:`gradlab.explain.example` (``experiments/explain.py``).  A table, not a
Hydra structured config, because Hydra checks a structured config while it
composes, in the launching process and with OmegaConf's own messages: a bad
point of a sweep would stop the whole sweep instead of becoming one FAILED run,
and the message would not be ours.  Checked by :func:`validate` inside each job,
a table keeps both, and allowed values (``ACTIVATIONS``, ``INITS``, …) come from
the modules that define them.  Why each key exists is said once, in the YAML
comments of ``conf/``; ``tests/test_config.py`` checks that the composed configs
have exactly the keys of their table.

Every error is one line naming the key, the value and what is allowed
(:mod:`gradlab.errors`).  Pure Python: no Hydra, no OmegaConf.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gradlab.errors import check_choice, check_number


@dataclass(frozen=True)
class Integer:
    """An integer ≥ ``minimum``; None too if ``nullable``."""

    minimum: int
    nullable: bool = False

    def check(self, key: str, value: object) -> int | None:
        if value is None and self.nullable:
            return None
        return check_number(key, value, integer=True, minimum=self.minimum)


@dataclass(frozen=True)
class Number:
    """A finite number ≥ ``minimum`` (or > ``above``, or < ``below``); None if ``nullable``."""

    minimum: float | None = None
    above: float | None = None
    below: float | None = None
    nullable: bool = False

    def check(self, key: str, value: object) -> float | None:
        if value is None and self.nullable:
            return None
        x = check_number(key, value, minimum=self.minimum, exclusive_minimum=self.above)
        if self.below is not None and x >= self.below:
            raise ValueError(f"{key}={value!r} is not allowed; it must be a number < {self.below}")
        return x


@dataclass(frozen=True)
class Choice:
    """One of ``options``; None too if ``nullable``."""

    options: tuple[str, ...]
    nullable: bool = False

    def check(self, key: str, value: object) -> str | None:
        if value is None and self.nullable:
            return None
        return check_choice(key, value, self.options)


@dataclass(frozen=True)
class Numbers:
    """A list of ``count`` numbers, each ≥ ``minimum`` and < ``below``."""

    count: int
    minimum: float
    below: float

    def check(self, key: str, value: object) -> tuple[float, ...]:
        allowed = f"a list of {self.count} numbers in [{self.minimum:g}, {self.below:g})"
        bad = ValueError(f"{key}={value!r} is not allowed; it must be {allowed}")
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise bad
        items = list(value)
        if len(items) != self.count:
            raise bad
        try:
            out = tuple(check_number(key, v, minimum=self.minimum) for v in items)
        except ValueError:
            raise bad from None
        if any(v >= self.below for v in out):
            raise bad
        return out


@dataclass(frozen=True)
class Flag:
    """true or false."""

    def check(self, key: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key}={value!r} is not allowed; it must be true or false")
        return value


@dataclass(frozen=True)
class Text:
    """A string (a name, a path, a URI); None too if ``nullable``."""

    what: str = "a string"
    nullable: bool = False

    def check(self, key: str, value: object) -> str | None:
        if value is None and self.nullable:
            return None
        if not isinstance(value, str) or not value:
            tail = " or null" if self.nullable else ""
            raise ValueError(f"{key}={value!r} is not allowed; it must be {self.what}{tail}")
        return value


@dataclass(frozen=True)
class Checked:
    """Any value here; ``by`` checks it against other keys (e.g. shapes against sizes)."""

    by: str

    def check(self, key: str, value: object) -> object:
        return value


Constraint = Integer | Number | Numbers | Choice | Flag | Text | Checked
Schema = Mapping[str, Constraint]

#: Keys every recorded job (train.py, probe.py) has: conf/mlflow/ and conf/runtime/.
RUNTIME_SCHEMA: dict[str, Constraint] = {
    "mlflow.tracking_uri": Text("a tracking URI", nullable=True),
    "mlflow.experiment_name": Text("an MLflow experiment name"),
    "runtime.blas_threads": Integer(1, nullable=True),
    "force": Flag(),
}


def unknown_key_error(
    key: str, value: object, where: str, part: str, keys: Iterable[str]
) -> ValueError:
    """The one-line error for ``key=value`` whose ``part`` the config lacks at ``where``."""
    return ValueError(
        f"{key}={value} is not allowed; {where or 'the config'} has no key {part!r} "
        f"(keys there: {', '.join(keys) or 'none'})"
    )


def _tree(schema: Schema) -> dict:
    """{'model.depth': c} -> {'model': {'depth': c}}."""
    tree: dict = {}
    for key, constraint in schema.items():
        *groups, leaf = key.split(".")
        node = tree
        for g in groups:
            node = node.setdefault(g, {})
        node[leaf] = constraint
    return tree


def check_keys(cfg: Mapping, schema: Schema, skip: Iterable[str] = ("hydra",)) -> None:
    """Raise ``ValueError`` for the first key of ``cfg`` that ``schema`` does not have.

    A group given a plain value (``model=5``) is an error too; top-level keys in
    ``skip`` (Hydra's own node) are left alone.
    """

    def walk(node: Mapping, tree: dict, path: list[str]) -> None:
        for k, v in node.items():
            key = ".".join([*path, str(k)])
            if k not in tree:
                while isinstance(v, Mapping) and v:  # name a leaf: model.depth=3, not model={..}
                    k2, v = next(iter(v.items()))
                    key = f"{key}.{k2}"
                raise unknown_key_error(key, repr(v), ".".join(path), str(k), tree)
            if isinstance(tree[k], dict):
                if not isinstance(v, Mapping):
                    raise ValueError(
                        f"{key}={v!r} is not allowed; it must be a group of keys: "
                        f"{', '.join(tree[k])}"
                    )
                walk(v, tree[k], [*path, str(k)])

    walk({k: v for k, v in cfg.items() if k not in set(skip)}, _tree(schema), [])


def validate(cfg: Mapping, schema: Schema) -> dict[str, object]:
    """Check every key of ``cfg`` against ``schema``; the checked values by dotted key.

    Unknown keys first (:func:`check_keys`), then each key in table order: a
    missing key or a value its constraint rejects raises ``ValueError`` with one
    line naming key, value and what is allowed.  Integers come back as ``int``,
    numbers as ``float``.
    """
    check_keys(cfg, schema)
    out: dict[str, object] = {}
    for key, constraint in schema.items():
        node = cfg
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise ValueError(f"{key} is missing from the config")
            node = node[part]
        out[key] = constraint.check(key, node)
    return out
