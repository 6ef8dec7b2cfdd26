"""What theory predicts, and the batched ensemble probe that measures it.

``gradlab.theory.chi1``, ``q_star``, ``depth_scale``, … are the mean-field
formulas of :mod:`gradlab.theory.mean_field`, and ``c_star``, ``chi_c``,
``xi_c``, ``xi_q`` the depth scales of :mod:`gradlab.theory.depth_scales`,
re-exported here so that ``from gradlab import theory; theory.chi1(...)`` reads
like the papers.
"""

from gradlab.theory.criticality import (
    critical_curve,
    mlp_chi1,
    phase_of,
    predicted_norm_from_output,
)
from gradlab.theory.depth_scales import (
    bivariate_expectation,
    c_star,
    chi_c,
    correlation_map,
    length_map_slope,
    xi_c,
    xi_q,
)
from gradlab.theory.mean_field import (
    VarianceProducts,
    chi1,
    chi_profile,
    critical_sigma_w2,
    depth_scale,
    length_map,
    length_profile,
    predicted_delta_sq,
    predicted_delta_sq_profile,
    q_star,
    sigma_w2_of,
    sigmoid_bound,
    variance_products,
)
from gradlab.theory.quadrature import gaussian_expectation

__all__ = [
    "VarianceProducts",
    "bivariate_expectation",
    "c_star",
    "chi1",
    "chi_c",
    "chi_profile",
    "correlation_map",
    "critical_curve",
    "critical_sigma_w2",
    "depth_scale",
    "gaussian_expectation",
    "length_map",
    "length_map_slope",
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
    "xi_c",
    "xi_q",
]
