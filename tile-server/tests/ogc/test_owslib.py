"""OWSLib as the client: WebMapService 1.3.0 (capabilities, GetMap in EPSG:4326 and
EPSG:3826, GetFeatureInfo) and WebMapTileService (GetTile by KVP in both matrix sets)."""

import json
import math
import urllib.parse

import numpy as np
import pytest
from owslib.util import ServiceException
from owslib.wms import WebMapService
from owslib.wmts import WebMapTileService

from support import CENTRE_LONLAT, GeoImage, assert_map_shows_store, check_buildings, decode, lonlat_to_3826, transformer

CRSS = {"EPSG:3857", "EPSG:4326", "CRS:84", "EPSG:3826", "EPSG:3825"}


@pytest.fixture(scope="module")
def wms(base):
    return WebMapService(f"{base}/wms", version="1.3.0", timeout=60)


@pytest.fixture(scope="module")
def wmts(base):
    return WebMapTileService(f"{base}/wmts/1.0.0/WMTSCapabilities.xml", timeout=60)


def test_wms_contents_and_crs_options(wms):
    assert wms.identification.type == "WMS" and wms.identification.version == "1.3.0"
    for name in ("basemap", "cadastral", "buildings", "pipelines", "towns", "counties", "incidents", "terrain"):
        assert name in wms.contents, sorted(wms.contents)
    assert CRSS <= set(wms["basemap"].crsOptions)
    # Children inherit the group's CRSs.
    assert CRSS <= set(wms["buildings"].crsOptions)
    assert wms["cadastral"].queryable == 1 and wms["terrain"].queryable == 0
    assert [o.name for o in wms.operations] >= ["GetCapabilities", "GetMap", "GetFeatureInfo"]
    assert "image/png" in wms.getOperationByName("GetMap").formatOptions
    assert "application/json" in wms.getOperationByName("GetFeatureInfo").formatOptions
    # EX_GeographicBoundingBox as OWSLib reads it covers the fixtures.
    w, s, e, n = wms["basemap"].boundingBoxWGS84
    assert w < CENTRE_LONLAT[0] < e and s < CENTRE_LONLAT[1] < n


def _box_3826(half_w, half_h):
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    return (x - half_w, y - half_h, x + half_w, y + half_h)


def test_getmap_epsg_4326_takes_a_lat_lon_bbox(wms, store):
    lon, lat = CENTRE_LONLAT
    bbox = (lon - 0.004, lat - 0.0035, lon + 0.004, lat + 0.0035)  # OWSLib takes x/y and swaps for EPSG:4326
    img = wms.getmap(layers=["basemap"], styles=[""], srs="EPSG:4326", bbox=bbox, size=(900, 870), format="image/png")
    sent = urllib.parse.parse_qs(urllib.parse.urlsplit(wms.request).query)
    assert [float(v) for v in sent["bbox"][0].split(",")] == pytest.approx([bbox[1], bbox[0], bbox[3], bbox[2]]), "latitude first on the wire"
    assert img.info()["Content-Type"] == "image/png"
    geo = GeoImage.from_bytes(img.read(), bbox, 4326)
    assert (geo.width, geo.height) == (900, 870)
    assert_map_shows_store(geo, store)


def test_getmap_epsg_3826_buildings_layer_alone_is_transparent_around_buildings(wms, store):
    bbox = _box_3826(350, 250)
    img = wms.getmap(layers=["buildings"], styles=["default"], srs="EPSG:3826", bbox=bbox, size=(700, 500), format="image/png", transparent=True)
    geo = GeoImage.from_bytes(img.read(), bbox, 3826)
    b = check_buildings(geo, store)
    assert b.total >= 10 and b.rate >= 0.9, str(b)
    # Away from buildings nothing is drawn: parcels and pipelines are other layers.
    open_ground = [s for s in store.open_samples(geo.res_m()) if geo.inside(*geo.pixel_of(s.x, s.y), 4)]
    assert len(open_ground) >= 10
    opaque = [(s.feature.fid, geo.pixel_of(s.x, s.y)) for s in open_ground if geo.at(*geo.pixel_of(s.x, s.y))[3] != 0]
    assert not opaque, opaque[:5]
    # And the image has some transparent pixels overall, and is not all transparent.
    alpha = geo.rgba[:, :, 3]
    assert 0.05 < (alpha == 255).mean() < 0.95


