"""Renders one WMTS layer with QGIS, headless, the way a desktop user would see it.
Run by test_qgis.py in a child process, so that a QGIS crash fails one test only.

usage: /usr/bin/python3 qgis_render.py '<json>'
  json: {"uri": "<QGIS wms provider URI>", "crs": "EPSG:3826", "extent": [xmin, ymin, xmax, ymax],
         "size": [w, h], "out": "/path/image.png"}
Prints one JSON line: {"valid": bool, "error": str, "layer_crs": str, "errors": [...],
"extent": [...], "map_units_per_pixel": float}. Exit 0 when the layer loaded and rendered
without errors; 1 otherwise."""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")

from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsMapRendererParallelJob,  # noqa: E402
                       QgsMapSettings, QgsRasterLayer, QgsRectangle)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def main():
    args = json.loads(sys.argv[1])
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    result = {"valid": False}
    layer = QgsRasterLayer(args["uri"], "formosa", "wms")
    result["valid"] = layer.isValid()
    result["error"] = layer.error().summary() if not layer.isValid() else ""
    if layer.isValid():
        result["layer_crs"] = layer.crs().authid()
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(QgsCoordinateReferenceSystem(args["crs"]))
        settings.setExtent(QgsRectangle(*args["extent"]))
        settings.setOutputSize(QSize(*args["size"]))
        settings.setOutputDpi(96)
        # Magenta shows wherever QGIS got no tile.
        settings.setBackgroundColor(QColor(255, 0, 255))
        job = QgsMapRendererParallelJob(settings)
        job.start()
        job.waitForFinished()
        result["errors"] = [f"{e.layerID}: {e.message}" for e in job.errors()]
        image = job.renderedImage()
        result["saved"] = image.save(args["out"], "PNG")
        v = settings.visibleExtent()
        result["extent"] = [v.xMinimum(), v.yMinimum(), v.xMaximum(), v.yMaximum()]
        result["map_units_per_pixel"] = settings.mapUnitsPerPixel()
    print(json.dumps(result), flush=True)
    ok = result["valid"] and not result.get("errors") and result.get("saved")
    # exitQgis() can crash on some builds after everything is written; skip it.
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
