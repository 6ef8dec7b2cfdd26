"""Walkthroughs (gradlab.explain.walkthrough, experiments/explain.py): every printed
number is the engine's.

The Markdown is parsed back and compared with a backprop trace; the factor table
against the bound ‖δ^l‖ ≤ sup|φ′|·‖W^{l+1}‖₂·‖δ^{l+1}‖ with ‖W‖₂ from an SVD.
The errata have their own tests (test_errata.py), as has number formatting
(test_mathfmt.py).
"""

import importlib.util
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, compose_config
from hydra import compose, initialize_config_dir

from gradlab.explain.example import build_example
from gradlab.explain.walkthrough import explain

SCRIPT = ROOT / "experiments" / "explain.py"
PRESETS = ("seed_example_221", "seed_example_232", "deep_sigmoid")

_spec = importlib.util.spec_from_file_location("explain_entry", SCRIPT)
entry = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(entry)

NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+| \\times 10\^\{-?\d+\})?")


def number(text: str) -> float:
    m, _, e = text.replace(" \\times 10^{", "e").rstrip("}").partition("e")
    return float(m) * 10.0 ** int(e or 0)


def matrices(block: str) -> list[np.ndarray]:
    """Every bmatrix of a display block, as a 2-D array."""
    out = []
    for body in re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", block, re.S):
        rows = [r for r in body.split("\\\\")]
        out.append(np.array([[number(c.strip()) for c in r.split("&")] for r in rows]))
    return out


def display_blocks(text: str) -> list[str]:
    return re.findall(r"^\$\$\n(.*?)\n\$\$$", text, re.S | re.M)


def render(*overrides: str) -> str:
    # initialised around render itself: docs=true composes the seed presets inside it
    with initialize_config_dir(str(ROOT / "conf" / "explain"), version_base="1.3"):
        return entry.render(compose(config_name="config", overrides=list(overrides)))


def traced(preset: str):
    """The example of a preset in conf/explain/experiment/, as the script builds it; its trace."""
    cfg = compose_config([f"+experiment={preset}"], config_name="explain")
    ex = entry.to_example(entry.to_spec(cfg))
    return ex, ex.net.backprop(ex.x, ex.y, cost=ex.cost)


def run_script(cwd, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def expected_blocks(net, trace, y):
    """LHS of every display block → the matrices it must show (first sample)."""
    L, W, b = trace.num_layers, net.weights, net.biases
    a = [t[0][:, None] for t in trace.a]  # a^l as columns
    z = [t[0][:, None] for t in trace.z]
    d = [t[0][:, None] for t in trace.delta]
    pp = [t[0][:, None] for t in trace.phi_prime]
    yy = y[0][:, None]
    exp = {"x": [a[0], yy], "\\nabla_a C": [a[L], yy, a[L] - yy]}
    for l in range(1, L + 1):
        exp[f"z^{{{l}}}"] = [W[l - 1], a[l - 1], b[l - 1][:, None], z[l - 1]]
        exp[f"a^{{{l}}}"] = [a[l]]
        back = W[l].T @ d[l] if l < L else a[L] - yy
        exp[f"\\delta^{{{l}}}"] = [back, pp[l - 1], d[l - 1]]
        if l < L:
            exp[f"(W^{{{l + 1}}})^\\top \\delta^{{{l + 1}}}"] = [W[l].T, d[l], back]
        exp[f"\\nabla W^{{{l}}}"] = [d[l - 1], a[l - 1].T, trace.nabla_w[l - 1]]
        exp[f"\\nabla b^{{{l}}}"] = [trace.nabla_b[l - 1][:, None]]
    return exp


def test_walkthrough_numbers_are_the_engines():
    text = render("+experiment=seed_example_232")
    ex, trace = traced("seed_example_232")
    exp = expected_blocks(ex.net, trace, ex.y)
    blocks = display_blocks(text)
    assert len(blocks) == len(exp)  # nothing shown twice, nothing left out
    for block in blocks:
        lhs = block.split(" = ")[0]
        want = exp.pop(lhs)
        got = matrices(block)
        assert len(got) == len(want), lhs
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, atol=0.5e-4 + 1e-12, rtol=0, err_msg=lhs)
    assert not exp
    # and by hand (notes §5, corrected): z^1 = [0.1·0.9 + 0.4·0.1 + 0.1, …] = [0.23, 0.11, 0.64]
    z1 = next(b for b in blocks if b.startswith("z^{1}"))
    np.testing.assert_array_equal(matrices(z1)[-1].ravel(), [0.23, 0.11, 0.64])


