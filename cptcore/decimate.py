"""Choose a few thousand points of a long per-step curve so that a chart of them looks like the whole.

A 100k-step schedule drawn point by point costs megabytes of JSON per trace (dashboard notes,
"Plotting cost"). An even sample alone would cut off the corners that matter here: the end of a
warm-up, the start and end of an anneal, the jump at a re-warm-up, the peak of the general loss.
``decimate`` keeps
- every point where the LR (the first curve) changes slope or jumps, with its neighbours,
- the local extrema of the other curves (the losses),
- the first and last point and any indices the caller insists on (e.g. the transfer step),
- and fills the rest of the budget with an even sample. O(n), vectorised.
"""

from __future__ import annotations

import numpy as np


def _corners(y: np.ndarray, rel: float = 0.5) -> np.ndarray:
    """Indices where ``y`` changes slope abruptly (kinks, jumps): |second difference| is comparable
    to the slope on either side. Smooth curves (a cosine) give only a handful near their ends."""
    d1 = np.diff(y)
    if d1.size < 2:
        return np.arange(y.size)
    d2 = np.diff(d1)  # d2[i] is the change of slope at point i+1
    scale = float(np.max(np.abs(y))) or 1.0
    side = np.maximum(np.abs(d1[:-1]), np.abs(d1[1:]))
    kink = (np.abs(d2) > rel * side) & (np.abs(d2) > 1e-9 * scale)
    i = np.flatnonzero(kink) + 1
    return np.concatenate([i - 1, i, i + 1])


def _extrema(y: np.ndarray) -> np.ndarray:
    """Indices of strict local minima and maxima (sign changes of the slope), plus the global ones."""
    d = np.diff(y)
    s = np.sign(d)
    nz = np.flatnonzero(s != 0)
    if nz.size < 2:
        return np.array([int(np.nanargmin(y)), int(np.nanargmax(y))])
    turn = nz[1:][s[nz[1:]] != s[nz[:-1]]]  # slope sign flips entering step turn
    return np.concatenate([turn, [int(np.nanargmin(y)), int(np.nanargmax(y))]])


def _thin(idx: np.ndarray, budget: int) -> np.ndarray:
    """At most ``budget`` of the sorted indices, evenly spread."""
    if idx.size <= budget:
        return idx
    pick = np.linspace(0, idx.size - 1, max(budget, 2)).round().astype(int)
    return idx[np.unique(pick)]


def decimate(
    steps: np.ndarray, *ys: np.ndarray, max_points: int = 2000, keep: tuple[int, ...] = ()
) -> np.ndarray:
    """Sorted indices (at most about ``max_points``) into ``steps`` that preserve the shape of ``ys``.

    ``ys[0]`` is the LR schedule (its slope changes are kept); the others are losses (their local
    extrema are kept). Apply the indices to every per-step array you plot: ``steps[idx]``, ``y[idx]``.
    """
    n = len(steps)
    if n <= max_points:
        return np.arange(n)
    must = [np.array([0, n - 1], dtype=int), np.asarray(keep, dtype=int)]
    budget_special = max_points // 3
    if ys:
        must.append(
            _thin(np.unique(np.clip(_corners(np.asarray(ys[0], float)), 0, n - 1)), budget_special)
        )
    for y in ys[1:]:
        y = np.asarray(y, float)
        if np.all(np.isfinite(y)):
            must.append(
                _thin(np.unique(_extrema(y)), max(budget_special // max(len(ys) - 1, 1), 2))
            )
    special = np.unique(np.clip(np.concatenate(must), 0, n - 1))
    even = np.linspace(0, n - 1, max(max_points - special.size, 2)).round().astype(int)
    return np.union1d(special, even)
