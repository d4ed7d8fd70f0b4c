"""Bad requests: each answers the right OGC exception code and locator, in a report that
validates against the schema (WMS: ServiceExceptionReport 1.3.0; WMTS: OWS 1.1
ExceptionReport), quickly, and with whatever the client sent escaped."""

import urllib.parse

import numpy as np
import pytest

from support import CENTRE_LONLAT, decode, lonlat_to_3826

OGC = "{http://www.opengis.net/ogc}"
OWS = "{http://www.opengis.net/ows/1.1}"


def url(base, path, params):
    return f"{base}{path}?" + urllib.parse.urlencode(params, safe=":,/")


def _box():
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    return f"{x - 150},{y - 100},{x + 150},{y + 100}"


GETMAP = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": "basemap", "STYLES": "", "CRS": "EPSG:3826",
          "BBOX": _box(), "WIDTH": "300", "HEIGHT": "200", "FORMAT": "image/png"}
GETFEATUREINFO = dict(GETMAP, REQUEST="GetFeatureInfo", QUERY_LAYERS="cadastral", INFO_FORMAT="application/json", I="150", J="100")


def with_(params, **changes):
    p = dict(params)
    for k, v in changes.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return p


def wms_exception(get, xsd, base, params, code, locator, status=400):
    r = get(url(base, "/wms", params), timeout=30)
    assert "xml" in r.content_type, (r.status, r.content_type, r.body[:300])
    xsd("wms/1.3.0/exceptions_1_3_0.xsd", r.body)
    es = r.xml().findall(f"{OGC}ServiceException")
    assert len(es) == 1, r.text()
    e = es[0]
    assert (e.get("code"), e.get("locator")) == (code, locator), r.text()
    assert e.text and e.text.strip(), "the exception says why"
    assert r.status == status, r.status
    return e.text


def wmts_exception(get, xsd, base, path, params, code, locator, status=400):
    r = get(url(base, path, params) if params is not None else base + path, timeout=30)
    assert "xml" in r.content_type, (r.status, r.content_type, r.body[:300])
    xsd("ows/1.1.0/owsExceptionReport.xsd", r.body)
    es = r.xml().findall(f"{OWS}Exception")
    assert len(es) == 1, r.text()
    e = es[0]
    assert (e.get("exceptionCode"), e.get("locator")) == (code, locator), r.text()
    text = e.findtext(f"{OWS}ExceptionText")
    assert text and text.strip()
    assert r.status == status, r.status
    return text


# ---------------------------------------------------------------- WMS


def test_the_valid_requests_work(base, get):
    """The requests the bad ones are made from are good."""
    r = get(url(base, "/wms", GETMAP))
    assert r.status == 200 and r.content_type == "image/png"
    assert decode(r.body).shape == (200, 300, 4)
    r = get(url(base, "/wms", GETFEATUREINFO))
    assert r.status == 200 and r.content_type.startswith("application/json")
    assert r.body.startswith(b'{"')


@pytest.mark.parametrize("param", ["REQUEST", "VERSION", "LAYERS", "STYLES", "CRS", "BBOX", "WIDTH", "HEIGHT", "FORMAT"])
def test_wms_getmap_missing_parameter(base, get, xsd, param):
    text = wms_exception(get, xsd, base, with_(GETMAP, **{param: None}), "MissingParameterValue", param)
    assert param in text


def test_wms_missing_service(base, get, xsd):
    """SERVICE is mandatory in GetCapabilities (WMS 1.3.0 §7.2.2); GetMap does not list it
    (table 8), so a GetMap without it is answered."""
    wms_exception(get, xsd, base, {"REQUEST": "GetCapabilities"}, "MissingParameterValue", "SERVICE")
    r = get(url(base, "/wms", with_(GETMAP, SERVICE=None)))
    assert r.status == 200 and r.content_type == "image/png"
    wms_exception(get, xsd, base, with_(GETMAP, SERVICE="WMTS"), "InvalidParameterValue", "SERVICE")


