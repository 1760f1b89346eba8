"""Interacting-multiple-model Kalman filter for a person moving in a local metric plane.

State per model: [east m, north m, east m/s, north m/s, then two numbers (east, north) per
bias state]. Each motion model is an integrated Ornstein-Uhlenbeck velocity: the velocity
wanders with a stationary spread and forgets itself over `tau_s`, so a walker can pause and turn
and a car can accelerate and corner, and a stale estimate spreads out linearly in variance once
the velocity is forgotten. Each bias state is a unit Gauss-Markov process per axis with its own
memory: a positioning method's error that persists in time (a mis-surveyed Wi-Fi access point,
indoor GNSS multipath), which a measurement scales to its own size (see fusion.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]


def _pattern(*cells: tuple[int, int]) -> list[float]:
    flat = [0.0] * 16
    for row, col in cells:
        flat[4 * row + col] = 1.0
    return flat


# Where the three numbers of a motion model's F and Q go (see MotionModel.transition).
_F_PATTERN = np.array(
    [_pattern((0, 0), (1, 1)), _pattern((0, 2), (1, 3)), _pattern((2, 2), (3, 3))]
)
_Q_PATTERN = np.array(
    [
        _pattern((0, 0), (1, 1)),
        _pattern((0, 2), (2, 0), (1, 3), (3, 1)),
        _pattern((2, 2), (3, 3)),
    ]
)
# Keeps every model alive so the filter can switch back even after a long run of one mode.
_MIN_MODE_PROBABILITY = 1e-4
_REMEMBERED_STEPS = 256


@dataclass(frozen=True, slots=True)
class MotionModel:
    """An integrated Ornstein-Uhlenbeck velocity model (per axis, axes independent)."""

    name: str
    speed_sigma_mps: float
    tau_s: float

    def transition(self, dt: float) -> tuple[Matrix, Matrix]:
        """Returns (F, Q) for a step of `dt` seconds."""
        f, q = self.weights(dt)
        return (
            (np.array(f) @ _F_PATTERN).reshape(4, 4),
            (np.array(q) @ _Q_PATTERN).reshape(4, 4),
        )

    def weights(self, dt: float) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """F's (1, position from velocity, velocity kept) and Q's (pos, pos-vel, vel) numbers."""
        tau, s2 = self.tau_s, self.speed_sigma_mps**2
        e = math.exp(-dt / tau)
        f_pv = tau * (1.0 - e)
        q_pp = 2.0 * s2 * tau * (dt - 2.0 * tau * (1.0 - e) + 0.5 * tau * (1.0 - e * e))
        q_pv = s2 * tau * (1.0 - e) ** 2
        q_vv = s2 * (1.0 - e * e)
        return (1.0, f_pv, e), (max(q_pp, 0.0), q_pv, q_vv)


@dataclass(frozen=True, slots=True)
class Measurement:
    """z = h x + noise(r): a position (2 rows) or position and velocity (4 rows)."""

    z: Vector
    r: Matrix
    h: Matrix


@dataclass(frozen=True, slots=True)
class ImmState:
    """Per-model means, covariances and mode probabilities; treated as immutable."""

    means: Matrix  # (M, 4)
    covs: npt.NDArray[np.float64]  # (M, 4, 4)
    probs: Vector  # (M,)

    def combined(self) -> tuple[Vector, Matrix]:
        """Moment-matched mean and covariance of the model mixture."""
        mean = self.probs @ self.means
        diff = self.means - mean
        m, n = self.means.shape
        cov = (self.probs @ self.covs.reshape(m, n * n)).reshape(n, n) + (
            diff.T * self.probs
        ) @ diff
        return mean, cov


@dataclass(frozen=True, slots=True)
class Innovation:
    """How far a measurement sits from the combined prediction."""

    mahalanobis2: float
    residual: Vector
    covariance: Matrix


class ImmFilter:
    """IMM over a fixed set of motion models with continuous-time mode switching.

    Every step works on all models at once (stacked arrays): with 4x4 matrices numpy's cost is
    per call, not per element, and a loop over the models was most of a fix's filtering time.
    """

    def __init__(
        self,
        models: tuple[MotionModel, ...],
        switch_rates: Matrix,
        prior: Vector,
        bias_memory_s: tuple[float, ...] = (),
    ) -> None:
        self.models = models
        # Memory (s) of each unit Gauss-Markov bias state; state size 4 + 2 per bias.
        self.bias_memory_s = bias_memory_s
        self.size = 4 + 2 * len(bias_memory_s)
        self._rates = switch_rates
        self._prior = prior
        # expm(R dt) = V exp(L dt) V^-1, diagonalised once: scipy's expm per step was the hot spot.
        eigenvalues, vectors = np.linalg.eig(switch_rates)
        self._eig = (eigenvalues, vectors, np.linalg.inv(vectors))
        self._eyes = np.tile(np.eye(self.size), (len(models), 1, 1))
        # Devices report at a fixed interval, so the same step length comes back again and again.
        self._by_dt: dict[float, tuple[Matrix, Matrix, Matrix]] = {}

    def _step_matrices(self, dt: float) -> tuple[Matrix, Matrix, Matrix]:
        """(switch, F, Q) for a step of `dt` seconds, remembered for the recent step lengths."""
        known = self._by_dt.get(dt)
        if known is None:
            if len(self._by_dt) >= _REMEMBERED_STEPS:
                self._by_dt.clear()
            f, q = self._transitions(dt)
            known = self._by_dt[dt] = (self._switch(dt), f, q)
        return known

    def _switch(self, dt: float) -> Matrix:
        eigenvalues, vectors, inverse = self._eig
        p = (vectors * np.exp(eigenvalues * dt)) @ inverse
        return cast(Matrix, np.minimum(np.maximum(p.real, 0.0), 1.0))

    def _transitions(self, dt: float) -> tuple[Matrix, Matrix]:
        """(F, Q) of every model for a step of `dt` seconds, stacked (M, 4, 4)."""
        # Each matrix is a fixed pattern weighted by three numbers (scalar maths: numpy's cost
        # per call outweighs three models' worth of arithmetic).
        weights = [model.weights(dt) for model in self.models]
        f4 = (np.array([w[0] for w in weights]) @ _F_PATTERN).reshape(-1, 4, 4)
        q4 = (np.array([w[1] for w in weights]) @ _Q_PATTERN).reshape(-1, 4, 4)
        if not self.bias_memory_s:
            return f4, q4
        m, n = len(self.models), self.size
        f, q = np.zeros((m, n, n)), np.zeros((m, n, n))
        f[:, :4, :4], q[:, :4, :4] = f4, q4
        for b, tau in enumerate(self.bias_memory_s):
            kept = math.exp(-dt / tau)
            i = 4 + 2 * b
            f[:, i, i] = f[:, i + 1, i + 1] = kept
            q[:, i, i] = q[:, i + 1, i + 1] = 1.0 - kept * kept
        return f, q

    def start(self, first: Measurement) -> ImmState:
        """Starts at a measured position (flat prior on it), the velocity only known by its
        model spread and every bias state at its stationary spread (unit)."""
        m, n = len(self.models), self.size
        # With z = x + B u + noise, a flat prior on x and u ~ N(0, I): x = z - B u - noise.
        scale = first.h[:2, 4:]  # B
        covs = np.zeros((m, n, n))
        covs[:, 4:, 4:] = np.eye(n - 4)
        covs[:, :2, :2] = first.r[:2, :2] + scale @ scale.T
        covs[:, :2, 4:] = -scale
        covs[:, 4:, :2] = -scale.T
        for j, model in enumerate(self.models):
            covs[j, 2, 2] = covs[j, 3, 3] = model.speed_sigma_mps**2
        means = np.zeros((m, n))
        means[:, :2] = first.z[:2]
        return ImmState(means, covs, self._prior.copy())

    def predict(self, state: ImmState, dt: float) -> ImmState:
        """Mixes the models and propagates each over `dt` seconds (dt >= 0)."""
        if dt <= 0.0:
            return state
        switch, f, q = self._step_matrices(dt)  # switch[i, j] = P(mode j at end | mode i at start)
        c = state.probs @ switch
        mixing = (switch * state.probs[:, None] / c[None, :]).T  # [j, i] = P(was i | is j)
        m = len(c)
        x0 = mixing @ state.means  # (M, 4): the mixed start of each model j
        diff = state.means[None, :, :] - x0[:, None, :]  # [j, i] = mean of i seen from j
        spread = np.matmul((diff * mixing[:, :, None]).transpose(0, 2, 1), diff)
        n = self.size
        p0 = (mixing @ state.covs.reshape(m, n * n)).reshape(m, n, n) + spread
        means = np.matmul(f, x0[:, :, None])[:, :, 0]
        covs = np.matmul(np.matmul(f, p0), f.transpose(0, 2, 1)) + q
        return ImmState(means, covs, _normalised(c))

    def innovation(self, state: ImmState, measured: Measurement) -> Innovation:
        """Innovation of a position measurement against the combined prediction."""
        mean, cov = state.combined()
        h = measured.h[:2]
        residual = measured.z[:2] - h @ mean
        s = h @ cov @ h.T + measured.r[:2, :2]
        # r' S^-1 r in closed form: a 2x2 solve through numpy costs more than the arithmetic.
        (a, b), (c, d) = s.tolist()
        east, north = residual.tolist()
        d2 = (d * east * east - (b + c) * east * north + a * north * north) / (a * d - b * c)
        return Innovation(d2, residual, s)

    def update(
        self, state: ImmState, measured: Measurement, evidence_r: Matrix | None = None
    ) -> ImmState:
        """Kalman update of every model and Bayesian update of the mode probabilities.

        `evidence_r` (default `measured.r`) is the noise the mode probabilities are weighed
        with: a fix trusted less for being far off (heavy tails) is still the evidence that a
        slow model did not expect it.
        """
        z, r, h = measured.z, measured.r, measured.h
        n = len(z)
        x, p = state.means, state.covs
        y = z - x @ h.T
        ph = np.matmul(p, h.T)  # (M, size, n)
        s = np.matmul(h, ph) + r
        s_inv, det = _inverse(s)
        k = np.matmul(ph, s_inv)  # (M, size, n)
        means = x + np.matmul(k, y[:, :, None])[:, :, 0]
        ikh = self._eyes - np.matmul(k, h)
        # Joseph form keeps P symmetric PSD.
        covs = np.matmul(np.matmul(ikh, p), ikh.transpose(0, 2, 1)) + np.matmul(
            np.matmul(k, r), k.transpose(0, 2, 1)
        )
        if evidence_r is not None:
            s_inv, det = _inverse(np.matmul(h, ph) + evidence_r)
        quadratic = np.matmul(np.matmul(y[:, None, :], s_inv), y[:, :, None])[:, 0, 0]
        log_like = -0.5 * (quadratic + np.log(det) + n * math.log(2 * math.pi))
        log_post = np.log(state.probs) + log_like
        post = np.exp(log_post - log_post.max())
        return ImmState(means, covs, _normalised(post))

    def update_model(
        self, state: ImmState, model: int, h: Matrix, z: Vector, r: Matrix
    ) -> ImmState:
        """Kalman update of one model by a constraint (`z = h x`); mode probabilities stay."""
        x, p = state.means[model], state.covs[model]
        s = h @ p @ h.T + r
        k = p @ h.T @ np.linalg.inv(s)
        ikh = np.eye(self.size) - k @ h
        means, covs = state.means.copy(), state.covs.copy()
        means[model] = x + k @ (z - h @ x)
        covs[model] = ikh @ p @ ikh.T + k @ r @ k.T
        return ImmState(means, covs, state.probs)


def _inverse(s: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], Vector]:
    """Inverses and determinants of a stack of covariances; 2x2 in closed form (the common case)."""
    if s.shape[-1] != 2:
        return cast(Matrix, np.linalg.inv(s)), cast(Vector, np.linalg.det(s))
    a, b, c, d = s[:, 0, 0], s[:, 0, 1], s[:, 1, 0], s[:, 1, 1]
    det = a * d - b * c
    inverse = np.empty_like(s)
    inverse[:, 0, 0], inverse[:, 0, 1], inverse[:, 1, 0], inverse[:, 1, 1] = d, -b, -c, a
    inverse /= det[:, None, None]
    return inverse, det


def _normalised(p: Vector) -> Vector:
    p = np.maximum(p / p.sum(), _MIN_MODE_PROBABILITY)
    return np.asarray(p / p.sum(), dtype=np.float64)
