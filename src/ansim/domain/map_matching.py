"""Hidden-Markov map matching (Newson & Krumm, 2009), the model without the map.

The states at each observation are candidate road positions near it. A candidate's emission is
a Gaussian of its distance from the observation; a transition between candidates of consecutive
observations is an exponential of |route distance - great-circle distance| (a car drives the
short way). The caller (geo.road_region) finds the candidates on the road graph and the route
distances; this module only weighs them: Viterbi for the most likely road path, the forward
pass for how likely each road is at the newest observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Matching:
    """What the fixes say about the roads: the best path and the newest step's posterior."""

    path: tuple[int, ...]  # candidate index per observation since the chain last broke
    first: int  # observation the path starts at (after the last break)
    posterior: tuple[float, ...]  # probability of each candidate of the newest observation
    breaks: int  # times no road path could explain consecutive observations


def emission(distances_m: Sequence[float], sigma_m: float) -> FloatArray:
    """Log-likelihood of each candidate: a Gaussian of its distance from the observation."""
    d = np.asarray(distances_m, np.float64)
    return -0.5 * (d / sigma_m) ** 2


def transition(route_m: FloatArray, straight_m: FloatArray | float, beta_m: float) -> FloatArray:
    """Log-likelihood of moving between candidates: exponential of |route - straight| (inf: none)."""
    return -np.abs(route_m - straight_m) / beta_m


def match(emissions: Sequence[FloatArray], transitions: Sequence[FloatArray]) -> Matching:
    """Viterbi and forward over the steps; `transitions[t]` is (candidates t, candidates t+1).

    A step no transition reaches (all -inf: the fixes contradict the roads, or a gap no drive
    explains) breaks the chain: it starts again from that step's emissions, as Newson & Krumm do.
    """
    if not emissions:
        raise ValueError("nothing to match")
    score = emissions[0].copy()
    forward = _normalised(emissions[0])
    back: list[npt.NDArray[np.int64]] = []
    first, breaks = 0, 0
    for t, trans in enumerate(transitions, start=1):
        total = score[:, None] + trans
        best = np.max(total, axis=0) if total.size else np.array([])
        if not np.any(np.isfinite(best)):
            score, forward, back = emissions[t].copy(), _normalised(emissions[t]), []
            first, breaks = t, breaks + 1
            continue
        back.append(np.argmax(total, axis=0))
        score = best + emissions[t]
        forward = _normalised(_logsumexp(forward[:, None] + trans, axis=0) + emissions[t])
    if not np.any(np.isfinite(score)):
        raise ValueError("no candidate at the newest observation")
    path = [int(np.argmax(score))]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    posterior = np.exp(forward)
    return Matching(tuple(reversed(path)), first, tuple(posterior.tolist()), breaks)


def _normalised(log_p: FloatArray) -> FloatArray:
    finite = log_p[np.isfinite(log_p)]
    if finite.size == 0:
        return log_p
    return log_p - float(_logsumexp(log_p, axis=0))


def _logsumexp(values: FloatArray, axis: int) -> FloatArray:
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        summed = np.log(np.sum(np.exp(values - top), axis=axis, keepdims=True)) + top
    return np.asarray(np.squeeze(summed, axis=axis), np.float64)
