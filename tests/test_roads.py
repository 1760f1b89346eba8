import gzip
import math
from pathlib import Path

import pytest

from ansim.geo.demo_data import load_road_graph
from ansim.geo.road_files import read_compact, read_graphml, write_compact
from ansim.geo.roads import (
    URBAN_SPEED_KMH,
    OffNetwork,
    RoadGraph,
    RoadImportError,
    load_roads_file,
    speed_kmh,
)
from roadkit import at, build

# 1 -- 2 two-way residential, 2 -> 3 one-way primary, 2 -- 4 two-way secondary going north.
NODES = {1: (0.0, 0.0), 2: (100.0, 0.0), 3: (200.0, 0.0), 4: (100.0, 150.0)}
WAYS = [
    ([1, 2], {"highway": "residential", "name": "골목길"}),
    ([2, 3], {"highway": "primary", "oneway": "yes", "maxspeed": "60"}),
    ([2, 4], {"highway": "secondary"}),
    ([3, 4], {"highway": "footway"}),
]


@pytest.fixture
def graph(tmp_path: Path) -> RoadGraph:
    return build(tmp_path, NODES, WAYS)


def edge_between(graph: RoadGraph, a: int, b: int) -> int:
    u, v = graph.node_index(a), graph.node_index(b)
    found = [e for e in range(graph.edge_count) if (graph.edge_from[e], graph.edge_to[e]) == (u, v)]
    assert len(found) == 1
    return found[0]


def test_osm_ways_become_directed_edges_respecting_oneway(graph: RoadGraph) -> None:
    assert graph.node_count == 4
    assert graph.edge_count == 5  # footway dropped; the one-way street has no reverse edge
    forward = edge_between(graph, 2, 3)
    assert graph.edge_oneway[forward]
    assert not any(graph.edge_from[e] == graph.node_index(3) for e in range(graph.edge_count))
    assert graph.edge_length_m[forward] == pytest.approx(100.0, rel=1e-3)
    assert graph.edge_name[edge_between(graph, 1, 2)] == "골목길"
    assert graph.edge_twin[edge_between(graph, 1, 2)] == edge_between(graph, 2, 1)
    assert graph.edge_twin[forward] == -1


def test_reverse_oneway_tag_flips_the_direction(tmp_path: Path) -> None:
    graph = build(
        tmp_path,
        {1: (0.0, 0.0), 2: (80.0, 0.0)},
        [([1, 2], {"highway": "tertiary", "oneway": "-1"})],
    )
    assert graph.edge_count == 1
    assert graph.node_ids[graph.edge_from[0]] == 2


def test_travel_time_follows_class_limit_and_emergency_factor(graph: RoadGraph) -> None:
    residential = edge_between(graph, 1, 2)
    expected_kmh = URBAN_SPEED_KMH["residential"] * graph.emergency_factor
    assert graph.edge_seconds[residential] == pytest.approx(
        graph.edge_length_m[residential] / (expected_kmh / 3.6)
    )
    primary = edge_between(graph, 2, 3)
    assert graph.edge_seconds[primary] < graph.edge_seconds[residential]
    slower = graph.with_emergency_factor(1.0)
    assert slower.edge_seconds[residential] == pytest.approx(
        graph.edge_seconds[residential] * graph.emergency_factor
    )


def test_posted_limit_caps_the_class_speed() -> None:
    assert speed_kmh("primary", math.nan) == URBAN_SPEED_KMH["primary"]
    assert speed_kmh("primary", 30.0) == pytest.approx(18.0)
    assert speed_kmh("no_such_class", math.nan) > 0
    assert speed_kmh("primary", 60.0) > speed_kmh("residential", 60.0)


def test_snap_projects_onto_the_nearest_edge(graph: RoadGraph) -> None:
    snap = graph.snap(*at(30.0, 12.0))
    assert snap.distance_m == pytest.approx(12.0, abs=0.1)
    edge = snap.edge
    assert {graph.node_ids[graph.edge_from[edge]], graph.node_ids[graph.edge_to[edge]]} == {1, 2}
    from_start = 30.0 if graph.node_ids[graph.edge_from[edge]] == 1 else 70.0
    assert snap.offset_m == pytest.approx(from_start, abs=0.2)
    assert (snap.lat, snap.lon) == pytest.approx(at(30.0, 0.0), abs=1e-6)


def test_position_far_from_every_road_is_off_network(graph: RoadGraph) -> None:
    with pytest.raises(OffNetwork, match=r"from any road|nearest road"):
        graph.snap(*at(50.0, 900.0))
    assert graph.snap(*at(50.0, 900.0), max_distance_m=2_000).distance_m > 700