def _pixel_centre(geo, c, r):
    """EPSG:3826 coordinates of the centre of pixel (column c, row r) of a 3826 map."""
    return geo.gt[0] + (c + 0.5) * geo.gt[1], geo.gt[2] + (r + 0.5) * geo.gt[3]


def test_getfeatureinfo_json_names_the_parcel_under_the_pixel(wms, store):
    """Clicking inside a parcel (a point from the store, clear of its edges) returns that
    parcel's 地號 (parcel_no) and section; over a building, that building."""
    bbox = _box_3826(300, 300)
    size = (600, 600)
    geo = GeoImage(np.zeros((size[1], size[0], 4), np.uint8), (bbox[0], (bbox[2] - bbox[0]) / size[0], bbox[3], -(bbox[3] - bbox[1]) / size[1]), 3826)
    checked = 0
    for s in store.open_samples(geo.res_m())[::7]:
        c, r = geo.pixel_of(s.x, s.y)
        if not geo.inside(c, r, 10):
            continue
        i, j = int(math.floor(c)), int(math.floor(r))
        under = store.parcels_at(*_pixel_centre(geo, i, j))
        assert under, "the sample point should be inside a parcel"
        resp = wms.getfeatureinfo(layers=["basemap"], styles=[""], srs="EPSG:3826", bbox=bbox, size=size, format="image/png",
                                  query_layers=["cadastral"], info_format="application/json", xy=(i, j), feature_count=5)
        got = json.loads(resp.read())
        assert got["type"] == "FeatureCollection" and got["features"], (s.feature.fid, i, j, got)
        first = got["features"][0]
        assert first["layer"] == "cadastral"
        assert (first["properties"]["parcel_no"], first["properties"]["section"]) in {(p.props["parcel_no"], p.props["section"]) for p in under}
        assert first["id"] in {p.fid for p in under}
        # No building there.
        resp = wms.getfeatureinfo(layers=["basemap"], styles=[""], srs="EPSG:3826", bbox=bbox, size=size, format="image/png",
                                  query_layers=["buildings"], info_format="application/json", xy=(i, j), feature_count=5)
        assert json.loads(resp.read())["features"] == []
        checked += 1
        if checked == 5:
            break
    assert checked >= 3
    checked = 0
    for s in store.building_samples(geo.res_m())[::5]:
        c, r = geo.pixel_of(s.x, s.y)
        if not geo.inside(c, r, 10):
            continue
        i, j = int(math.floor(c)), int(math.floor(r))
        resp = wms.getfeatureinfo(layers=["buildings"], styles=[""], srs="EPSG:3826", bbox=bbox, size=size, format="image/png",
                                  query_layers=["buildings"], info_format="application/json", xy=(i, j), feature_count=1)
        got = json.loads(resp.read())
        assert [f["id"] for f in got["features"]] == [s.feature.fid], (i, j, got)
        assert got["features"][0]["properties"]["height_m"] == pytest.approx(s.feature.props["height_m"])
        checked += 1
        if checked == 3:
            break
    assert checked >= 2


