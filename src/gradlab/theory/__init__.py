"""What theory predicts, and the batched ensemble probe that measures it.

``gradlab.theory.chi1``, ``q_star``, ``depth_scale``, … are the mean-field
formulas of :mod:`gradlab.theory.mean_field`, re-exported here so that
``from gradlab import theory; theory.chi1(...)`` reads like the papers.
"""

from gradlab.theory.criticality import (
    critical_curve,
    mlp_chi1,
    phase_of,
    predicted_norm_from_output,
)
from gradlab.theory.mean_field import (
    VarianceProducts,
    chi1,
    chi_profile,
    critical_sigma_w2,
    depth_scale,
    gaussian_expectation,
    length_map,
    length_profile,
    predicted_delta_sq,
    predicted_delta_sq_profile,
    q_star,
    sigma_w2_of,
    sigmoid_bound,
    variance_products,
)

__all__ = [
    "VarianceProducts",
    "chi1",
    "chi_profile",
    "critical_curve",
    "critical_sigma_w2",
    "depth_scale",
    "gaussian_expectation",
    "length_map",
    "length_profile",
    "mlp_chi1",
    "phase_of",
    "predicted_delta_sq",
    "predicted_delta_sq_profile",
    "predicted_norm_from_output",
    "q_star",
    "sigma_w2_of",
    "sigmoid_bound",
    "variance_products",
]
