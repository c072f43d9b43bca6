# Sourced by bin/pinhole and bin/pinhole-gateway: dist_check NAME ROOT ENTRY fails with a sentence
# when the compiled ENTRY is missing from ROOT/dist, and warns when a TypeScript source is newer than
# it (an edit not built yet would otherwise run the old code without a word).
dist_check() {
  if [ ! -f "$2/dist/$3" ]; then
    echo "$1: $2/dist/$3 is missing: run npm run build (npm ci and npm install run it too)." >&2
    return 1
  fi
  newer=$(find "$2/shared" "$2/node" "$2/main" "$2/gateway" -name '*.ts' ! -name '*.test.ts' -newer "$2/dist/$3" -print -quit 2>/dev/null)
  if [ -n "$newer" ]; then
    echo "$1: ${newer#"$2"/} changed after the last build, which is what runs: run npm run build." >&2
  fi
  return 0
}