def test_compact_file_round_trips(graph: RoadGraph, tmp_path: Path) -> None:
    path = tmp_path / "roads.json.gz"
    write_compact(graph, path, attribution="test")
    again = load_roads_file(path)
    assert again.edge_count == graph.edge_count
    assert list(again.edge_highway) == list(graph.edge_highway)
    assert again.edge_seconds == pytest.approx(graph.edge_seconds, rel=1e-4)
    assert again.node_lat == pytest.approx(graph.node_lat, abs=1e-6)


GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
<key id="d4" for="node" attr.name="y" attr.type="string"/>
<key id="d5" for="node" attr.name="x" attr.type="string"/>
<key id="d9" for="edge" attr.name="oneway" attr.type="string"/>
<key id="d10" for="edge" attr.name="highway" attr.type="string"/>
<key id="d13" for="edge" attr.name="length" attr.type="string"/>
<key id="d14" for="edge" attr.name="geometry" attr.type="string"/>
<key id="d15" for="edge" attr.name="maxspeed" attr.type="string"/>
<key id="d18" for="edge" attr.name="name" attr.type="string"/>
<graph edgedefault="directed">
<node id="10"><data key="d4">37.5600</data><data key="d5">126.9800</data></node>
<node id="11"><data key="d4">37.5610</data><data key="d5">126.9800</data></node>
<edge source="10" target="11" id="0"><data key="d9">True</data>
<data key="d10">['secondary', 'tertiary']</data><data key="d13">111.2</data>
<data key="d14">LINESTRING (126.98 37.56, 126.9801 37.5605, 126.98 37.561)</data>
<data key="d15">['50', '30']</data><data key="d18">['세종대로', '태평로']</data></edge>
</graph></graphml>
"""


def test_graphml_attributes_are_parsed(tmp_path: Path) -> None:
    path = tmp_path / "g.graphml"
    path.write_text(GRAPHML, encoding="utf-8")
    graph = load_roads_file(path)
    assert graph.node_ids.tolist() == [10, 11]
    assert graph.edge_highway == ("secondary",)
    assert graph.edge_maxspeed_kmh[0] == 30.0
    assert graph.edge_name == ("세종대로/태평로",)
    assert len(graph.edge_polyline(0)) == 3
    assert bool(graph.edge_oneway[0])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.graphml", b"<graphml><graph><node id='1'>"),
        ("empty.osm", b"<osm version='0.6'></osm>"),
        ("junk.bin", b"\x00\x01 not a road file"),
        ("bad.json.gz", gzip.compress(b'{"format": "ansim-roads", "version": 1}')),
        ("truncated.json.gz", gzip.compress(b'{"format": "ansim-ro')[:20]),
        ("other.json", b'{"format": "something-else"}'),
    ],
)
def test_corrupt_files_raise_road_import_error(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RoadImportError):
        load_roads_file(path)


def test_missing_file_raises_road_import_error(tmp_path: Path) -> None:
    with pytest.raises(RoadImportError, match="cannot read"):
        read_graphml(tmp_path / "absent.graphml")
    with pytest.raises(RoadImportError):
        read_compact(tmp_path / "absent.json.gz")


def test_bundled_graph_snaps_city_hall_onto_a_road() -> None:
    graph = load_road_graph()
    snap = graph.snap(37.5663, 126.9779)
    assert snap.distance_m < 100
    assert 0 <= snap.offset_m <= graph.edge_length_m[snap.edge]


def test_snaps_near_gives_each_edge_once_nearest_first_up_to_the_limit(graph: RoadGraph) -> None:
    snaps = graph.snaps_near(*at(30.0, 12.0), within_m=200, limit=10)
    ends = [
        (graph.node_ids[graph.edge_from[s.edge]], graph.node_ids[graph.edge_to[s.edge]])
        for s in snaps
    ]
    assert ends == [(1, 2), (2, 1), (2, 4), (4, 2), (2, 3)]  # the footway 3-4 is no road
    assert [s.distance_m for s in snaps] == pytest.approx([12.0, 12.0, 70.0, 70.0, 71.02], abs=0.05)
    assert [s.offset_m for s in snaps] == pytest.approx([30.0, 70.0, 12.0, 138.0, 0.0], abs=0.2)
    assert snaps[0] == graph.snap(*at(30.0, 12.0))
    assert graph.snaps_near(*at(30.0, 12.0), within_m=200, limit=2) == snaps[:2]
    assert graph.snaps_near(*at(30.0, 12.0), within_m=5, limit=2) == []


def test_road_points_give_every_segment_nearest_first_with_its_bearing(graph: RoadGraph) -> None:
    points = graph.road_points(*at(30.0, 12.0), within_m=70.5)
    assert [(round(d, 1), b) for _, _, d, b in points] == [
        (12.0, 90.0),
        (12.0, 270.0),
        (70.0, 0.0),
        (70.0, 180.0),
    ]
    assert points[0][:2] == pytest.approx(at(30.0, 0.0), abs=1e-6)
    assert graph.road_points(*at(30.0, 12.0), within_m=5) == []