def test_summary_table_is_the_engines():
    text = render("+experiment=seed_example_221")
    _, trace = traced("seed_example_221")
    rows = re.findall(
        r"^\| (\d)(?: \(output\))? \| (\[.*?\]) \| (\[.*?\]) \| (\[.*?\]) \|$", text, re.M
    )
    assert [int(r[0]) for r in rows] == [2, 1]
    for layer, delta, nabla_w, nabla_b in rows:
        i = int(layer) - 1
        for shown, value in zip(
            (delta, nabla_w, nabla_b),
            (trace.delta[i][0], trace.nabla_w[i], trace.nabla_b[i]),
            strict=True,
        ):
            got = [number(t) for t in NUMBER.findall(shown)]
            np.testing.assert_allclose(got, value.ravel(), atol=0.5e-4 + 1e-12, rtol=0)


def test_committed_docs_are_what_make_docs_generates():
    # The overrides come from the Makefile's docs recipe itself.
    recipe = next(
        line for line in (ROOT / "Makefile").read_text().splitlines() if "explain.py" in line
    )
    args = shlex.split(recipe)[2:]
    out = next(a.partition("=")[2] for a in args if a.startswith("out="))
    text = render(*[a for a in args if not a.startswith("out=")])
    assert (ROOT / out).read_text(encoding="utf-8") == text


def test_wrong_weight_shape_names_layer_and_both_shapes():
    with pytest.raises(ValueError, match=r"layer 2\).*\(2, 2\).*\(2, 3\)"):
        render(
            "+experiment=seed_example_232",
            "weights=[[[0.1,0.4],[0.2,0.3],[0.5,-0.1]],[[0.3,-0.7],[0.6,0.1]]]",
        )
    with pytest.raises(ValueError, match=r"weights has 1 matrices; sizes=\[2, 3, 2\] needs 2"):
        build_example(sizes=[2, 3, 2], weights=[[[0.1, 0.4], [0.2, 0.3], [0.5, -0.1]]])
    with pytest.raises(ValueError, match=r"biases\[0\] \(b\^1, layer 1\) has shape \(2,\)"):
        build_example(sizes=[2, 3, 2], biases=[[0.1, 0.2], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("activation=sigmod", "activation='sigmod' is not allowed; choose one of: sigmoid"),
        ("precision=-1", "precision=-1 is not allowed"),
        ("notes=example_999", "notes='example_999' is not allowed; choose one of: example_221"),
        ("sizes=[2]", "sizes=[2] is not allowed"),
        ("x=[1.0,2.0,3.0]", "x has shape (1, 3)"),
        ("+model.depth=3", "model.depth=3 is not allowed; the config has no key 'model'"),
    ],
)
def test_bad_config_is_one_clear_error(override, named):
    with pytest.raises(ValueError) as err:
        render(override)
    assert named in str(err.value)