def test_wms_unknown_request_and_version(base, get, xsd):
    wms_exception(get, xsd, base, with_(GETMAP, REQUEST="GetPrintout"), "OperationNotSupported", "REQUEST", status=501)
    wms_exception(get, xsd, base, with_(GETMAP, VERSION="1.1.1"), "InvalidParameterValue", "VERSION")


def test_wms_unknown_crs(base, get, xsd):
    text = wms_exception(get, xsd, base, with_(GETMAP, CRS="EPSG:3828"), "InvalidCRS", "CRS")
    assert "EPSG:3828" in text


@pytest.mark.parametrize("bbox,crs", [
    ("307000,2769000,306000,2770000", "EPSG:3826"),   # minx > maxx
    ("306000,2770000,307000,2769000", "EPSG:3826"),   # miny > maxy
    ("306000,2769000,306000,2770000", "EPSG:3826"),   # empty: no width
    ("306000,2769000,307000", "EPSG:3826"),           # three numbers
    ("306000,2769000,307000,north", "EPSG:3826"),     # not a number
    ("121.54,25.02,121.56,25.04", "EPSG:4326"),       # longitude first: latitudes of 121°
    ("25.04,121.54,25.02,121.56", "EPSG:4326"),       # lat/lon, but the latitudes inverted
])
def test_wms_bad_bbox(base, get, xsd, bbox, crs):
    wms_exception(get, xsd, base, with_(GETMAP, BBOX=bbox, CRS=crs), "InvalidParameterValue", "BBOX")


@pytest.mark.parametrize("param,value", [("WIDTH", "0"), ("HEIGHT", "0"), ("WIDTH", "-5"), ("WIDTH", "100000"), ("HEIGHT", "100000"), ("WIDTH", "wide"), ("WIDTH", "1.5")])
def test_wms_bad_size(base, get, xsd, param, value):
    wms_exception(get, xsd, base, with_(GETMAP, **{param: value}), "InvalidParameterValue", param)


def test_wms_huge_size_is_refused_at_once(base, get, xsd):
    """100000 × 100000 px (40 GB of RGBA) is refused before anything is allocated — even
    when the client asks for the exception as an image, which cannot be that big."""
    for extra in ({}, {"EXCEPTIONS": "INIMAGE"}, {"EXCEPTIONS": "BLANK"}):
        params = with_(GETMAP, WIDTH="100000", HEIGHT="100000", **extra)
        r = get(url(base, "/wms", params), timeout=10)
        assert r.seconds < 2.0, f"took {r.seconds:.1f} s"
        assert len(r.body) < 10_000
        wms_exception(get, xsd, base, params, "InvalidParameterValue", "WIDTH")


def test_wms_unknown_layer_style_format(base, get, xsd):
    text = wms_exception(get, xsd, base, with_(GETMAP, LAYERS="basemap,nowhere"), "LayerNotDefined", "LAYERS")
    assert "nowhere" in text
    wms_exception(get, xsd, base, with_(GETMAP, STYLES="fancy"), "StyleNotDefined", "STYLES")
    wms_exception(get, xsd, base, with_(GETMAP, LAYERS="basemap,buildings", STYLES="default"), "StyleNotDefined", "STYLES")  # one per layer
    text = wms_exception(get, xsd, base, with_(GETMAP, FORMAT="image/gif"), "InvalidFormat", "FORMAT")
    assert "image/gif" in text


@pytest.mark.parametrize("fmt", ["image/png", "image/jpeg"])
def test_wms_exceptions_inimage_draws_the_message_at_the_requested_size(base, get, fmt):
    r = get(url(base, "/wms", with_(GETMAP, LAYERS="nowhere", EXCEPTIONS="INIMAGE", FORMAT=fmt, WIDTH="320", HEIGHT="120")))
    assert r.content_type == fmt, (r.status, r.content_type, r.body[:200])
    img = decode(r.body)
    assert img.shape[:2] == (120, 320)
    rgb = img[:, :, :3].astype(int)
    # White, with the message in dark red somewhere.
    red = (rgb[:, :, 0] > 110) & (rgb[:, :, 1] < 90) & (rgb[:, :, 2] < 90)
    assert red.sum() > 50, "the exception text should be written on the image"
    assert (rgb.sum(axis=2) > 740).mean() > 0.5


