"""The 95 % ellipse of the filter's model mixture, scaled to hold 95 % of the mixture itself.

The filter reports one ellipse from the moment-matched (combined) covariance of its models. A
mixture is not a Gaussian: right after a walker is pulled into a car the vehicle model holds a
tenth of the probability with ten times the spread, and the moment-matched ellipse at the
Gaussian 95 % level holds only ~93 % of the mixture (and the truth less often still: the minutes
after a pick-up were the cars' misses, docs/location.md). Here the same ellipse (same centre,
shape and orientation) is scaled so that 95 % of the mixture's probability lies inside it: the
weighted 95 % quantile of the combined Mahalanobis distance over fixed draws from every model.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Fixed standard-normal points, the same for every estimate (deterministic, arrival-order free):
# radii at evenly spaced quantiles of the 2-D normal, angles turning by the golden angle, so that
# one Gaussian alone gives back its own 95 % level without sampling noise.
DRAWS = 2048
_QUANTILES = (np.arange(DRAWS) + 0.5) / DRAWS
_ANGLES = np.arange(DRAWS) * math.pi * (3.0 - math.sqrt(5.0))
_UNIT = np.sqrt(-2.0 * np.log1p(-_QUANTILES))[:, None] * np.column_stack(
    [np.cos(_ANGLES), np.sin(_ANGLES)]
)
# The Gaussian 95 % level of a 2-D Mahalanobis distance (chi-square, 2 degrees of freedom).
CHI2_95 = -2.0 * math.log(0.05)
# "grow": only ever widen the ellipse (honesty first); "fit": also narrow it where the mixture is
# tighter than its moments say; "off": the moment-matched ellipse.
MODE = "grow"


def mixture_scale(
    probs: FloatArray, means: FloatArray, covs: FloatArray, mean: FloatArray, cov: FloatArray
) -> float:
    """Factor on the combined 95 % ellipse's axes so it holds 95 % of the mixture.

    `probs` (M,), `means` (M, 2), `covs` (M, 2, 2): the models' position parts; `mean`, `cov` the
    combined (moment-matched) position mean and covariance.
    """
    if MODE == "off" or len(probs) < 2:
        return 1.0
    try:
        inverse = np.linalg.inv(cov)
        roots = np.linalg.cholesky(covs + 1e-9 * np.eye(2))
    except np.linalg.LinAlgError:
        return 1.0
    # (M, N, 2) points of every model; plain products: einsum was 10 times slower here.
    diff = means[:, None, :] + _UNIT @ roots.transpose(0, 2, 1) - mean
    dx, dy = diff[..., 0], diff[..., 1]
    d2 = (
        inverse[0, 0] * dx**2 + (inverse[0, 1] + inverse[1, 0]) * dx * dy + inverse[1, 1] * dy**2
    ).ravel()
    weights = np.repeat(probs / probs.sum() / DRAWS, DRAWS)
    order = np.argsort(d2)
    reached = np.cumsum(weights[order])
    level = float(d2[order][min(int(np.searchsorted(reached, 0.95)), len(d2) - 1)])
    scale = math.sqrt(max(level, 1e-12) / CHI2_95)
    return max(scale, 1.0) if MODE == "grow" else scale
