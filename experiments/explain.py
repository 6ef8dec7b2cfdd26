"""Write a Markdown walkthrough of backprop for one small network.

    python experiments/explain.py +experiment=seed_example_232        # the notes' [2, 3, 2]
    python experiments/explain.py +experiment=deep_sigmoid out=deep.md
    python experiments/explain.py sizes=[3,4,1] activation=tanh seed=1
    python experiments/explain.py docs=true out=docs/worked-examples.md  # what `make docs` runs

Keys and their meaning: conf/explain/config.yaml.  Presets: conf/explain/experiment/.  A bad
key or value prints one line on stderr naming it and exits with status 2.
Nothing is written besides stdout or ``out`` (no outputs/ directory, no log).
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra import compose
from omegaconf import DictConfig, OmegaConf

from gradlab.explain.example import EXAMPLE_KEYS, Example, build_example, example_spec
from gradlab.explain.walkthrough import explain, worked_examples_page

#: The presets docs/worked-examples.md is generated from, in page order.
DOCS_PRESETS = ("seed_example_221", "seed_example_232")
DOCS_COMMAND = "make docs"


def to_spec(cfg: DictConfig) -> dict:
    """The config as plain Python, checked against the explain schema
    (:data:`gradlab.explain.example.SCHEMA`); unknown keys are an error."""
    return example_spec(OmegaConf.to_container(cfg, resolve=True))


def to_example(spec: dict) -> Example:
    """The example a spec (from :func:`to_spec`) describes; bad values raise ValueError."""
    return build_example(**{k: spec[k] for k in EXAMPLE_KEYS})


def worked_examples(precision: int) -> str:
    """docs/worked-examples.md: the seed presets composed from conf/ and all errata.

    Needs an initialised Hydra (inside the app, or ``hydra.initialize_config_dir``).
    """
    examples = [
        to_example(to_spec(compose(config_name="config", overrides=[f"+experiment={preset}"])))
        for preset in DOCS_PRESETS
    ]
    return worked_examples_page(examples, precision, DOCS_COMMAND)


def render(cfg: DictConfig) -> str:
    """The Markdown a run of this script produces for ``cfg``."""
    spec = to_spec(cfg)
    if spec["docs"]:
        return worked_examples(spec["precision"])
    return explain(to_example(spec), spec["precision"])


@hydra.main(config_path="../conf/explain", config_name="config", version_base="1.3")
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
