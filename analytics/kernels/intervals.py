"""Wilson score interval for binomial proportions."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtri

from analytics.kernels.checks import check_float

__all__ = ["WilsonInterval", "wilson_interval"]


class WilsonInterval(NamedTuple):
    """Wilson score interval bounds, arrays shaped like the inputs; NaN where n == 0."""

    low: np.ndarray
    high: np.ndarray


def wilson_interval(successes, n, confidence: float = 0.95) -> WilsonInterval:
    """Wilson score interval for a binomial proportion, elementwise; NaN where n == 0.

    With p = s / n and z the two-sided normal quantile, center = (p + z^2 / 2n) / (1 + z^2 / n)
    and half-width = z sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n), clipped to [0, 1]
    (Wilson 1927; the same as statsmodels' proportion_confint(method='wilson')).
    """
    confidence = check_float(confidence, "confidence", "wilson_interval", low=0, high=1, low_open=True, high_open=True)
    s = np.asarray(successes, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    if np.any(nn < 0) or np.any(s < 0) or np.any(s > nn):
        raise ValueError("The 'successes' and 'n' parameters of wilson_interval must satisfy 0 <= successes <= n.")
    z = float(-ndtri((1.0 - confidence) / 2.0))
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / nn
        denom = 1.0 + z2 / nn
        center = (p + z2 / (2.0 * nn)) / denom
        half = z * np.sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn**2)) / denom
        low = np.clip(center - half, 0.0, 1.0)
        high = np.clip(center + half, 0.0, 1.0)
    empty = nn == 0
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return WilsonInterval(low=low, high=high)
