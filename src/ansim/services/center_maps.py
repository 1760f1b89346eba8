"""The center's own map data: the imported road network (and where none is, the bundled one).

`ansim import roads FILE` stores the network in the database, so every worker (API, scheduler,
simulator) ranks on the same graph and the board draws the same streets; a worker reads it at start.
"""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ansim.domain.errors import InvalidInput
from ansim.geo.road_files import compact_document, graph_from_compact
from ansim.geo.roads import RoadGraph, RoadImportError
from ansim.security import audit
from ansim.services.platform import Platform, transaction
from ansim.store.tables import center_maps
from ansim.store.uow import UnitOfWork

log = logging.getLogger(__name__)
ROADS = "roads"
DISTRICTS = "districts"


def do_store_roads(
    platform: Platform,
    *,
    graph: RoadGraph,
    source: str,
    attribution: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> dict[str, Any]:
    """Replaces the center's road network with `graph`; returns its summary."""
    if graph.node_count < 2 or graph.edge_count < 1:
        raise InvalidInput("the road network has no drivable roads")
    text = json.dumps(
        compact_document(graph, attribution=attribution), ensure_ascii=False, separators=(",", ":")
    )
    document = gzip.compress(text.encode("utf-8"), mtime=0)
    summary = {
        "nodes": graph.node_count,
        "edges": graph.edge_count,
        "bytes": len(document),
        "south": float(graph.node_lat.min()),
        "north": float(graph.node_lat.max()),
        "west": float(graph.node_lon.min()),
        "east": float(graph.node_lon.max()),
        "attribution": attribution,
    }
    who = actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role="admin")
    at = platform.now()
    with transaction(platform, session) as tx:
        tx.execute(center_maps.delete().where(center_maps.c.kind == ROADS))
        tx.execute(
            center_maps.insert().values(
                kind=ROADS,
                document=document,
                source=source[:300],
                summary=summary,
                imported_at=at,
                imported_by=who.name[:100],
            )
        )
        audit.record(
            tx, actor=who, action="map.import_roads", at=at, subject=source[:200], detail=summary
        )
    return summary


def stored_road_graph(uow: UnitOfWork) -> RoadGraph | None:
    """The imported network, or None when the center has imported none (or it cannot be read)."""
    try:
        with uow.read() as session:
            document = session.execute(
                sa.select(center_maps.c.document).where(center_maps.c.kind == ROADS)
            ).scalar_one_or_none()
    except SQLAlchemyError as error:
        log.warning("imported road network not read (%s); using the bundled one", error)
        return None
    if document is None:
        return None
    try:
        return graph_from_compact(json.loads(gzip.decompress(document)))
    except (RoadImportError, ValueError, OSError) as error:
        log.error("the stored road network is unreadable (%s); using the bundled one", error)
        return None


def do_store_districts(
    platform: Platform,
    *,
    collection: Any,
    source: str,
    actor: str | audit.Actor,
    session: Session | None = None,
) -> list[str]:
    """Replaces the center's district boundaries with a GeoJSON FeatureCollection; returns names."""
    from ansim.geo.demo_data import districts_document_from_geojson, districts_from_document

    document = districts_document_from_geojson(collection, source=source)
    districts_from_document(document)  # refuses what could not be used before storing it
    names = [d["name_ko"] for d in document["districts"]]
    who = actor if isinstance(actor, audit.Actor) else audit.Actor(name=actor, role="admin")
    at = platform.now()
    with transaction(platform, session) as tx:
        tx.execute(center_maps.delete().where(center_maps.c.kind == DISTRICTS))
        tx.execute(
            center_maps.insert().values(
                kind=DISTRICTS,
                document=gzip.compress(json.dumps(document, ensure_ascii=False).encode(), mtime=0),
                source=source[:300],
                summary={"districts": names},
                imported_at=at,
                imported_by=who.name[:100],
            )
        )
        audit.record(
            tx,
            actor=who,
            action="map.import_districts",
            at=at,
            subject=source[:200],
            detail={"districts": names},
        )
    return names


def install_stored_districts(uow: UnitOfWork) -> int:
    """Uses the imported district boundaries in this process (or the bundled Seoul ones when
    none were imported); returns how many districts are in use."""
    from ansim.geo.demo_data import districts_from_document, install_districts, load_districts

    document = None
    try:
        with uow.read() as session:
            document = session.execute(
                sa.select(center_maps.c.document).where(center_maps.c.kind == DISTRICTS)
            ).scalar_one_or_none()
    except SQLAlchemyError as error:
        log.warning("imported districts not read (%s); using the bundled ones", error)
    if document is None:
        install_districts(None)
    else:
        install_districts(districts_from_document(json.loads(gzip.decompress(document))))
    return len(load_districts())
