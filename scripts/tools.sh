# Sourced by the build and test scripts: makes sure every tool of the right version is
# present, installing only what is missing. Safe to run repeatedly; a fresh machine needs
# a few minutes (wasm-bindgen-cli compiles from crates.io).
WASM_BINDGEN_VERSION=0.2.130 # must equal the `wasm-bindgen = "=…"` pin in Cargo.toml

export PATH="$HOME/.cargo/bin:$PATH"

ensure_tools() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "setup: adding the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown >&2
  fi
  # `wasm-bindgen --version` prints "wasm-bindgen X".
  if ! wasm-bindgen --version 2>/dev/null | grep -qw "$WASM_BINDGEN_VERSION"; then
    echo "setup: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes)" >&2
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force >&2
  fi
  if [ ! -x node_modules/.bin/wrangler ] || ! npm ls --silent >/dev/null 2>&1; then
    echo "setup: installing npm packages (package-lock.json)" >&2
    npm ci --no-audit --no-fund >&2
  fi
}

# Chromium for the browser test: Debian's package (a test tool's own browser download cannot
# work here). Installed only when missing; needs root, as on CI.
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "setup: installing Debian's chromium for the browser test" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  fi
}
