"""Where generated data sets are kept between runs, and how a file gets there.

The directory is ``$GRADLAB_CACHE`` if set, else ``$XDG_CACHE_HOME/gradlab``,
else ``~/.cache/gradlab``.  Files are written to a temporary name in the same
directory and renamed into place, so a reader (another sweep worker) sees either
no file or a complete one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

#: Environment variable that overrides the cache directory.
CACHE_ENV = "GRADLAB_CACHE"


def cache_dir() -> Path:
    """The cache directory (not created here)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "gradlab"


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write ``arrays`` to ``path`` (.npz) so that the file appears complete or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
