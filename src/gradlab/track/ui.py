"""The first page a newcomer sees in the MLflow UI: a saved chart view and its URL.

Left to itself, MLflow 3.17 opens an experiment in its GenAI view unless the URL
carries ``workflowType=machine_learning``, and its chart view draws one panel per
metric, on linear axes, in sections named by the part of the key before its last
``/``, sorted alphabetically: for a 20-layer run that is over a hundred panels
before the one that matters, gradient against layer.  No server option or
experiment tag changes those defaults.  What MLflow does offer is a *saved view*:
an experiment tag ``mlflow.sharedViewState.<id>`` holding ``{name, createdAt,
updatedAt, state}``, where ``state`` is the JSON of the chart layout; the
"Views" menu lists it, and a URL with ``viewStateShareKey=<id>`` opens it.

gradlab writes one such view, :data:`VIEW_NAME`, into every experiment it
records into: first a section of the profile charts (``profile_init/…`` and
``profile_final/…``, logged with step = layer l, so each chart is the curve
against layer) on log y axes, then the summary metrics; the per-layer time
series sections start collapsed.  The layout format is MLflow's own (read off
a view saved in the UI of the pinned version); ``make ui-check`` opens the URL
in a real browser and fails if MLflow stops understanding it.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from gradlab import names

#: Experiment-tag prefix of MLflow's saved and shared views.
VIEW_TAG_PREFIX = "mlflow.sharedViewState."
#: Id of gradlab's view (the tag is VIEW_TAG_PREFIX + VIEW_ID) and its name in "Views".
VIEW_ID = "gradient-vs-layer"
VIEW_NAME = "Gradient against layer"
#: The charts of the first section: (metric key, y axis scale), x = step = layer l.
PROFILE_CHARTS = (
    (names.profile_metric(names.PROFILE_INIT, "grad_b_norm"), "log"),
    (names.profile_metric(names.PROFILE_FINAL, "grad_b_norm"), "log"),
    (names.profile_metric(names.PROFILE_INIT, "delta_rms"), "log"),
    (names.profile_metric(names.PROFILE_INIT, "bound"), "log"),
    (names.profile_metric(names.PROFILE_INIT, "saturated_frac"), "linear"),
)
SECTION_NAME = "Gradient against layer (x axis: layer l = step; log y)"
#: MLflow's section of the metrics whose keys have no "/" (gradlab's summaries).
MODEL_METRICS_SECTION = "Model metrics"
#: Sections that start collapsed: every per-layer time series, and the profiles'
#: own default sections (their charts that matter are in the first section).
COLLAPSED_SECTIONS = (
    *names.PER_LAYER_QUANTITIES,
    names.PROFILE_INIT,
    names.PROFILE_FINAL,
    names.PROFILE_PROBE,
)


def _chart(i: int, key: str, scale: str, section_id: str) -> dict:
    return {
        "uuid": f"gradlab-chart-{i}",
        "type": "LINE",
        "runsCountToCompare": 10,
        "metricSectionId": section_id,
        "deleted": False,
        "isGenerated": False,
        "metricKey": key,
        "selectedMetricKeys": [key],
        "lineSmoothness": 0,
        "xAxisScaleType": "linear",
        "scaleType": scale,
        "range": {},
        "xAxisKey": "step",
        "selectedXAxisMetricKey": "",
        "yAxisKey": "metric",
        "yAxisExpressions": [],
        "ignoreOutliers": False,
        "useGlobalXaxisKey": False,
        "useGlobalLineSmoothing": True,
    }


def view_state() -> dict:
    """The chart layout of gradlab's saved view (MLflow's ``compareRunCharts`` format)."""
    first = "gradlab-section-profiles"
    sections = [
        {"uuid": first, "name": SECTION_NAME, "display": True, "isReordered": True},
        {"uuid": "gradlab-section-summary", "name": MODEL_METRICS_SECTION, "display": True,
         "isReordered": True},
    ]  # fmt: skip
    sections += [
        {"uuid": f"gradlab-section-{name}", "name": name, "display": False, "isReordered": True}
        for name in COLLAPSED_SECTIONS
    ]
    return {
        "compareRunCharts": [
            _chart(i, key, scale, first) for i, (key, scale) in enumerate(PROFILE_CHARTS)
        ],
        "compareRunSections": [{**s, "deleted": False, "isGenerated": False} for s in sections],
        "isAccordionReordered": True,
        "hideEmptyCharts": True,
    }


def view_tag(now_ms: int) -> tuple[str, str]:
    """(key, value) of the experiment tag that saves gradlab's view, created at ``now_ms``."""
    envelope = {
        "name": VIEW_NAME,
        "createdAt": now_ms,
        "updatedAt": now_ms,
        "state": json.dumps(view_state()),
    }
    return VIEW_TAG_PREFIX + VIEW_ID, json.dumps(envelope)


def experiment_url(base_url: str, experiment_id: str, view: bool = True) -> str:
    """The URL of an experiment's runs in the "Model training" view, charts shown.

    ``view=True`` opens gradlab's saved view (profile charts first, log y axes).
    """
    query = {"workflowType": "machine_learning", "compareRunsMode": "CHART"}
    if view:
        query["viewStateShareKey"] = VIEW_ID
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{urlencode(query)}"
