# Sourced by the bench scripts: set up, build the release `offramp`, prepare
# the corpora under $OUT/data. Sets BIN, OUT (default: runs/$1) and MODEL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/flags
bash scripts/setup
swift build "${SWIFT_FLAGS[@]}" --product offramp
BIN="$(swift build "${SWIFT_FLAGS[@]}" --show-bin-path)/offramp"
OUT="${OUT:-runs/$1}"
mkdir -p "$OUT"
MODEL="$OFFRAMP_HOME/models/minilm-l6"
"$BIN" data prepare --out "$OUT/data"
