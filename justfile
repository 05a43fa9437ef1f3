# yanzheng — common tasks. `just --list` shows them.

# Serve on 127.0.0.1:8080 with the embedded default (SQLite, memory store, console SMS).
run:
    cargo run -p api

# Every test, as CI runs them (starts Redis/PostgreSQL/MariaDB if they are stopped).
test:
    bash .ci/run

# Just the unit and use-case tests that need no service.
test-quick:
    cargo test -p domain -p app -p memory-store -p platform -p console-sms

lint:
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all

# Apply database migrations for APP__DATABASE__URL.
migrate:
    cargo run -p api -- migrate

# Criterion benchmarks of the hot paths (captcha PNG, argon2id, code HMAC, memory store).
bench:
    cargo bench -p api --bench hot_paths

# A sheet of 24 captchas with their texts (docs/captcha-samples.png): look at it after any
# change to the renderer; every one must be readable at a glance.
captcha-samples:
    cargo run --release -p captcha-image --example samples -- docs/captcha-samples.png

# Solve rates of off-the-shelf OCR (ddddocr, tesseract) against the running service, as a bot
# would: fetch, read, send. Needs `pip install ddddocr` and Debian's tesseract-ocr.
captcha-solvers n="300":
    bash tools/captcha/solve_rate.sh {{n}}

# Load benchmark of the full flow (captcha GET + send POST) against a release build on the
# local Redis and PostgreSQL and a fake Ronglian peer, at 8 and 64 connections; see
# docs/operations.md. Flags pass through: `just loadtest --connections 8 --duration 30`.
loadtest *ARGS:
    cargo build --release -p api
    cargo build --release -p loadtest
    "${CARGO_TARGET_DIR:-target}/release/loadtest" {{ARGS}}
