"""Worked examples: a small network's forward and backward pass, printed in the notes'
notation, and the errata of the derivation notes checked against the engine."""
