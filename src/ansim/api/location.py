"""The fused location of one incident: estimate, 95 % ellipse, track and method mix."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ansim.api.auth import ContextDep, FieldUser
from ansim.domain.estimate import Estimate, RoadRegion
from ansim.domain.staff import StaffUser
from ansim.services import incidents, location, officer_scope

router = APIRouter(prefix="/api/v1/incidents", tags=["location"])


class TrackPointOut(BaseModel):
    at: datetime
    lat: float
    lon: float
    radius_95_m: float


class ContributionOut(BaseModel):
    method: str
    used: int
    gated: int
    last_radius_m: float


class DescriptionOut(BaseModel):
    ko: str
    en: str


class RegionOut(BaseModel):
    """The road-shaped 95 % region of a car (GeoJSON MultiPolygon, lon/lat)."""

    type: Literal["MultiPolygon"] = "MultiPolygon"
    coordinates: list[list[list[tuple[float, float]]]]
    area_m2: float
    radius_m: float
    reach_m: float
    matched: list[tuple[float, float]]


class EstimateOut(BaseModel):
    lat: float
    lon: float
    radius_95_m: float
    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float
    area_m2: float
    at: datetime
    last_fix_at: datetime
    age_s: float
    speed_mps: float
    heading_deg: float
    vehicle_probability: float
    # m/s the single figure grows without a new fix: a car's bound or walking pace.
    growth_mps: float
    main_method: str
    floor: int | None
    altitude_m: float | None
    ellipse: list[tuple[float, float]]
    # A car on the mapped roads: this region, not the ellipse, is the 95 % region (and
    # radius_95_m / area_m2 are its figures); null for free movement.
    region: RegionOut | None = None
    track: list[TrackPointOut]
    contributions: list[ContributionOut]
    description: DescriptionOut


class FixOut(BaseModel):
    lat: float
    lon: float
    radius_m: float
    method: str
    observed_at: datetime
    received_at: datetime
    source: str
    verdict: str
    verdict_reason: str


class IncidentLocationOut(BaseModel):
    incident_id: str
    estimate: EstimateOut | None
    fixes: list[FixOut]


def estimate_out(estimate: Estimate, now: datetime) -> EstimateOut:
    """The estimate as the board and units read it, in both languages."""
    return EstimateOut(
        lat=estimate.lat,
        lon=estimate.lon,
        radius_95_m=estimate.radius_95_m,
        semi_major_m=estimate.semi_major_m,
        semi_minor_m=estimate.semi_minor_m,
        orientation_deg=estimate.orientation_deg,
        area_m2=estimate.area_m2,
        at=estimate.at,
        last_fix_at=estimate.last_fix_at,
        age_s=estimate.age_s,
        speed_mps=estimate.speed_mps,
        heading_deg=estimate.heading_deg,
        vehicle_probability=estimate.vehicle_probability,
        growth_mps=estimate.growth_mps,
        main_method=estimate.main_method.value,
        floor=estimate.floor,
        altitude_m=estimate.altitude_m,
        ellipse=list(estimate.outline()),
        region=_region_out(estimate.region) if estimate.region else None,
        track=[
            TrackPointOut(at=p.at, lat=p.lat, lon=p.lon, radius_95_m=p.radius_95_m)
            for p in estimate.track
        ],
        contributions=[
            ContributionOut(
                method=c.method.value, used=c.used, gated=c.gated, last_radius_m=c.last_radius_m
            )
            for c in estimate.contributions
        ],
        description=DescriptionOut(
            ko=estimate.describe("ko", now), en=estimate.describe("en", now)
        ),
    )


def _region_out(region: RoadRegion) -> RegionOut:
    return RegionOut(
        coordinates=[[list(ring) for ring in polygon] for polygon in region.polygons],
        area_m2=region.area_m2,
        radius_m=region.radius_m,
        reach_m=region.reach_m,
        matched=list(region.matched),
    )


def _location(context: ContextDep, user: StaffUser, incident_id: str) -> IncidentLocationOut:
    now = context.now()
    with context.uow.read() as session:
        incidents.get(session, incident_id=incident_id)
        officer_scope.check_may_see_incident(session, user, incident_id=incident_id)
        estimate = location.estimate(session, incident_id=incident_id, now=now)
        fixes = incidents.fixes(session, incident_id=incident_id)
    return IncidentLocationOut(
        incident_id=incident_id,
        estimate=estimate_out(estimate, now) if estimate else None,
        fixes=[FixOut.model_validate(f, from_attributes=False) for f in fixes],
    )


@router.get(
    "/{incident_id}/location",
    operation_id="get_incident_location",
    response_model=IncidentLocationOut,
)
async def get_incident_location(
    incident_id: str, context: ContextDep, user: FieldUser
) -> IncidentLocationOut:
    """The fused estimate now (grown for staleness), its ellipse and track, and every fix."""
    return await run_in_threadpool(_location, context, user, incident_id)
