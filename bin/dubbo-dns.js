#!/usr/bin/env node
// In a checkout this runs the TypeScript sources (Node >= 22.18 strips types itself); an installed
// package or the image holds no sources, only the compiled dist/ (Node does not strip types under
// node_modules), so it runs that.
import { existsSync } from 'node:fs';

const sources = new URL('../src/main.ts', import.meta.url);
await import(existsSync(sources) ? sources.href : new URL('../dist/src/main.js', import.meta.url).href);
