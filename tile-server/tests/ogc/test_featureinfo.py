"""WMTS GetFeatureInfo (REST templates from the capabilities, and KVP) and the three info
formats: the parcel under a tile pixel, as the store has it."""

import json
import urllib.parse
from html.parser import HTMLParser

import pytest
from lxml import etree

from support import CENTRE_LONLAT, lonlat_to_3826

WMTS_NS = {"wmts": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}


@pytest.fixture(scope="module")
def templates(base, get):
    doc = get(f"{base}/wmts/1.0.0/WMTSCapabilities.xml").xml()
    layer = next(l for l in doc.findall("wmts:Contents/wmts:Layer", WMTS_NS) if l.findtext("ows:Identifier", namespaces=WMTS_NS) == "cadastral")
    return {u.get("format"): u.get("template") for u in layer.findall("wmts:ResourceURL", WMTS_NS) if u.get("resourceType") == "FeatureInfo"}


@pytest.fixture(scope="module")
def clicks(store, matrices):
    """Up to 4 pixels of TWD97 level-13 tiles inside parcels (clear of their edges), with
    the parcels the store has under each pixel's centre."""
    m = matrices["TWD97"][13]
    cx, cy = lonlat_to_3826(*CENTRE_LONLAT)
    out = []
    for s in store.open_samples(m.res, clear_px=8):
        if abs(s.x - cx) > 300 or abs(s.y - cy) > 300:
            continue
        row, col, box = m.tile_at(s.x, s.y)
        i, j = int((s.x - box[0]) / m.res), int((box[3] - s.y) / m.res)
        under = store.parcels_at(box[0] + (i + 0.5) * m.res, box[3] - (j + 0.5) * m.res)
        out.append((m.id, row, col, i, j, under))
        if len(out) == 4:
            break
    assert len(out) >= 2
    return out


def _fill(template, matrix, row, col, i, j):
    return (template.replace("{Style}", "default").replace("{TileMatrixSet}", "TWD97").replace("{TileMatrix}", matrix)
            .replace("{TileRow}", str(row)).replace("{TileCol}", str(col)).replace("{J}", str(j)).replace("{I}", str(i)))


def test_rest_featureinfo_json_names_the_parcel(get, templates, clicks):
    for matrix, row, col, i, j, under in clicks:
        r = get(_fill(templates["application/json"], matrix, row, col, i, j))
        assert r.status == 200 and r.content_type.startswith("application/json"), r.body[:300]
        got = json.loads(r.body)
        assert got["features"], (matrix, row, col, i, j)
        first = got["features"][0]
        assert first["layer"] == "cadastral" and first["id"] in {p.fid for p in under}
        assert first["properties"]["parcel_no"] in {p.props["parcel_no"] for p in under}


def test_rest_featureinfo_xml_and_html(get, templates, clicks):
    matrix, row, col, i, j, under = clicks[0]
    numbers = {p.props["parcel_no"] for p in under}
    r = get(_fill(templates["text/xml"], matrix, row, col, i, j))
    doc = etree.fromstring(r.body)
    values = doc.xpath("//Layer[@name='cadastral']/Feature/Attribute[@name='parcel_no']/text()")
    assert values and values[0] in numbers, r.text()
    r = get(_fill(templates["text/html"], matrix, row, col, i, j))
    assert r.content_type.startswith("text/html")
    cells = []

    class Cells(HTMLParser):
        def handle_data(self, data):
            cells.append(data)

    Cells().feed(r.text())
    assert numbers & set(cells), cells[:40]


def test_kvp_featureinfo_matches_rest(base, get, templates, clicks):
    matrix, row, col, i, j, _ = clicks[0]
    params = {"SERVICE": "WMTS", "REQUEST": "GetFeatureInfo", "VERSION": "1.0.0", "LAYER": "cadastral", "STYLE": "default",
              "TILEMATRIXSET": "TWD97", "TILEMATRIX": matrix, "TILEROW": row, "TILECOL": col, "I": i, "J": j, "INFOFORMAT": "application/json"}
    kvp = json.loads(get(f"{base}/wmts?" + urllib.parse.urlencode(params)).body)
    rest = json.loads(get(_fill(templates["application/json"], matrix, row, col, i, j)).body)
    assert [f["id"] for f in kvp["features"]] == [f["id"] for f in rest["features"]] != []
