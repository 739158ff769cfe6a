#!/usr/bin/env node
// Runs the compiled CLI when published (dist/), the TypeScript sources in a checkout (Node >= 22.18
// strips types itself; Node does not strip types under node_modules, hence dist/ for packages).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/main.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../src/main.ts', import.meta.url).href);
