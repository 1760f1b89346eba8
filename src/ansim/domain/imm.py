"""Interacting-multiple-model Kalman filter for a person moving in a local metric plane.

State per model: [east m, north m, east m/s, north m/s]. Each motion model is an integrated
Ornstein-Uhlenbeck velocity: the velocity wanders with a stationary spread and forgets itself
over `tau_s`, so a walker can pause and turn and a car can accelerate and corner, and a stale
estimate spreads out linearly in variance once the velocity is forgotten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

_H = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
# Keeps every model alive so the filter can switch back even after a long run of one mode.
_MIN_MODE_PROBABILITY = 1e-4


@dataclass(frozen=True, slots=True)
class MotionModel:
    """An integrated Ornstein-Uhlenbeck velocity model (per axis, axes independent)."""

    name: str
    speed_sigma_mps: float
    tau_s: float

    def transition(self, dt: float) -> tuple[Matrix, Matrix]:
        """Returns (F, Q) for a step of `dt` seconds."""
        tau, s2 = self.tau_s, self.speed_sigma_mps**2
        e = math.exp(-dt / tau)
        f_pv = tau * (1.0 - e)
        q_pp = 2.0 * s2 * tau * (dt - 2.0 * tau * (1.0 - e) + 0.5 * tau * (1.0 - e * e))
        q_pv = s2 * tau * (1.0 - e) ** 2
        q_vv = s2 * (1.0 - e * e)
        f = np.eye(4)
        f[0, 2] = f[1, 3] = f_pv
        f[2, 2] = f[3, 3] = e
        q = np.zeros((4, 4))
        q[0, 0] = q[1, 1] = max(q_pp, 0.0)
        q[0, 2] = q[2, 0] = q[1, 3] = q[3, 1] = q_pv
        q[2, 2] = q[3, 3] = q_vv
        return f, q


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
        cov = np.einsum("m,mij->ij", self.probs, self.covs) + np.einsum(
            "m,mi,mj->ij", self.probs, diff, diff
        )
        return mean, cov


@dataclass(frozen=True, slots=True)
class Innovation:
    """How far a measurement sits from the combined prediction."""

    mahalanobis2: float
    residual: Vector
    covariance: Matrix


class ImmFilter:
    """IMM over a fixed set of motion models with continuous-time mode switching."""

    def __init__(
        self, models: tuple[MotionModel, ...], switch_rates: Matrix, prior: Vector
    ) -> None:
        self.models = models
        self._rates = switch_rates
        self._prior = prior
        # expm(R dt) = V exp(L dt) V^-1, diagonalised once: scipy's expm per step was the hot spot.
        eigenvalues, vectors = np.linalg.eig(switch_rates)
        self._eig = (eigenvalues, vectors, np.linalg.inv(vectors))

    def _switch(self, dt: float) -> Matrix:
        eigenvalues, vectors, inverse = self._eig
        p = (vectors * np.exp(eigenvalues * dt)) @ inverse
        return np.asarray(np.clip(np.real(p), 0.0, 1.0), dtype=np.float64)

    def start(self, position: Vector, position_cov: Matrix) -> ImmState:
        """Starts at a measured position with the velocity only known by its model spread."""
        m = len(self.models)
        means = np.zeros((m, 4))
        means[:, :2] = position
        covs = np.zeros((m, 4, 4))
        for j, model in enumerate(self.models):
            covs[j, :2, :2] = position_cov
            covs[j, 2, 2] = covs[j, 3, 3] = model.speed_sigma_mps**2
        return ImmState(means, covs, self._prior.copy())

    def predict(self, state: ImmState, dt: float) -> ImmState:
        """Mixes the models and propagates each over `dt` seconds (dt >= 0)."""
        if dt <= 0.0:
            return state
        switch = self._switch(dt)  # switch[i, j] = P(mode j at end | mode i at start)
        c = state.probs @ switch
        weights = switch * state.probs[:, None] / c[None, :]
        means = np.empty_like(state.means)
        covs = np.empty_like(state.covs)
        for j, model in enumerate(self.models):
            x0 = weights[:, j] @ state.means
            diff = state.means - x0
            p0 = np.einsum("i,ikl->kl", weights[:, j], state.covs) + np.einsum(
                "i,ik,il->kl", weights[:, j], diff, diff
            )
            f, q = model.transition(dt)
            means[j] = f @ x0
            covs[j] = f @ p0 @ f.T + q
        return ImmState(means, covs, _normalised(c))

    def innovation(self, state: ImmState, z: Vector, r: Matrix) -> Innovation:
        """Innovation of `z` against the combined prediction."""
        mean, cov = state.combined()
        residual = z - mean[:2]
        s = cov[:2, :2] + r
        d2 = float(residual @ np.linalg.solve(s, residual))
        return Innovation(d2, residual, s)

    def update(self, state: ImmState, z: Vector, r: Matrix) -> ImmState:
        """Kalman update of every model and Bayesian update of the mode probabilities.

        `z` is a position (2) or a position and velocity (4) with matching `r`.
        """
        h = _H if len(z) == 2 else np.eye(4)
        means = np.empty_like(state.means)
        covs = np.empty_like(state.covs)
        log_like = np.empty(len(self.models))
        eye = np.eye(4)
        for j in range(len(self.models)):
            x, p = state.means[j], state.covs[j]
            y = z - h @ x
            s = h @ p @ h.T + r
            s_inv = np.linalg.inv(s)
            k = p @ h.T @ s_inv
            means[j] = x + k @ y
            ikh = eye - k @ h
            covs[j] = ikh @ p @ ikh.T + k @ r @ k.T  # Joseph form keeps P symmetric PSD
            log_like[j] = -0.5 * (
                float(y @ s_inv @ y)
                + math.log(float(np.linalg.det(s)))
                + len(z) * math.log(2 * math.pi)
            )
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
        ikh = np.eye(4) - k @ h
        means, covs = state.means.copy(), state.covs.copy()
        means[model] = x + k @ (z - h @ x)
        covs[model] = ikh @ p @ ikh.T + k @ r @ k.T
        return ImmState(means, covs, state.probs)


def _normalised(p: Vector) -> Vector:
    p = np.maximum(p / p.sum(), _MIN_MODE_PROBABILITY)
    return np.asarray(p / p.sum(), dtype=np.float64)