def test_wms_exceptions_blank_is_an_empty_image_of_the_requested_size(base, get):
    r = get(url(base, "/wms", with_(GETMAP, LAYERS="nowhere", EXCEPTIONS="BLANK", WIDTH="320", HEIGHT="120")))
    assert r.content_type == "image/png"
    img = decode(r.body)
    assert img.shape[:2] == (120, 320)
    assert (img == img[0, 0]).all(), "one colour everywhere"
    r = get(url(base, "/wms", with_(GETMAP, LAYERS="nowhere", EXCEPTIONS="BLANK", TRANSPARENT="TRUE", WIDTH="64", HEIGHT="48")))
    img = decode(r.body)
    assert img.shape == (48, 64, 4) and (img[:, :, 3] == 0).all(), "transparent when asked"


def test_wms_bad_exceptions_transparent_bgcolor(base, get, xsd):
    wms_exception(get, xsd, base, with_(GETMAP, EXCEPTIONS="SHOUT"), "InvalidParameterValue", "EXCEPTIONS")
    wms_exception(get, xsd, base, with_(GETMAP, TRANSPARENT="maybe"), "InvalidParameterValue", "TRANSPARENT")
    wms_exception(get, xsd, base, with_(GETMAP, BGCOLOR="red"), "InvalidParameterValue", "BGCOLOR")


@pytest.mark.parametrize("i,j,locator", [("300", "100", "I"), ("-1", "100", "I"), ("150", "200", "J"), ("150", "-3", "J")])
def test_wms_getfeatureinfo_point_outside_the_map(base, get, xsd, i, j, locator):
    wms_exception(get, xsd, base, with_(GETFEATUREINFO, I=i, J=j), "InvalidPoint", locator)


def test_wms_getfeatureinfo_bad_layers_and_format(base, get, xsd):
    wms_exception(get, xsd, base, with_(GETFEATUREINFO, QUERY_LAYERS="terrain"), "LayerNotQueryable", "QUERY_LAYERS")
    wms_exception(get, xsd, base, with_(GETFEATUREINFO, LAYERS="cadastral", QUERY_LAYERS="buildings"), "LayerNotDefined", "QUERY_LAYERS")
    wms_exception(get, xsd, base, with_(GETFEATUREINFO, QUERY_LAYERS=None), "MissingParameterValue", "QUERY_LAYERS")
    wms_exception(get, xsd, base, with_(GETFEATUREINFO, INFO_FORMAT="image/png"), "InvalidFormat", "INFO_FORMAT")
    wms_exception(get, xsd, base, with_(GETFEATUREINFO, I=None), "MissingParameterValue", "I")
    wms_exception(get, xsd, base, with_(GETFEATUREINFO, J="middle"), "InvalidParameterValue", "J")


def test_wms_legend_errors(base, get, xsd):
    legend = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetLegendGraphic", "LAYER": "pipelines", "FORMAT": "image/png"}
    wms_exception(get, xsd, base, with_(legend, LAYER="nowhere"), "LayerNotDefined", "LAYER")
    wms_exception(get, xsd, base, with_(legend, LAYER=None), "MissingParameterValue", "LAYER")
    wms_exception(get, xsd, base, with_(legend, STYLE="fancy"), "StyleNotDefined", "STYLE")
    wms_exception(get, xsd, base, with_(legend, FORMAT="image/bmp"), "InvalidFormat", "FORMAT")


