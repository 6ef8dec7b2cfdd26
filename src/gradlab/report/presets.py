"""The runs of figures 6 onward: the latest sweep of each theory preset.

Each preset of ``names.THEORY_PRESETS`` is found by its parent run (tag
``gradlab.kind`` = ``sweep`` and ``gradlab.preset`` = the preset name); of its
children the newest run per config is used, FINISHED ones only.  Probe runs
(``experiments/probe.py``) bring their summary metrics and the
``probe_profile.csv`` / ``singular_values.csv`` artifacts, training runs their
``history.csv``; :class:`Inputs` downloads those tables once, when a figure
first asks for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from gradlab import names
from gradlab.report.frames import NoDataError, sort_runs
from gradlab.track import read

#: The script each preset runs with (its preset lives in conf/<script>/experiment/).
SCRIPTS = {
    names.PRESET_MEAN_FIELD: "probe.py",
    names.PRESET_PHASE_DIAGRAM: "probe.py",
    names.PRESET_JACOBIAN: "probe.py",
    names.PRESET_NIELSEN_CH5: "train.py",
    names.PRESET_EXPLODING: "train.py",
    names.PRESET_TRAINABILITY: "train.py",
    names.PRESET_WIDTH_VS_DEPTH: "probe.py",
    **dict.fromkeys(names.RECURRENT_PRESETS, "train.py"),
    names.PRESET_REMEDIES: "train.py",
}


@dataclass(frozen=True)
class PresetSweep:
    """The runs of the latest sweep of one preset."""

    preset: str
    label: str  # "sweep `3f2a…` of preset `x` (parent run `…`, started …)"
    runs: pd.DataFrame  # one row per point: probe frame or training runs frame
    left_out: int  # runs of the sweep that did not finish (or were superseded)


def load_preset(client, exp_id: str, preset: str) -> PresetSweep | None:
    """The latest sweep of ``preset`` and its finished runs, or None if there is none."""
    parents = client.search_runs(
        [exp_id],
        f"{read.tag(names.TAG_KIND)} = 'sweep' AND {read.tag(names.TAG_PRESET)} = '{preset}'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    if not parents:
        return None
    parent = parents[0]
    every = read.children(client, exp_id, parent.info.run_id)
    done = [r for r in read.latest_per_point(every) if r.info.status == "FINISHED"]
    probes = [r for r in done if r.data.tags.get(names.TAG_KIND) == "probe"]
    trains = [r for r in done if r.data.tags.get(names.TAG_KIND) == "train"]
    if probes:
        runs = read.runs_frame(probes, metrics=names.PROBE_SUMMARY_METRICS, tags=())
    elif trains and preset in names.RECURRENT_PRESETS:
        runs = read.runs_frame(trains, metrics=names.SEQUENCE_SUMMARY_METRICS)
    elif trains:
        runs = sort_runs(read.runs_frame(trains))
    else:
        runs = pd.DataFrame(columns=["run_id"])
    label = (
        f"sweep `{parent.data.tags.get(names.TAG_SWEEP_ID, '?')}` of preset `{preset}` "
        f"(parent run `{parent.info.run_name}`, started {read.stamp(parent.info.start_time)})"
    )
    return PresetSweep(preset, label, runs, left_out=len(every) - len(runs))


def load_theory(client, exp_id: str) -> dict[str, PresetSweep | None]:
    """:func:`load_preset` of every theory preset."""
    return {preset: load_preset(client, exp_id, preset) for preset in names.THEORY_PRESETS}


class Inputs:
    """Lazy access to the runs and artifact tables of the loaded presets."""

    def __init__(self, client, sweeps: dict[str, PresetSweep | None]):
        self.client, self.sweeps, self._cache = client, sweeps, {}

    def runs(self, preset: str) -> pd.DataFrame:
        found = self.sweeps.get(preset)
        if found is None:
            raise NoDataError(
                f"no sweep of preset `{preset}` in this experiment; record it with "
                f"`python experiments/{SCRIPTS[preset]} -m +experiment={preset}`"
            )
        if len(found.runs) == 0:
            raise NoDataError(f"the latest sweep of preset `{preset}` has no finished run")
        return found.runs

    def table(self, preset: str, artifact: str, columns) -> pd.DataFrame:
        key = (preset, artifact)
        if key not in self._cache:
            ids = self.runs(preset)["run_id"]
            self._cache[key] = read.artifact_tables(self.client, ids, artifact, columns)
        return self._cache[key]

    def profiles(self, preset: str) -> pd.DataFrame:
        return self.table(preset, names.ARTIFACT_PROBE, names.PROBE_COLUMNS)

    def singular(self, preset: str) -> pd.DataFrame:
        return self.table(preset, names.ARTIFACT_SINGULAR_VALUES, names.SINGULAR_VALUE_COLUMNS)

    def history(self, preset: str) -> pd.DataFrame:
        return self.table(preset, names.ARTIFACT_HISTORY, names.HISTORY_COLUMNS)

    def time_history(self, preset: str) -> pd.DataFrame:
        """The recurrent runs' per-time-step histories (``names.TIME_HISTORY_COLUMNS``)."""
        return self.table(preset, names.ARTIFACT_TIME_HISTORY, names.TIME_HISTORY_COLUMNS)

    def steps(self, preset: str) -> pd.DataFrame:
        """The recurrent runs' per-optimiser-step logs (``names.STEP_COLUMNS``)."""
        return self.table(preset, names.ARTIFACT_STEPS, names.STEP_COLUMNS)

    def optional(self, get: Callable[[], pd.DataFrame]) -> pd.DataFrame | None:
        try:
            return get()
        except NoDataError:
            return None
