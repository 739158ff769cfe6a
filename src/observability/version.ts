import { readFileSync } from 'node:fs';

// The version is package.json's, read at start: from a checkout (src/observability/version.ts)
// and from a package or image (dist/src/observability/version.js) package.json is the nearest one
// named dubbo-dns above us.
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'dubbo-dns' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: look one level up
    }
  }
  return '0.0.0-unknown';
}

/** This build's version (package.json). */
export const VERSION = packageVersion();
