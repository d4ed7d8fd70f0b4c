"""GetLegendGraphic: a PNG with one row per class the style draws; pipelines has a row per
utility (water, gas, power, telecom, sewer) in the style's colours, and the image grows
with the number of classes."""

import numpy as np
import pytest

from support import colour_distance, decode, hex_rgb, style_layer

WMS_NS = {"wms": "http://www.opengis.net/wms", "xlink": "http://www.w3.org/1999/xlink"}


def legend(get, base, layer):
    r = get(f"{base}/wms?SERVICE=WMS&REQUEST=GetLegendGraphic&VERSION=1.3.0&FORMAT=image/png&LAYER={layer}")
    assert r.status == 200 and r.content_type == "image/png", (r.status, r.content_type, r.body[:300])
    return decode(r.body)


def swatch_rows(img):
    """Rows of ink in the swatch column (the left 24 px): (first y, last y) runs."""
    ink = (np.abs(img[:, :24, :3].astype(int) - 255).sum(axis=2) > 60).any(axis=1)
    runs, start = [], None
    for y, on in enumerate(list(ink) + [False]):
        if on and start is None:
            start = y
        elif not on and start is not None:
            runs.append((start, y - 1))
            start = None
    return runs


def utility_colours():
    expr = style_layer("pipelines")["paint"]["line-color"]
    assert expr[0] == "match" and expr[1] == ["get", "utility"]
    return {expr[i]: hex_rgb(expr[i + 1]) for i in range(2, len(expr) - 1, 2)}


def test_pipelines_legend_has_a_row_per_utility_in_its_colour(base, get):
    img = legend(get, base, "pipelines")
    colours = utility_colours()
    assert set(colours) >= {"water", "gas", "power", "telecom", "sewer"}
    rows = swatch_rows(img)
    assert len(rows) >= 5, rows
    # Each utility's colour is drawn, on a row of its own, top to bottom in the style's order.
    found = []
    for name, c in colours.items():
        ys = [y for y0, y1 in rows for y in range(y0, y1 + 1) if min(colour_distance(p, [c]) for p in img[y, 4:20, :3]) < 12]
        assert ys, f"{name} {c} not in the legend"
        found.append((min(ys), name))
    assert [n for _, n in sorted(found)] == list(colours), sorted(found)
    rows_of = [next(i for i, (y0, y1) in enumerate(rows) if y0 <= y <= y1) for y, _ in found]
    assert len(set(rows_of)) == len(found), "one row per utility"
    # Labels are written to the right of the swatches.
    text = (img[:, 30:, :3].astype(int).sum(axis=2) < 300)
    assert text.sum() > 100


def test_legend_grows_with_the_classes(base, get):
    sizes = {l: legend(get, base, l).shape[:2] for l in ("buildings", "pipelines", "cadastral", "basemap")}
    rows = {l: len(swatch_rows(legend(get, base, l))) for l in ("buildings", "pipelines")}
    assert 1 <= rows["buildings"] < rows["pipelines"], rows
    h = {l: s[0] for l, s in sizes.items()}
    assert h["buildings"] < h["pipelines"] < h["basemap"], sizes
    assert h["cadastral"] < h["basemap"], sizes
    # The same height per row in both legends.
    pitch = (h["pipelines"] - h["buildings"]) / (rows["pipelines"] - rows["buildings"])
    assert h["pipelines"] == pytest.approx(rows["pipelines"] * pitch + (h["buildings"] - rows["buildings"] * pitch), abs=1)
    assert 10 <= pitch <= 40, pitch


def test_capabilities_legend_urls_answer_pngs(base, get):
    doc = get(f"{base}/wms?SERVICE=WMS&REQUEST=GetCapabilities").xml()
    urls = doc.xpath("//wms:Layer[wms:Name='pipelines']/wms:Style/wms:LegendURL/wms:OnlineResource/@xlink:href", namespaces=WMS_NS)
    assert len(urls) == 1
    r = get(urls[0])
    assert r.status == 200 and r.content_type == "image/png"
    assert (decode(r.body) == legend(get, base, "pipelines")).all()
