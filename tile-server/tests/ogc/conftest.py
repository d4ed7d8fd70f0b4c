"""Fixtures for the OGC real-client tests: one `formosa demo` server over a fresh store for
the whole session, the store's geometry read back with GDAL, an HTTP helper that never
raises on 4xx/5xx, and an offline XSD validator over the vendored OGC schemas.

Run from the repository root with Debian's python (the apt packages python3-pytest,
python3-owslib, python3-lxml, python3-gdal, qgis, python3-qgis):

    /usr/bin/python3 -m pytest -q tile-server/tests/ogc
"""

import os
import queue
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from support import HERE, REPO, StoreData, wmts_matrices

FORMOSA_BIN = Path(os.environ.get("FORMOSA_BIN", REPO / "target" / "debug" / "formosa"))
# The server is on loopback: no client (urllib, OWSLib's requests, GDAL's curl, QGIS) may
# go through a proxy to reach it.
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var), "127.0.0.1", "localhost"]))

# ---------------------------------------------------------------- XSD validation, offline

SCHEMAS = HERE / "schemas"
# Remote schema locations → the vendored copies (same layout as schemas.opengis.net).
SCHEMA_MAP = {
    "http://schemas.opengis.net/": str(SCHEMAS) + "/",
    "https://schemas.opengis.net/": str(SCHEMAS) + "/",
    "http://www.w3.org/1999/xlink.xsd": str(SCHEMAS / "w3c" / "1999" / "xlink.xsd"),
    "http://www.w3.org/2001/xml.xsd": str(SCHEMAS / "w3c" / "2001" / "xml.xsd"),
}


class _OfflineResolver(etree.Resolver):
    def resolve(self, url, pubid, context):
        for remote, local in SCHEMA_MAP.items():
            if url.startswith(remote):
                path = local + url[len(remote):] if local.endswith("/") else local
                return self.resolve_filename(path, context)
        if url.startswith("http"):
            raise RuntimeError(f"schema not vendored (tests run offline): {url}")
        return None


_schemas = {}


def xsd_errors(schema, document):
    """The validation errors of `document` (bytes) against `schema`, a path under
    schemas/ such as "wms/1.3.0/capabilities_1_3_0.xsd"; [] when it is valid."""
    if schema not in _schemas:
        parser = etree.XMLParser(no_network=True)
        parser.resolvers.add(_OfflineResolver())
        _schemas[schema] = etree.XMLSchema(etree.parse(str(SCHEMAS / schema), parser))
    xsd = _schemas[schema]
    doc = etree.fromstring(document, etree.XMLParser(no_network=True, resolve_entities=False))
    if xsd.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log][:20]


def assert_xsd_valid(schema, document):
    errors = xsd_errors(schema, document)
    assert not errors, f"not valid against {schema}:\n" + "\n".join(errors) + "\n---\n" + document[:3000].decode("utf-8", "replace")


@pytest.fixture(scope="session")
def xsd():
    """assert_xsd_valid(schema, bytes)."""
    return assert_xsd_valid


# ---------------------------------------------------------------- HTTP


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    seconds: float

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def xml(self):
        return etree.fromstring(self.body)

    def text(self):
        return self.body.decode("utf-8")


def http_get(url, timeout=60):
    """GET `url`; 4xx/5xx answers are returned, not raised."""
    t = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        body, status, headers = e.read(), e.code, e.headers
    return Response(status, {k.lower(): v for k, v in headers.items()}, body, time.monotonic() - t)


@pytest.fixture(scope="session")
def get():
    return http_get


# ---------------------------------------------------------------- the server


def postgis_store(name):
    """On a PostGIS run (FORMOSA_TEST_POSTGIS=postgresql://user@host:port): a fresh
    database for the demo store, as (formosa's --store URL, GDAL's PG: source)."""
    server = os.environ["FORMOSA_TEST_POSTGIS"].rstrip("/")
    psql = lambda db, sql, check=True: subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", f"{server}/{db}", "-c", sql], capture_output=True, check=check)
    if psql("postgres", "CREATE DATABASE formosa_template", check=False).returncode == 0:
        psql("formosa_template", "CREATE EXTENSION IF NOT EXISTS postgis")
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{name}" TEMPLATE formosa_template')
    auth, hostport = server.split("://", 1)[1].rsplit("@", 1) if "@" in server else ("postgres", server.split("://", 1)[1])
    host, port = hostport.split(":") if ":" in hostport else (hostport, "5432")
    return f"{server}/{name}", f"PG:host={host} port={port} user={auth} dbname={name}"


class Server:
    def __init__(self, base, store, proc, log):
        self.base = base
        # The store as GDAL opens it (a GeoPackage path, or a PG: source on PostGIS runs).
        self.store = store
        self.proc = proc
        self._log = log

    def log(self):
        return "".join(self._log)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """`formosa demo` on a free port over a fresh store (imports data-fixtures/data)."""
    if not FORMOSA_BIN.exists():
        pytest.fail(f"{FORMOSA_BIN} is missing: run `cargo build -p formosa-cli` first (or set FORMOSA_BIN)")
    store = tmp_path_factory.mktemp("formosa-ogc") / "demo.gpkg"
    store_arg, gdal_source = str(store), store
    if os.environ.get("FORMOSA_TEST_POSTGIS"):
        store_arg, gdal_source = postgis_store(f"formosa_ogc_{os.getpid()}")
    env = dict(os.environ, FORMOSA_LOG="info")
    env.pop("FORMOSA_CONFIG", None)
    env.pop("FORMOSA_STORE", None)
    proc = subprocess.Popen(
        [str(FORMOSA_BIN), "--store", store_arg, "-q", "demo", "--bind", "127.0.0.1:0"],
        cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    log = []
    found = queue.Queue()

    def drain():
        # Keep reading: a full stderr pipe would stall the server.
        for raw in proc.stderr:
            line = re.sub(r"\x1b\[[0-9;]*m", "", raw.decode("utf-8", "replace"))
            log.append(line)
            m = re.search(r"on (http://[0-9.:]+)/", line)
            if m:
                found.put(m.group(1))
        found.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        base = found.get(timeout=180)
    except queue.Empty:
        base = None
    if base is None:
        proc.kill()
        proc.wait()
        pytest.fail(f"formosa demo did not start (exit {proc.poll()}):\n" + "".join(log)[-4000:])
    s = Server(base, gdal_source, proc, log)
    yield s
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def base(server):
    return server.base


@pytest.fixture(scope="session")
def store(server):
    """Parcels, buildings and pipelines around the centre, from the demo store, by GDAL."""
    return StoreData.load(server.store)


@pytest.fixture(scope="session")
def matrices(base):
    """{tile matrix set: [Matrix]} from the WMTS capabilities."""
    return wmts_matrices(http_get(f"{base}/wmts/1.0.0/WMTSCapabilities.xml").xml())
