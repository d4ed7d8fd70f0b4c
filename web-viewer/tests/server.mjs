// Starts `formosa demo` on a free port over a fresh store, as a user would.
import { execFileSync, spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const formosaBin = process.env.FORMOSA_BIN ?? path.join(repo, 'target/debug/formosa');

/**
 * Where the demo store goes: a fresh GeoPackage, or, on a PostGIS run
 * (FORMOSA_TEST_POSTGIS=postgresql://user@host:port), a fresh database. Returns
 * { store: formosa's --store, gdal: the store as GDAL's vector drivers open it,
 *   terrainGpkg: a GeoPackage holding the same elevation pyramid, for GDAL's raster reads }.
 */
function freshStore() {
  const dir = mkdtempSync(path.join(tmpdir(), 'formosa-test-'));
  const gpkg = path.join(dir, 'demo.gpkg');
  const server = process.env.FORMOSA_TEST_POSTGIS?.replace(/\/$/, '');
  if (!server) return { store: gpkg, gdal: gpkg, terrainGpkg: gpkg };
  const name = `formosa_node_${process.pid}_${path.basename(dir).replace(/[^a-z0-9]/gi, '').toLowerCase()}`;
  const psql = (db, sql) => execFileSync('psql', ['-q', '-X', '-v', 'ON_ERROR_STOP=1', `${server}/${db}`, '-c', sql], { stdio: 'pipe' });
  try {
    psql('postgres', 'CREATE DATABASE formosa_template');
    psql('formosa_template', 'CREATE EXTENSION IF NOT EXISTS postgis');
  } catch {
    // made by an earlier test
  }
  psql('postgres', `CREATE DATABASE "${name}" TEMPLATE formosa_template`);
  const u = new URL(server);
  // The same DEM imported into a GeoPackage by the same importer: GDAL reads rasters from
  // there (PostGIS pyramids are Formosa's own tables, not GDAL rasters).
  execFileSync(formosaBin, ['--store', gpkg, '-q', 'import', 'terrain', path.join(repo, 'data-fixtures/data/terrain/dem_twd97_20m.tif')], { cwd: repo });
  return {
    store: `${server}/${name}`,
    gdal: `PG:host=${u.hostname} port=${u.port || 5432} user=${u.username || 'postgres'} dbname=${name}`,
    terrainGpkg: gpkg,
  };
}

/** Resolves with { base, child, store, gdal, terrainGpkg } once the server listens. */
export function startDemo(extraEnv = {}) {
  return start(['-q', 'demo'], freshStore(), extraEnv);
}

/** `formosa serve` over an existing store (another node of the same database). */
export function startServe(store, extraEnv = {}) {
  return start(['serve'], { store }, extraEnv);
}

function start(command, { store, gdal, terrainGpkg }, extraEnv) {
  const child = spawn(formosaBin, ['--store', store, ...command, '--bind', '127.0.0.1:0'], {
    cwd: repo,
    env: { ...process.env, FORMOSA_LOG: 'info', ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let log = '';
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/on (http:\/\/[0-9.:]+)\//);
      if (m) resolve({ base: m[1], child, store, gdal, terrainGpkg });
    });
    child.on('exit', (code) => reject(new Error(`formosa exited (${code}):\n${log}`)));
  });
}

/** Debian's Chromium, headless, with software WebGL and no network of its own. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}
