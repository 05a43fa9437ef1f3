#!/usr/bin/env bash
# `just captcha-solvers [N]`: start a release build on the embedded default with limits wide
# enough for one client, then run solve_rate.py against it. Not part of CI (ddddocr pulls in
# onnxruntime).
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-300}"
python3 -c "import ddddocr" 2>/dev/null || { echo "pip install ddddocr first" >&2; exit 1; }
command -v tesseract >/dev/null || { echo "apt-get install tesseract-ocr first" >&2; exit 1; }
cargo build --release -p api
dir=$(mktemp -d)
port=18089
APP__SERVER__PORT=$port APP__DATABASE__URL="sqlite://$dir/solve.db" \
APP__LIMITS__CAPTCHA_PER_IP_PER_MINUTE=1000000 APP__LIMITS__IP_PER_HOUR=1000000 \
APP__LIMITS__GLOBAL_PER_HOUR=1000000 RUST_LOG=warn \
  "${CARGO_TARGET_DIR:-target}/release/api" >"$dir/service.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
ready=
for _ in $(seq 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && { ready=1; break; }
  sleep 0.2
done
[ -n "$ready" ] || { echo "the service did not become ready; its log:" >&2; cat "$dir/service.log" >&2; exit 1; }
cd tools/captcha && python3 solve_rate.py --base "http://127.0.0.1:$port" -n "$n"
