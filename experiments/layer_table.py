"""Print the per-layer gradient table of one network on the digits data.

    python experiments/layer_table.py --depth 5 --activation sigmoid

A quick look without Hydra or MLflow: the network is drawn at initialisation,
backprop runs on the first 1000 training samples (Nielsen's probe batch), and
every column of ``gradlab.names.COLUMNS`` is printed, layer 1 (next to
the input) first.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

import gradlab


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=5, help="hidden layers (L = depth + 1)")
    p.add_argument("--width", type=int, default=30, help="units per hidden layer")
    p.add_argument("--activation", default="sigmoid", choices=sorted(gradlab.ACTIVATIONS))
    p.add_argument("--init", default="lecun_normal", choices=sorted(gradlab.INITS))
    p.add_argument("--cost", default="quadratic", choices=sorted(gradlab.COSTS))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.depth < 1 or args.width < 1:
        p.error(f"--depth={args.depth} and --width={args.width} must both be >= 1")

    rng = np.random.default_rng(args.seed)
    data = gradlab.load_dataset("digits", rng)
    sizes = [data.n_inputs] + [args.width] * args.depth + [data.n_outputs]
    out = "sigmoid" if args.cost == "cross_entropy" else args.activation
    net = gradlab.MLP(sizes, args.activation, out, init=args.init, seed=rng)
    trace = net.backprop(data.x_train[:1000], data.y_train[:1000], cost=args.cost)
    table = gradlab.layer_table(trace, net.weights, *net.activations)
    print(
        f"{args.activation} network {sizes}, init={args.init}, cost={args.cost}, "
        f"seed={args.seed}; probe batch of {trace.a[0].shape[0]} digits"
    )
    with pd.option_context("display.width", 200, "display.float_format", "{:.3e}".format):
        print(table.to_string(index=False))
    ratio = table["grad_b_norm"].iloc[0] / table["grad_b_norm"].iloc[-1]
    print(f"\n‖∇b^1‖ / ‖∇b^L‖ = {ratio:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
