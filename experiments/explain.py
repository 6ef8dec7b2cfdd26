"""Write a Markdown walkthrough of backprop for one small network.

    python experiments/explain.py +experiment=seed_example_232        # the notes' [2, 3, 2]
    python experiments/explain.py +experiment=deep_sigmoid out=deep.md
    python experiments/explain.py sizes=[3,4,1] activation=tanh seed=1
    python experiments/explain.py docs=true out=docs/worked-examples.md  # what `make docs` runs

Keys and their meaning: conf/explain.yaml.  Presets: conf/experiment/.  A bad
key or value prints one line on stderr naming it and exits with status 2.
Nothing is written besides stdout or ``out`` (no outputs/ directory, no log).
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra import compose
from omegaconf import DictConfig, OmegaConf

from gradlab.explain.example import Example, build_example
from gradlab.explain.walkthrough import explain, worked_examples_page

#: Keys of conf/explain.yaml that describe the example (passed to build_example).
EXAMPLE_KEYS = (
    "title",
    "sizes",
    "activation",
    "output_activation",
    "cost",
    "weights",
    "biases",
    "x",
    "y",
    "init",
    "gain",
    "bias_std",
    "seed",
    "notes",
)
KEYS = (*EXAMPLE_KEYS, "precision", "out", "docs")

#: The presets docs/worked-examples.md is generated from, in page order.
DOCS_PRESETS = ("seed_example_221", "seed_example_232")
DOCS_COMMAND = "make docs"


def to_spec(cfg: DictConfig) -> dict:
    """The config as plain Python; unknown keys (e.g. a training preset) are an error."""
    spec = OmegaConf.to_container(cfg, resolve=True)
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)} is not allowed in the explain config (a training preset?); "
            f"choose keys among: {', '.join(KEYS)}"
        )
    if not isinstance(spec["docs"], bool):
        raise ValueError(f"docs={spec['docs']!r} is not allowed; it must be true or false")
    if spec["out"] is not None and not isinstance(spec["out"], str):
        raise ValueError(f"out={spec['out']!r} is not allowed; it must be a path or null")
    return spec


def to_example(spec: dict) -> Example:
    """The example a spec (from :func:`to_spec`) describes; bad values raise ValueError."""
    return build_example(**{k: spec[k] for k in EXAMPLE_KEYS})


def worked_examples(precision: int) -> str:
    """docs/worked-examples.md: the seed presets composed from conf/ and all errata.

    Needs an initialised Hydra (inside the app, or ``hydra.initialize_config_dir``).
    """
    examples = [
        to_example(to_spec(compose(config_name="explain", overrides=[f"+experiment={preset}"])))
        for preset in DOCS_PRESETS
    ]
    return worked_examples_page(examples, precision, DOCS_COMMAND)


def render(cfg: DictConfig) -> str:
    """The Markdown a run of this script produces for ``cfg``."""
    spec = to_spec(cfg)
    if spec["docs"]:
        return worked_examples(spec["precision"])
    return explain(to_example(spec), spec["precision"])


@hydra.main(config_path="../conf", config_name="explain", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        text = render(cfg)
    except ValueError as err:
        print(f"explain.py: {err}", file=sys.stderr)
        sys.exit(2)
    if cfg.out is None:
        sys.stdout.write(text)
    else:
        Path(cfg.out).write_text(text, encoding="utf-8")
        print(f"wrote {cfg.out}")


if __name__ == "__main__":
    main()