def test_getfeatureinfo_in_epsg_4326_maps_i_j_with_lat_lon_axes(wms, store):
    """In EPSG:4326 the BBOX is latitude first, but I is still the column (east) and J the
    row (south): the parcel under (I, J) is the one the store has there."""
    lon, lat = CENTRE_LONLAT
    bbox = (lon - 0.003, lat - 0.002, lon + 0.003, lat + 0.002)  # x/y; OWSLib sends lat/lon
    size = (600, 440)
    geo = GeoImage(np.zeros((size[1], size[0], 4), np.uint8), (bbox[0], (bbox[2] - bbox[0]) / size[0], bbox[3], -(bbox[3] - bbox[1]) / size[1]), 4326)
    to_3826 = transformer(4326, 3826)
    checked = 0
    for s in store.open_samples(geo.res_m())[::5]:
        c, r = geo.pixel_of(s.x, s.y)
        if not geo.inside(c, r, 12):
            continue
        i, j = int(math.floor(c)), int(math.floor(r))
        under = store.parcels_at(*to_3826(geo.gt[0] + (i + 0.5) * geo.gt[1], geo.gt[2] + (j + 0.5) * geo.gt[3]))
        resp = wms.getfeatureinfo(layers=["cadastral"], styles=[""], srs="EPSG:4326", bbox=bbox, size=size, format="image/png",
                                  query_layers=["cadastral"], info_format="application/json", xy=(i, j), feature_count=3)
        got = json.loads(resp.read())
        assert got["features"] and got["features"][0]["id"] in {p.fid for p in under}, (i, j, [p.fid for p in under], got["features"][:1])
        checked += 1
        if checked == 4:
            break
    assert checked >= 3


def test_owslib_surfaces_the_service_exception(wms):
    with pytest.raises(ServiceException, match="InvalidCRS|EPSG:3828"):
        wms.getmap(layers=["basemap"], styles=[""], srs="EPSG:3828", bbox=(0, 0, 1, 1), size=(10, 10), format="image/png")


def test_wmts_contents_and_matrix_sets(wmts):
    assert "basemap" in wmts.contents and "buildings" in wmts.contents
    assert {"TWD97", "GoogleMapsCompatible"} <= set(wmts.tilematrixsets)
    assert set(wmts.contents["basemap"].tilematrixsetlinks) == {"TWD97", "GoogleMapsCompatible"}
    twd97 = wmts.tilematrixsets["TWD97"]
    assert twd97.crs.endswith("3826") and len(twd97.tilematrix) == 14
    assert twd97.tilematrix["13"].topleftcorner == (50000.0, 3000000.0)


def _tile_of(tm, x, y):
    """(row, col) of the tile holding (x, y), and the tile's box, from the capabilities."""
    res = tm.scaledenominator * 0.00028
    span_x, span_y = tm.tilewidth * res, tm.tileheight * res
    col = int((x - tm.topleftcorner[0]) // span_x)
    row = int((tm.topleftcorner[1] - y) // span_y)
    x0, y0 = tm.topleftcorner[0] + col * span_x, tm.topleftcorner[1] - row * span_y
    return row, col, (x0, y0 - span_y, x0 + span_x, y0)


@pytest.mark.parametrize("tms,matrix,epsg", [("TWD97", "11", 3826), ("GoogleMapsCompatible", "17", 3857)])
def test_gettile_kvp_2x2_block_shows_the_store(wmts, store, tms, matrix, epsg):
    """Four tiles round the centre, fetched with KVP GetTile and put side by side."""
    tm = wmts.tilematrixsets[tms].tilematrix[matrix]
    x, y = transformer(4326, epsg)(*CENTRE_LONLAT)
    row, col, box = _tile_of(tm, x, y)
    rows, cols = (row, row + 1), (col, col + 1)
    mosaic = np.zeros((512, 512, 4), np.uint8)
    for dr, r in enumerate(rows):
        for dc, c in enumerate(cols):
            t = wmts.gettile(layer="basemap", style="default", tilematrixset=tms, tilematrix=matrix, row=r, column=c, format="image/png")
            assert t.info()["Content-Type"] == "image/png"
            mosaic[dr * 256:(dr + 1) * 256, dc * 256:(dc + 1) * 256] = decode(t.read())
    span = box[2] - box[0]
    geo = GeoImage(mosaic, (box[0], span / 256, box[3], -span / 256), epsg)
    assert_map_shows_store(geo, store, min_samples=8)
