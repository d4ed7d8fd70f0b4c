"""What HTTP clients and caches rely on: every advertised image format decodes to the same
picture, WMTS tiles revalidate with ETag / 304, KVP parameter names are case-insensitive,
and the limits the capabilities advertise (MaxWidth, LayerLimit) are the ones enforced."""

import urllib.parse
import urllib.request

import numpy as np
import pytest

from support import CENTRE_LONLAT, decode, lonlat_to_3826

WMS_NS = {"wms": "http://www.opengis.net/wms"}


@pytest.fixture(scope="module")
def tile_path(matrices):
    m = matrices["TWD97"][11]
    row, col, _ = m.tile_at(*lonlat_to_3826(*CENTRE_LONLAT))
    return f"/wmts/1.0.0/basemap/default/TWD97/{m.id}/{row}/{col}"


@pytest.mark.parametrize("ext,mime,tolerance", [("jpg", "image/jpeg", 12.0), ("webp", "image/webp", 1.0)])
def test_tile_formats_show_the_same_picture(base, get, tile_path, ext, mime, tolerance):
    png = decode(get(f"{base}{tile_path}.png").body).astype(float)
    r = get(f"{base}{tile_path}.{ext}")
    assert r.status == 200 and r.content_type == mime
    other = decode(r.body).astype(float)
    assert other.shape[:2] == (256, 256)
    diff = np.abs(other[:, :, :3] - png[:, :, :3]).mean()
    assert diff < tolerance, f"{ext} differs from png by {diff:.1f} on average"


def _get_with(url, headers):
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_wmts_tiles_revalidate_with_etag(base, tile_path, matrices):
    status, headers, body = _get_with(f"{base}{tile_path}.png", {})
    etag = headers.get("etag") or headers.get("ETag")
    assert status == 200 and etag, headers
    status, _, body = _get_with(f"{base}{tile_path}.png", {"If-None-Match": etag})
    assert status == 304 and body == b""
    # The KVP form of the same tile is the same resource.
    _, _, m, row, col = tile_path.rsplit("/", 4)
    kvp = urllib.parse.urlencode({"SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": "basemap", "STYLE": "default",
                                  "FORMAT": "image/png", "TILEMATRIXSET": "TWD97", "TILEMATRIX": m, "TILEROW": row, "TILECOL": col})
    status, _, _ = _get_with(f"{base}/wmts?{kvp}", {"If-None-Match": etag})
    assert status == 304
    status, _, body = _get_with(f"{base}{tile_path}.png", {"If-None-Match": '"something-else"'})
    assert status == 200 and body.startswith(b"\x89PNG")


def test_kvp_names_are_case_insensitive(base, get):
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    r = get(f"{base}/wms?service=WMS&request=GetCapabilities")
    assert r.status == 200 and r.xml().tag == "{http://www.opengis.net/wms}WMS_Capabilities"
    r = get(f"{base}/wms?Service=WMS&Version=1.3.0&Request=GetMap&Layers=basemap&Styles=&Crs=EPSG:3826&Bbox={x - 100},{y - 100},{x + 100},{y + 100}&Width=64&Height=64&Format=image/png")
    assert r.status == 200 and decode(r.body).shape == (64, 64, 4)
    r = get(f"{base}/wmts?service=WMTS&request=GetCapabilities")
    assert r.status == 200 and r.xml().tag == "{http://www.opengis.net/wmts/1.0}Capabilities"


def test_advertised_limits_are_enforced(base, get):
    caps = get(f"{base}/wms?SERVICE=WMS&REQUEST=GetCapabilities").xml()
    max_w = int(caps.findtext("wms:Service/wms:MaxWidth", namespaces=WMS_NS))
    max_h = int(caps.findtext("wms:Service/wms:MaxHeight", namespaces=WMS_NS))
    limit = int(caps.findtext("wms:Service/wms:LayerLimit", namespaces=WMS_NS))
    x, y = lonlat_to_3826(*CENTRE_LONLAT)
    common = {"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "STYLES": "", "CRS": "EPSG:3826", "BBOX": f"{x - 100},{y - 5},{x + 100},{y + 5}", "FORMAT": "image/png"}

    def getmap(**p):
        return get(f"{base}/wms?" + urllib.parse.urlencode(dict(common, **p), safe=":,"))

    r = getmap(LAYERS="basemap", WIDTH=max_w, HEIGHT=1)
    assert r.status == 200 and decode(r.body).shape[:2] == (1, max_w)
    r = getmap(LAYERS="basemap", WIDTH=1, HEIGHT=max_h)
    assert r.status == 200 and decode(r.body).shape[:2] == (max_h, 1)
    for p in ({"WIDTH": max_w + 1, "HEIGHT": 1}, {"WIDTH": 1, "HEIGHT": max_h + 1}):
        r = getmap(LAYERS="basemap", **p)
        e = r.xml().find("{http://www.opengis.net/ogc}ServiceException")
        assert e is not None and e.get("locator") in ("WIDTH", "HEIGHT"), r.body[:300]
    r = getmap(LAYERS=",".join(["buildings"] * limit), WIDTH=8, HEIGHT=8)
    assert r.status == 200 and r.content_type == "image/png"
    r = getmap(LAYERS=",".join(["buildings"] * (limit + 1)), WIDTH=8, HEIGHT=8)
    e = r.xml().find("{http://www.opengis.net/ogc}ServiceException")
    assert e is not None and e.get("locator") == "LAYERS", r.body[:300]