def test_deep_sigmoid_factors_are_below_their_bounds():
    text = render("+experiment=deep_sigmoid")
    ex, trace = traced("deep_sigmoid")
    L = trace.num_layers
    assert L >= 8 and max(ex.net.sizes) <= 4
    table = text.split("How the error changes from layer to layer")[1]
    rows = re.findall(r"^\| (\d+) \| (.*) \|$", table, re.M)
    assert [int(r[0]) for r in rows] == list(range(L - 1, 0, -1))
    for layer, cells in rows:
        l = int(layer)
        shown = [number(c.strip()) for c in cells.split("|")]
        factor = np.linalg.norm(trace.delta[l - 1][0]) / np.linalg.norm(trace.delta[l][0])
        bound = 0.25 * np.linalg.svd(ex.net.weights[l], compute_uv=False)[0]
        assert factor < bound  # ‖u ⊙ σ′‖ ≤ ¼‖u‖ and ‖Wᵀδ‖ ≤ ‖W‖₂‖δ‖
        assert shown[3] == pytest.approx(factor, abs=0.5e-4)
        assert shown[4] == pytest.approx(bound, abs=0.5e-4)
        assert shown[3] < shown[4]
    # the error reaching layer 1 is the product of the factors
    cum = np.linalg.norm(trace.delta[0][0]) / np.linalg.norm(trace.delta[-1][0])
    assert number(rows[-1][1].split("|")[-1].strip()) == pytest.approx(cum, rel=1e-4)


def test_several_samples_show_sample_one_and_batch_mean_gradients():
    kw = dict(sizes=[2, 3, 1], x=[[0.5, -1.0], [2.0, 0.3]], y=[[0.2], [0.9]], seed=3)
    text = explain(build_example(**kw))
    assert "$n = 2$ samples" in text
    assert_github_math(text)
    # reference: the mean of two one-sample backprops
    singles = [
        build_example(**{**kw, "x": [xr], "y": [yr]})
        for xr, yr in zip(kw["x"], kw["y"], strict=True)
    ]
    traces = [s.net.backprop(s.x, s.y) for s in singles]
    blocks = {b.split(" = ")[0]: b for b in display_blocks(text)}
    for l in (1, 2):
        mean_w = np.mean([t.nabla_w[l - 1] for t in traces], axis=0)
        shown = matrices(blocks[f"\\nabla W^{{{l}}}"])[-1]
        np.testing.assert_allclose(shown, mean_w, atol=0.5e-4 + 1e-12, rtol=0)
    np.testing.assert_allclose(
        matrices(blocks["z^{1}"])[-1].ravel(), traces[0].z[0][0], atol=0.5e-4 + 1e-12, rtol=0
    )


def test_cross_entropy_output_error_is_a_minus_y():
    ex = build_example(sizes=[3, 2], cost="cross_entropy", seed=5)
    text = explain(ex)
    block = next(b for b in display_blocks(text) if b.startswith("\\delta^{1}"))
    a, y, d = matrices(block)
    np.testing.assert_allclose(d, a - y, atol=1e-4)
    assert "there is no hidden layer" in text
    assert_github_math(text)


def assert_github_math(text: str) -> None:
    """The rules of GitHub's math rendering (module docstring of gradlab.explain.mathfmt)."""
    assert text.startswith("# ") and text.endswith("\n")
    assert "}_" not in text and ")_" not in text  # GitHub reads them as emphasis
    assert re.search(r"\\\\[^\n]", text) is None  # every matrix row break ends its line
    for line in text.splitlines():
        assert "$$" not in line or line == "$$"


@pytest.mark.parametrize("overrides", [[], *([f"+experiment={p}"] for p in PRESETS), ["docs=true"]])
def test_every_preset_renders_github_math(overrides):
    assert_github_math(render(*overrides))


def test_script_prints_the_corrected_example_and_leaves_no_files(tmp_path):
    run = run_script(tmp_path, "+experiment=seed_example_232")
    assert run.returncode == 0, run.stderr
    z1 = next(b for b in display_blocks(run.stdout) if b.startswith("z^{1}"))
    assert z1.endswith("\\begin{bmatrix} 0.2300 \\\\\n0.1100 \\\\\n0.6400 \\end{bmatrix}")
    assert list(tmp_path.iterdir()) == []  # no outputs/, .hydra/ or log file


def test_script_rejects_a_bad_override_on_one_stderr_line(tmp_path):
    run = run_script(tmp_path, "activation=sigmod")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "activation='sigmod' is not allowed; choose one of: sigmoid" in run.stderr


def test_out_writes_the_file(tmp_path):
    run = run_script(tmp_path, "+experiment=seed_example_221", "out=walk.md")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.md"]
    assert (tmp_path / "walk.md").read_text() == render("+experiment=seed_example_221")