def test_wms_escapes_what_the_client_sent(base, get, xsd):
    evil = '<script>alert("x")</script>&amp;'
    r = get(url(base, "/wms", with_(GETMAP, LAYERS=evil)))
    assert b"<script>" not in r.body
    text = wms_exception(get, xsd, base, with_(GETMAP, LAYERS=evil), "LayerNotDefined", "LAYERS")
    assert evil in text, "the parsed message quotes the layer name as sent"
    text = wms_exception(get, xsd, base, with_(GETMAP, CRS=evil), "InvalidCRS", "CRS")
    assert evil in text


# ---------------------------------------------------------------- WMTS


@pytest.fixture(scope="module")
def tile(matrices):
    """A good TWD97 level-11 tile over the centre: (matrix, row, col)."""
    m = matrices["TWD97"][11]
    row, col, _ = m.tile_at(*lonlat_to_3826(*CENTRE_LONLAT))
    return m, row, col


@pytest.fixture(scope="module")
def gettile(tile):
    m, row, col = tile
    return {"SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": "basemap", "STYLE": "default", "FORMAT": "image/png",
            "TILEMATRIXSET": "TWD97", "TILEMATRIX": m.id, "TILEROW": str(row), "TILECOL": str(col)}


def test_the_valid_tile_works(base, get, gettile, tile):
    r = get(url(base, "/wmts", gettile))
    assert r.status == 200 and r.content_type == "image/png"
    img = decode(r.body)
    assert img.shape == (256, 256, 4) and len(np.unique(img.reshape(-1, 4), axis=0)) > 10
    m, row, col = tile
    rest = get(f"{base}/wmts/1.0.0/basemap/default/TWD97/{m.id}/{row}/{col}.png")
    assert rest.status == 200 and (decode(rest.body) == img).all(), "KVP and REST give the same tile"


@pytest.mark.parametrize("param", ["SERVICE", "REQUEST", "VERSION", "LAYER", "STYLE", "FORMAT", "TILEMATRIXSET", "TILEMATRIX", "TILEROW", "TILECOL"])
def test_wmts_missing_parameter(base, get, xsd, gettile, param):
    text = wmts_exception(get, xsd, base, "/wmts", with_(gettile, **{param: None}), "MissingParameterValue", param)
    assert param in text


def test_wmts_tile_out_of_range(base, get, xsd, gettile, tile):
    m, row, col = tile
    wmts_exception(get, xsd, base, "/wmts", with_(gettile, TILEROW=str(m.height)), "TileOutOfRange", "TILEROW")
    wmts_exception(get, xsd, base, "/wmts", with_(gettile, TILEROW="-1"), "TileOutOfRange", "TILEROW")
    wmts_exception(get, xsd, base, "/wmts", with_(gettile, TILECOL=str(m.width)), "TileOutOfRange", "TILECOL")
    wmts_exception(get, xsd, base, "/wmts", with_(gettile, TILECOL="99999999999"), "TileOutOfRange", "TILECOL")
    # The last tile inside the matrix is fine.
    r = get(url(base, "/wmts", with_(gettile, TILEROW=str(m.height - 1), TILECOL=str(m.width - 1))))
    assert r.status == 200 and r.content_type == "image/png"
    wmts_exception(get, xsd, base, f"/wmts/1.0.0/basemap/default/TWD97/{m.id}/{m.height}/{col}.png", None, "TileOutOfRange", "TILEROW")
    wmts_exception(get, xsd, base, f"/wmts/1.0.0/basemap/default/TWD97/{m.id}/{row}/{m.width}.png", None, "TileOutOfRange", "TILECOL")


@pytest.mark.parametrize("param,value", [("TILEMATRIX", "14"), ("TILEMATRIX", "EPSG:3826:11"), ("TILEMATRIXSET", "EPSG:3826"), ("LAYER", "nowhere"),
                                         ("STYLE", "fancy"), ("FORMAT", "image/gif"), ("TILEROW", "abc"), ("TILECOL", "1.5"), ("VERSION", "2.0.0"),
                                         ("SERVICE", "WMS")])
def test_wmts_invalid_parameter_value(base, get, xsd, gettile, param, value):
    text = wmts_exception(get, xsd, base, "/wmts", with_(gettile, **{param: value}), "InvalidParameterValue", param)
    assert value in text


