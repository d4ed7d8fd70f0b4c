"""Capabilities documents and exception reports against the official OGC schemas (vendored
under schemas/, validated offline), and what the capabilities say."""

import re

import pytest

WMS_NS = {"wms": "http://www.opengis.net/wms", "xlink": "http://www.w3.org/1999/xlink"}
WMTS_NS = {"wmts": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1", "xlink": "http://www.w3.org/1999/xlink"}
STORE_LAYERS = {"cadastral", "buildings", "pipelines", "towns", "counties", "incidents"}
CRSS = {"EPSG:3857", "EPSG:4326", "CRS:84", "EPSG:3826", "EPSG:3825"}


@pytest.fixture(scope="module")
def wms_caps(base, get):
    r = get(f"{base}/wms?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0")
    assert r.status == 200 and "xml" in r.content_type, (r.status, r.content_type, r.body[:500])
    return r


@pytest.fixture(scope="module")
def wmts_rest_caps(base, get):
    r = get(f"{base}/wmts/1.0.0/WMTSCapabilities.xml")
    assert r.status == 200 and "xml" in r.content_type, (r.status, r.content_type, r.body[:500])
    return r


def test_wms_capabilities_validate_against_the_wms_1_3_0_schema(wms_caps, xsd):
    xsd("wms/1.3.0/capabilities_1_3_0.xsd", wms_caps.body)


def test_wms_capabilities_list_the_layers_crs_and_a_lat_lon_bbox(wms_caps, base):
    doc = wms_caps.xml()
    assert doc.get("version") == "1.3.0"
    top = doc.find("wms:Capability/wms:Layer", WMS_NS)
    assert top.findtext("wms:Name", namespaces=WMS_NS) == "basemap"
    assert {c.text for c in top.findall("wms:CRS", WMS_NS)} == CRSS
    children = {l.findtext("wms:Name", namespaces=WMS_NS): l for l in top.findall("wms:Layer", WMS_NS)}
    assert STORE_LAYERS | {"terrain"} <= set(children), sorted(children)
    assert children["terrain"].get("queryable") == "0"
    assert all(children[n].get("queryable") == "1" for n in STORE_LAYERS)
    # EPSG:4326 boxes are latitude first in WMS 1.3.0; the store is around 25°N 121.5°E.
    boxes = {b.get("CRS"): b for b in top.findall("wms:BoundingBox", WMS_NS)}
    assert set(boxes) == CRSS
    b4326, b84 = boxes["EPSG:4326"], boxes["CRS:84"]
    assert 21 < float(b4326.get("minx")) < float(b4326.get("maxx")) < 27, "EPSG:4326 minx must be a latitude"
    assert 118 < float(b4326.get("miny")) < float(b4326.get("maxy")) < 123, "EPSG:4326 miny must be a longitude"
    assert float(b84.get("minx")) == pytest.approx(float(b4326.get("miny")))
    # Every operation points back at this server.
    hrefs = doc.xpath("//wms:OnlineResource/@xlink:href", namespaces=WMS_NS)
    assert hrefs and all(h.startswith(base + "/wms?") for h in hrefs), hrefs


def test_wmts_capabilities_by_kvp_and_rest_validate_against_the_wmts_schema(base, get, wmts_rest_caps, xsd):
    kvp = get(f"{base}/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&VERSION=1.0.0")
    assert kvp.status == 200
    xsd("wmts/1.0/wmtsGetCapabilities_response.xsd", kvp.body)
    xsd("wmts/1.0/wmtsGetCapabilities_response.xsd", wmts_rest_caps.body)
    assert kvp.body == wmts_rest_caps.body


def test_wmts_capabilities_list_layers_sets_and_templates(wmts_rest_caps, base):
    doc = wmts_rest_caps.xml()
    layers = {l.findtext("ows:Identifier", namespaces=WMTS_NS): l for l in doc.findall("wmts:Contents/wmts:Layer", WMTS_NS)}
    assert {"basemap", "terrain"} | STORE_LAYERS <= set(layers), sorted(layers)
    for name, l in layers.items():
        sets = {s.text for s in l.findall("wmts:TileMatrixSetLink/wmts:TileMatrixSet", WMTS_NS)}
        assert sets == {"GoogleMapsCompatible", "TWD97"}, name
        tiles = [u.get("template") for u in l.findall("wmts:ResourceURL", WMTS_NS) if u.get("resourceType") == "tile"]
        assert f"{base}/wmts/1.0.0/{name}/{{Style}}/{{TileMatrixSet}}/{{TileMatrix}}/{{TileRow}}/{{TileCol}}.png" in tiles
        infos = [u.get("template") for u in l.findall("wmts:ResourceURL", WMTS_NS) if u.get("resourceType") == "FeatureInfo"]
        # Feature layers answer GetFeatureInfo; the hillshade has no features.
        if name in STORE_LAYERS | {"basemap", "terrain"}:
            assert bool(infos) == (name != "terrain"), (name, infos)
            assert bool(l.findall("wmts:InfoFormat", WMTS_NS)) == (name != "terrain"), name
    sets = {s.findtext("ows:Identifier", namespaces=WMTS_NS): s for s in doc.findall("wmts:Contents/wmts:TileMatrixSet", WMTS_NS)}
    assert sets["TWD97"].findtext("ows:SupportedCRS", namespaces=WMTS_NS) in ("urn:ogc:def:crs:EPSG::3826", "urn:ogc:def:crs:EPSG:6.18.3:3826")
    assert sets["GoogleMapsCompatible"].findtext("wmts:WellKnownScaleSet", namespaces=WMTS_NS) == "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"
    google = sets["GoogleMapsCompatible"].findall("wmts:TileMatrix", WMTS_NS)
    assert float(google[0].findtext("wmts:ScaleDenominator", namespaces=WMTS_NS)) == pytest.approx(559082264.0287178, rel=1e-9)
    for i, m in enumerate(google):
        assert m.findtext("wmts:MatrixWidth", namespaces=WMTS_NS) == str(2 ** i)
        x, y = map(float, m.findtext("wmts:TopLeftCorner", namespaces=WMTS_NS).split())
        assert (x, y) == pytest.approx((-20037508.3427892, 20037508.3427892))


def test_twd97_matrix_set_is_the_nlsc_grid(wmts_rest_caps):
    """NLSC's national WMTS (wmts.nlsc.gov.tw/97, and docs/DESIGN): origin (50000, 3000000),
    256-px tiles, 14 levels "0".."13", scale denominators 11 811 779.58 … 944.94 — the
    map scales 1:12 500 000 … 1:1 000 at 96 dpi, as NLSC computes them. A client mixing
    NLSC's tiles with these must find the same grid, to the pixel."""
    doc = wmts_rest_caps.xml()
    tms = next(s for s in doc.findall("wmts:Contents/wmts:TileMatrixSet", WMTS_NS) if s.findtext("ows:Identifier", namespaces=WMTS_NS) == "TWD97")
    matrices = tms.findall("wmts:TileMatrix", WMTS_NS)
    assert [m.findtext("ows:Identifier", namespaces=WMTS_NS) for m in matrices] == [str(i) for i in range(14)]
    for m in matrices:
        assert m.findtext("wmts:TopLeftCorner", namespaces=WMTS_NS).split() in (["50000", "3000000"], ["50000.0", "3000000.0"])
        assert m.findtext("wmts:TileWidth", namespaces=WMTS_NS) == "256" and m.findtext("wmts:TileHeight", namespaces=WMTS_NS) == "256"
    scales = [float(m.findtext("wmts:ScaleDenominator", namespaces=WMTS_NS)) for m in matrices]
    # NLSC's published values (its GetCapabilities), levels 0, 1, 4 and 13.
    assert scales[0] == pytest.approx(11811779.57593862, abs=1e-3), "level 0"
    assert scales[1] == pytest.approx(9449423.660750896, abs=1e-3), "level 1"
    assert scales[4] == pytest.approx(944942.3660750897, abs=1e-4), "level 4"
    assert scales[13] == pytest.approx(944.9423660750896, abs=1e-6), "level 13 (1:1000)"



def test_wms_exception_report_validates_against_the_wms_schema(base, get, xsd):
    r = get(f"{base}/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=nowhere&STYLES=&CRS=EPSG:3826&BBOX=306000,2769000,307000,2770000&WIDTH=10&HEIGHT=10&FORMAT=image/png")
    assert r.status == 400 and "xml" in r.content_type
    xsd("wms/1.3.0/exceptions_1_3_0.xsd", r.body)
    e = r.xml().find("{http://www.opengis.net/ogc}ServiceException")
    assert e.get("code") == "LayerNotDefined" and e.get("locator") == "LAYERS" and "nowhere" in e.text


def test_wmts_exception_report_validates_against_the_ows_schema(base, get, xsd):
    r = get(f"{base}/wmts?SERVICE=WMTS&VERSION=1.0.0&REQUEST=GetTile&LAYER=basemap&STYLE=default&FORMAT=image/png&TILEMATRIXSET=TWD97&TILEMATRIX=99&TILEROW=0&TILECOL=0")
    assert r.status == 400 and "xml" in r.content_type
    xsd("ows/1.1.0/owsExceptionReport.xsd", r.body)
    e = r.xml().find("{http://www.opengis.net/ows/1.1}Exception")
    assert e.get("exceptionCode") == "InvalidParameterValue" and e.get("locator") == "TILEMATRIX"
    assert re.search(r"\b99\b", e.findtext("{http://www.opengis.net/ows/1.1}ExceptionText"))


def test_the_validator_rejects_a_broken_document(wms_caps, wmts_rest_caps):
    """The schemas are really applied: a capabilities document without its required
    Service/Title, or a WMTS one with a TileMatrix missing its ScaleDenominator, fails."""
    from conftest import xsd_errors

    broken = re.sub(rb"<Title>Formosa[^<]*</Title>", b"", wms_caps.body, count=1)
    assert broken != wms_caps.body
    assert xsd_errors("wms/1.3.0/capabilities_1_3_0.xsd", broken)
    broken = re.sub(rb"<ScaleDenominator>[^<]*</ScaleDenominator>", b"", wmts_rest_caps.body, count=1)
    assert broken != wmts_rest_caps.body
    assert xsd_errors("wmts/1.0/wmtsGetCapabilities_response.xsd", broken)
