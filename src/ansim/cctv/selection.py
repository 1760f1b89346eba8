"""Which cameras can see where the person probably is: a k-d tree, then probability mass per view.

The 95 % ellipse of the location estimate stands for a bivariate normal. A camera's share is the
probability mass (within that ellipse, normalised by 0.95) lying inside the camera's view: a disc of
its range, or a sector where its direction and field of view are known and it cannot turn. The mass
is integrated by a fixed pattern of points spread evenly over each view, vectorised over candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from ansim.cctv.cameras import Camera
from ansim.domain.errors import InvalidInput
from ansim.geo.geodesy import LocalFrame

FloatArray = npt.NDArray[np.float64]

SEOUL_ORIGIN = (37.5665, 126.9780)
CHI2_95 = -2.0 * math.log(0.05)  # squared Mahalanobis radius of the 95 % ellipse
MIN_SIGMA_M = 1.0
# Points per view: rings spaced for equal area × spokes over the field of view.
_RINGS, _SPOKES = 6, 16


@dataclass(frozen=True, slots=True)
class UncertaintyRegion:
    """A 95 % ellipse: centre, semi-axes in metres, orientation of the major axis from north."""

    lat: float
    lon: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float = 0.0
    # A car's road-shaped region as (lat, lon) points spread evenly over it: a camera's share
    # is then the part of these points it sees (the ellipse only places the search).
    samples: tuple[tuple[float, float], ...] = ()

    @classmethod
    def circle(cls, lat: float, lon: float, radius_95_m: float) -> UncertaintyRegion:
        return cls(lat, lon, radius_95_m, radius_95_m, 0.0)

    def __post_init__(self) -> None:
        if not (0 <= self.semi_minor_m <= self.semi_major_m) or not math.isfinite(
            self.semi_major_m
        ):
            raise InvalidInput(
                f"ellipse axes must satisfy 0 ≤ minor ≤ major, got {self.semi_minor_m}, {self.semi_major_m}"
            )


@dataclass(frozen=True, slots=True)
class CameraChoice:
    """One selected camera: its share of the likely area, how far it stands from the estimate."""

    camera_id: str
    index: int
    share: float
    distance_m: float
    bearing_to_target_deg: float


@dataclass(frozen=True, slots=True)
class CoverageView:
    """What the index needs of a camera: where, how far and in which sector it sees."""

    camera_id: str
    lat: float
    lon: float
    range_m: float
    bearing_deg: float | None  # None: sees all around
    fov_deg: float

    @classmethod
    def of(cls, camera: Camera) -> CoverageView:
        return cls(
            camera.id,
            camera.lat,
            camera.lon,
            camera.effective_range_m,
            None if camera.sees_all_around else camera.bearing_deg,
            camera.effective_fov_deg,
        )


def _view_pattern() -> tuple[FloatArray, FloatArray]:
    """Unit radii (equal-area rings) and unit angles in [-1, 1] × half field of view."""
    radii = np.sqrt((np.arange(_RINGS) + 0.5) / _RINGS)
    angles = (np.arange(_SPOKES) + 0.5) / _SPOKES * 2.0 - 1.0
    r, a = np.meshgrid(radii, angles, indexing="ij")
    # Stagger alternate rings so points do not line up on spokes.
    a = a + (np.arange(_RINGS)[:, None] % 2) * (1.0 / _SPOKES)
    a = np.clip(a, -1.0, 1.0)
    return r.ravel(), a.ravel()


def _region_pattern() -> tuple[FloatArray, FloatArray]:
    """Standard-normal points inside the 95 % circle, each carrying equal probability mass."""
    rings, spokes = 8, 16
    mass = (np.arange(rings) + 0.5) / rings * 0.95
    radii = np.sqrt(-2.0 * np.log(1.0 - mass))
    angles = (np.arange(spokes) + 0.5) / spokes * 2.0 * math.pi
    r, a = np.meshgrid(radii, angles, indexing="ij")
    a = a + (np.arange(rings)[:, None] % 2) * (math.pi / spokes)
    return (r * np.sin(a)).ravel(), (r * np.cos(a)).ravel()


_UNIT_R, _UNIT_A = _view_pattern()
_REGION_U, _REGION_V = _region_pattern()


class CameraIndex:
    """All cameras in a k-d tree on a local metric frame around Seoul."""

    def __init__(
        self, views: Sequence[CoverageView], *, origin: tuple[float, float] = SEOUL_ORIGIN
    ) -> None:
        self.frame = LocalFrame(*origin)
        self.ids = [v.camera_id for v in views]
        lat = np.array([v.lat for v in views], np.float64)
        lon = np.array([v.lon for v in views], np.float64)
        east, north = self.frame.to_metres_many(lat, lon)
        self._xy = np.column_stack([east, north]) if views else np.zeros((0, 2))
        self._range = np.array([v.range_m for v in views], np.float64)
        self._directed = np.array([v.bearing_deg is not None for v in views], bool)
        self._bearing = np.radians([v.bearing_deg or 0.0 for v in views])
        self._half_fov = np.radians([min(v.fov_deg, 360.0) / 2.0 for v in views])
        self._half_fov[~self._directed] = math.pi
        self._tree = cKDTree(self._xy) if views else None
        self.max_range_m = float(self._range.max()) if views else 0.0

    def __len__(self) -> int:
        return len(self.ids)

    def select(self, region: UncertaintyRegion, *, limit: int = 20) -> list[CameraChoice]:
        """Cameras whose view holds some of the region's probability mass, best share first."""
        if self._tree is None:
            return []
        cx, cy = self.frame.to_metres(region.lat, region.lon)
        points = self._points(region, cx, cy)
        extent = region.semi_major_m
        if points is not None:
            extent = float(np.max(np.hypot(points[0], points[1])))
        reach = extent + self.max_range_m
        candidates = np.asarray(self._tree.query_ball_point((cx, cy), reach), np.int64)
        if candidates.size == 0:
            return []
        rel = self._xy[candidates] - (cx, cy)
        distance = np.hypot(rel[:, 0], rel[:, 1])
        near = distance <= extent + self._range[candidates]
        candidates, rel, distance = candidates[near], rel[near], distance[near]
        if candidates.size == 0:
            return []
        if points is not None:
            share = self._seen(candidates, rel, *points)
        else:
            share = self._shares(candidates, rel, region)
        seen = share > 0.0
        candidates, share, distance, rel = candidates[seen], share[seen], distance[seen], rel[seen]
        # Shares within a percentage point count as equal; then the nearer camera wins.
        order = np.lexsort((distance, -np.round(share, 2)))[:limit]
        bearing = (np.degrees(np.arctan2(-rel[:, 0], -rel[:, 1])) + 360.0) % 360.0
        return [
            CameraChoice(
                camera_id=self.ids[int(candidates[i])],
                index=int(candidates[i]),
                share=float(min(share[i], 1.0)),
                distance_m=float(distance[i]),
                bearing_to_target_deg=float(bearing[i]),
            )
            for i in order
        ]

    def _points(
        self, region: UncertaintyRegion, cx: float, cy: float
    ) -> tuple[FloatArray, FloatArray] | None:
        """The region's sample points (east, north of its centre), or None: the ellipse."""
        if not region.samples:
            return None
        lat = np.array([p[0] for p in region.samples], np.float64)
        lon = np.array([p[1] for p in region.samples], np.float64)
        east, north = self.frame.to_metres_many(lat, lon)
        return east - cx, north - cy

    def _shares(
        self, candidates: npt.NDArray[np.int64], rel: FloatArray, region: UncertaintyRegion
    ) -> FloatArray:
        # Integrate over whichever is smaller: the region's points when it fits in the view,
        # the view's points when the region is the larger one.
        # A view much smaller than the spread sees nearly constant density: one point does.
        ranges = self._range[candidates]
        small_region = region.semi_major_m < ranges
        sigma_minor = max(region.semi_minor_m / math.sqrt(CHI2_95), MIN_SIGMA_M)
        small_view = ~small_region & (ranges < sigma_minor / 4.0)
        wide = ~small_region & ~small_view
        share = np.zeros(candidates.size)
        if small_region.any():
            share[small_region] = self._shares_by_region(
                candidates[small_region], rel[small_region], region
            )
        if wide.any():
            share[wide] = self._shares_by_view(candidates[wide], rel[wide], region)
        if small_view.any():
            share[small_view] = self._shares_by_point(
                candidates[small_view], rel[small_view], region
            )
        return share

    def _shares_by_point(
        self, candidates: npt.NDArray[np.int64], rel: FloatArray, region: UncertaintyRegion
    ) -> FloatArray:
        ranges, half = self._range[candidates], self._half_fov[candidates]
        # The view's centroid: a disc's centre, or 2r·sin(h)/(3h) out along a sector's bearing.
        reach = np.where(half < math.pi, 2.0 * ranges * np.sin(half) / (3.0 * half), 0.0)
        px = rel[:, 0] + reach * np.sin(self._bearing[candidates])
        py = rel[:, 1] + reach * np.cos(self._bearing[candidates])
        density = _density(px, py, region)
        mass: FloatArray = density * half * ranges**2 / 0.95
        return mass

    def _shares_by_region(
        self, candidates: npt.NDArray[np.int64], rel: FloatArray, region: UncertaintyRegion
    ) -> FloatArray:
        sa = max(region.semi_major_m / math.sqrt(CHI2_95), MIN_SIGMA_M)
        sb = max(region.semi_minor_m / math.sqrt(CHI2_95), MIN_SIGMA_M)
        theta = math.radians(region.orientation_deg)
        # Region points (east, north) around the centre: major axis along the orientation bearing.
        px = _REGION_U * sa * math.sin(theta) + _REGION_V * sb * math.cos(theta)
        py = _REGION_U * sa * math.cos(theta) - _REGION_V * sb * math.sin(theta)
        return self._seen(candidates, rel, px, py)

    def _seen(
        self, candidates: npt.NDArray[np.int64], rel: FloatArray, px: FloatArray, py: FloatArray
    ) -> FloatArray:
        """Share of the points (east, north of the region's centre) inside each camera's view."""
        dx = px[None, :] - rel[:, 0:1]
        dy = py[None, :] - rel[:, 1:2]
        inside = np.hypot(dx, dy) <= self._range[candidates][:, None]
        directed = self._directed[candidates]
        if directed.any():
            look = (
                np.arctan2(dx[directed], dy[directed])
                - self._bearing[candidates][directed][:, None]
            )
            off = np.abs((look + math.pi) % (2.0 * math.pi) - math.pi)
            inside[directed] &= off <= self._half_fov[candidates][directed][:, None]
        covered: FloatArray = inside.mean(axis=1)
        return covered

    def _shares_by_view(
        self, candidates: npt.NDArray[np.int64], rel: FloatArray, region: UncertaintyRegion
    ) -> FloatArray:
        ranges = self._range[candidates][:, None]
        half = self._half_fov[candidates][:, None]
        angle = self._bearing[candidates][:, None] + _UNIT_A[None, :] * half
        radius = _UNIT_R[None, :] * ranges
        # View sample points relative to the region's centre (east, north).
        px = rel[:, 0:1] + radius * np.sin(angle)
        py = rel[:, 1:2] + radius * np.cos(angle)
        density = _density(px, py, region)
        area = half[:, 0] * ranges[:, 0] ** 2  # sector area: (2·half / 2) · r²
        mass: FloatArray = density.mean(axis=1) * area / 0.95
        return mass


def _density(px: FloatArray, py: FloatArray, region: UncertaintyRegion) -> FloatArray:
    """Normal density of the estimate at points (east, north of its centre), zero beyond 95 %."""
    sa = max(region.semi_major_m / math.sqrt(CHI2_95), MIN_SIGMA_M)
    sb = max(region.semi_minor_m / math.sqrt(CHI2_95), MIN_SIGMA_M)
    theta = math.radians(region.orientation_deg)
    u = (px * math.sin(theta) + py * math.cos(theta)) / sa
    v = (px * math.cos(theta) - py * math.sin(theta)) / sb
    m2 = u * u + v * v
    density: FloatArray = np.where(m2 <= CHI2_95, np.exp(-0.5 * m2), 0.0) / (
        2.0 * math.pi * sa * sb
    )
    return density
