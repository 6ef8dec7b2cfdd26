"""A job's config as MLflow params and as a hash (the key of resume).

Pure functions of a plain mapping; the MLflow calls are in
:mod:`gradlab.track.client`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

#: Top-level keys that say where and how to run, not what to compute; they are
#: left out of the config hash, so moving a sweep to a server or to more cores
#: does not make finished points look new.
RUNTIME_KEYS = ("mlflow", "runtime", "force")


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
