#!/usr/bin/env node
// The only static imports: evaluated before the rest of the CLI is even loaded (young-generation.ts,
// early-signals.ts).
import './young-generation.js';
import './early-signals.js';

await import('./cli.js');
