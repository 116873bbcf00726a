#!/usr/bin/env node
// The only static import: evaluated before the rest of the CLI is even loaded (early-signals.ts).
import './early-signals.js';

await import('./cli.js');
