"""The benchmark harness's statistics, on synthetic timings and a simulated clock (never timed)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "experiments" / "bench_harness.py"
_SPEC = importlib.util.spec_from_file_location("experiments_bench_harness", _PATH)
harness = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = harness  # dataclasses look their module up while defining
_SPEC.loader.exec_module(harness)


class LoadedClock:
    """Simulated time: call n of the timed work costs its seconds times the load then.

    The load grows by ``drift`` per call (another process starting up) and is
    ``spike`` times higher for the calls numbered in ``spiked``.
    """

    def __init__(self, drift: float = 1.0, spike: float = 1.0, spiked: range = range(0)) -> None:
        self.now, self.n = 0.0, 0
        self.drift, self.spike, self.spiked = drift, spike, spiked

    def __call__(self) -> float:
        return self.now

    def work(self, seconds: float):
        def run() -> None:
            load = self.drift**self.n * (self.spike if self.n in self.spiked else 1.0)
            self.now += seconds * load
            self.n += 1

        return run


def test_summarise_takes_the_median_of_per_pair_ratios_not_the_ratio_of_medians():
    # hand-made: per-pair ratios 2, 2, 2, 10; medians of the sides 3 and 1.5
    t_a = [2.0, 4.0, 6.0, 10.0]
    t_b = [1.0, 2.0, 3.0, 1.0]
    pair = harness.summarise(t_a, t_b, (5.0, 0.0))
    assert pair.ratio == pytest.approx(2.0)
    assert (pair.q1, pair.q3) == pytest.approx((2.0, 4.0))  # numpy's linear percentiles
    assert (pair.t_a, pair.t_b) == pytest.approx((5.0, 1.5))
    assert pair.best == pytest.approx(2.0)  # fastest A 2.0 over fastest B 1.0
    assert (pair.pairs, pair.faults_a, pair.faults_b) == (4, 5.0, 0.0)


def test_paired_sees_through_a_steadily_rising_load():
    clock = LoadedClock(drift=1.002)
    pair = harness.paired(clock.work(3e-3), clock.work(1e-3), 8, 5e-3, 1.0, clock=clock)
    # B's timed calls come 3 calls after A's in an A B pair (ratio 3/d³) and 3 calls
    # before in a B A pair (3d³); the median of 4 of each is 3 cosh(3 ln d) ≈ 3(1 + 2e-5)
    assert pair.pairs == 8
    assert pair.ratio == pytest.approx(3.0, rel=1e-4)
    assert clock.drift**clock.n > 1.05  # while the load rose by more than 5 % overall


def test_paired_median_ignores_a_load_spike_in_one_pair():
    # 6 warm-up calls, then 6 calls per pair (warm A, A, A, warm B, B, B; B first in odd
    # pairs): calls 16 and 17 are pair 1's timed A calls, 5× slower under the spike
    clock = LoadedClock(spike=5.0, spiked=range(16, 18))
    pair = harness.paired(clock.work(3e-3), clock.work(1e-3), 9, 5e-3, 1.0, clock=clock)
    assert pair.pairs == 9
    assert pair.ratio == pytest.approx(3.0, rel=1e-9)
    assert pair.fast_a == pytest.approx(3e-3, rel=1e-9)
    assert np.mean([3.0] * 8 + [15.0]) > 4  # what a mean of the ratios would have reported


def test_paired_on_a_quiet_clock_is_exact_and_sizes_its_timings():
    clock = LoadedClock(drift=1.0)
    calls = []

    def a() -> None:
        calls.append("a")
        clock.work(2e-3)()

    pair = harness.paired(a, clock.work(1e-3), 5, 1e-2, 1.0, clock=clock)
    assert pair.ratio == pytest.approx(2.0, rel=1e-9)
    assert (pair.q1, pair.q3) == pytest.approx((2.0, 2.0), rel=1e-9)
    assert pair.t_a == pytest.approx(2e-3, rel=1e-9)
    assert pair.pairs == 5
    # 3 warm-up calls, then per pair one untimed call and ceil(1e-2 / 2e-3) = 5 timed ones
    assert len(calls) == 3 + 5 * (1 + 5)


def test_render_names_overheads_and_ratios_and_the_section_that_is_not_paired():
    fig_pct = harness.Figure("c", 0.25, "≤ 10%", False, "d")
    fig_x = harness.Figure("c", 1.5, "≥ 3", False, "d")
    secs = [
        harness.Section("3. A", "what", [fig_pct]),
        harness.Section("5. B", "what", [fig_x], method="two subprocess runs."),
    ]
    text = harness.render(secs, [("CPU", "x")], 1.0, quick=False)
    assert "| 3 | c | +25.0% | ≤ 10% | **missed** |" in text
    assert "| 5 | c | 1.500× | ≥ 3 | **missed** |" in text
    assert "Figure 5 is not: two subprocess runs." in text
    assert "Figure 3 is not" not in text
