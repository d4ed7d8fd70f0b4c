// Starts `formosa demo` on a free port over a fresh store, as a user would.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const formosaBin = process.env.FORMOSA_BIN ?? path.join(repo, 'target/debug/formosa');

/** Resolves with { base, child, store } once the server listens. */
export function startDemo(extraEnv = {}) {
  const store = path.join(mkdtempSync(path.join(tmpdir(), 'formosa-test-')), 'demo.gpkg');
  const child = spawn(formosaBin, ['--store', store, '-q', 'demo', '--bind', '127.0.0.1:0'], {
    cwd: repo,
    env: { ...process.env, FORMOSA_LOG: 'info', ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let log = '';
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/on (http:\/\/[0-9.:]+)\//);
      if (m) resolve({ base: m[1], child, store });
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
