"""The package's layers as they load: the pure API pulls in no adapter, and nothing imports
itself back.

The layer and forbidden-import contracts are in ``[tool.importlinter]`` of
pyproject.toml (``lint-imports`` in ``make test``); these tests add what a static
contract does not see: what an import really loads, and cycles among the entry-point
scripts, which are not a package.
"""

import itertools
import subprocess
import sys

import grimp
from helpers import ROOT

#: The adapters: tracking, plotting and configuration.
ADAPTERS = ("mlflow", "matplotlib", "hydra", "omegaconf")
#: The pure API: what a notebook or another library imports.
PURE = ("gradlab", "gradlab.engine", "gradlab.theory", "gradlab.explain")
#: Folders of scripts, imported by the graph as namespace packages from the project root.
SCRIPTS = ("experiments", "reports")


def test_importing_the_pure_api_loads_no_adapter():
    # a fresh interpreter: this test process has long since imported all of them
    code = (
        "import sys\n"
        f"for m in {PURE!r}: __import__(m)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({ADAPTERS!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def import_graph():
    """gradlab and the scripts, with a script's ``import sibling`` pointed at the sibling."""
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph(
            "gradlab", *SCRIPTS, include_external_packages=True, cache_dir=None
        )
    finally:
        sys.path.remove(str(ROOT))
    for folder in SCRIPTS:
        # a script imports its neighbours by bare name (its folder is sys.path[0] when run)
        scripts = {m.split(".")[1]: m for m in graph.find_children(folder)}
        for script in scripts.values():
            for bare in graph.find_modules_directly_imported_by(script) & scripts.keys():
                graph.add_import(importer=script, imported=scripts[bare])
    return graph


def find_cycles(graph, modules):
    """One import chain per cycle through a direct import a -> b with a path b -> ... -> a."""
    cycles = []
    for a in sorted(modules):
        for b in sorted(graph.find_modules_directly_imported_by(a) & modules):
            back = graph.find_shortest_chain(importer=b, imported=a)
            if back is not None:
                cycles.append((a, *back))
    return cycles


def test_no_import_cycles_in_the_package_or_the_scripts():
    graph = import_graph()
    ours = {m for m in graph.modules if m.split(".")[0] in ("gradlab", *SCRIPTS)}
    assert len({m.split(".")[0] for m in ours}) == 1 + len(SCRIPTS)
    cycles = find_cycles(graph, ours)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_planted_cycle():
    graph = import_graph()
    engine = sorted(graph.find_children("gradlab.engine"))
    for a, b in itertools.pairwise(engine[:3]):
        graph.add_import(importer=a, imported=b)
    graph.add_import(importer=engine[2], imported=engine[0])
    cycles = find_cycles(graph, set(engine))
    assert any(c[0] == engine[0] and c[-1] == engine[0] for c in cycles), cycles