def test_wmts_unknown_request_is_501(base, get, xsd, gettile):
    wmts_exception(get, xsd, base, "/wmts", with_(gettile, REQUEST="GetMap"), "OperationNotSupported", "REQUEST", status=501)


def test_wmts_rest_bad_paths(base, get, xsd, tile):
    m, row, col = tile
    p = f"/wmts/1.0.0/basemap/default/TWD97/{m.id}"
    wmts_exception(get, xsd, base, f"{p}/abc/{col}.png", None, "InvalidParameterValue", "TILEROW")
    wmts_exception(get, xsd, base, f"{p}/{row}/{col}.gif", None, "InvalidParameterValue", "FORMAT")
    wmts_exception(get, xsd, base, f"/wmts/1.0.0/basemap/default/TWD97/99/{row}/{col}.png", None, "InvalidParameterValue", "TILEMATRIX")
    wmts_exception(get, xsd, base, f"/wmts/1.0.0/basemap/default/NLSC/{m.id}/{row}/{col}.png", None, "InvalidParameterValue", "TILEMATRIXSET")
    wmts_exception(get, xsd, base, f"/wmts/1.0.0/nowhere/default/TWD97/{m.id}/{row}/{col}.png", None, "InvalidParameterValue", "LAYER")
    wmts_exception(get, xsd, base, f"/wmts/1.0.0/basemap/fancy/TWD97/{m.id}/{row}/{col}.png", None, "InvalidParameterValue", "STYLE")


def test_wmts_getfeatureinfo_errors(base, get, xsd, gettile):
    info = with_(gettile, REQUEST="GetFeatureInfo", FORMAT=None, LAYER="cadastral", INFOFORMAT="application/json", I="10", J="20")
    r = get(url(base, "/wmts", info))
    assert r.status == 200 and r.content_type.startswith("application/json"), r.body[:300]
    wmts_exception(get, xsd, base, "/wmts", with_(info, I="256"), "PointIJOutOfRange", "I")
    wmts_exception(get, xsd, base, "/wmts", with_(info, J="-1"), "PointIJOutOfRange", "J")
    wmts_exception(get, xsd, base, "/wmts", with_(info, I=None), "MissingParameterValue", "I")
    wmts_exception(get, xsd, base, "/wmts", with_(info, INFOFORMAT=None), "MissingParameterValue", "INFOFORMAT")
    wmts_exception(get, xsd, base, "/wmts", with_(info, INFOFORMAT="image/png"), "InvalidParameterValue", "INFOFORMAT")
    # The hillshade has no features (and its capabilities list no InfoFormat).
    r = get(url(base, "/wmts", with_(info, LAYER="terrain")))
    assert r.status == 400
    xsd("ows/1.1.0/owsExceptionReport.xsd", r.body)
    e = r.xml().find(f"{OWS}Exception")
    assert e.get("locator") == "LAYER" and e.get("exceptionCode") in ("LayerNotQueryable", "OperationNotSupported", "InvalidParameterValue"), r.text()


def test_wmts_escapes_what_the_client_sent(base, get, xsd, gettile, tile):
    evil = '<script>alert("x")</script>&amp;'
    r = get(url(base, "/wmts", with_(gettile, LAYER=evil)))
    assert b"<script>" not in r.body
    text = wmts_exception(get, xsd, base, "/wmts", with_(gettile, LAYER=evil), "InvalidParameterValue", "LAYER")
    assert evil in text
    m, row, col = tile
    text = wmts_exception(get, xsd, base, f"/wmts/1.0.0/{urllib.parse.quote(evil, safe='')}/default/TWD97/{m.id}/{row}/{col}.png", None, "InvalidParameterValue", "LAYER")
    assert evil in text
    text = wmts_exception(get, xsd, base, "/wmts", with_(gettile, TILEMATRIX=evil), "InvalidParameterValue", "TILEMATRIX")
    assert evil in text
