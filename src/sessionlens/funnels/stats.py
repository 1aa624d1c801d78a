"""The uncertainty of a difference of two conversion rates: Newcombe's hybrid score interval.

Newcombe (1998), method 10: each proportion gets its Wilson score interval, and the
difference's interval is built from the distances of each proportion to its interval's
ends. Unlike the Wald interval it stays inside [-1, 1] and keeps close to its nominal
coverage with small counts and rates near 0 or 1 (a checkout step of 3 visitors out of
40). The formula is written out in docs/funnels.md.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of the proportion x/n (n > 0)."""
    p = x / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = (z / (1 + z2 / n)) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> dict[str, float] | None:
    """p1 - p2 with its 95 % Newcombe-Wilson interval; None when either group is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return {"value": d, "low": low, "high": high}
