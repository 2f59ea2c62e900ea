# Sourced by the build and test scripts: makes sure every tool of the right version is
# present, installing only what is missing. Safe to run repeatedly; a fresh machine needs
# a few minutes (wasm-bindgen-cli compiles from crates.io).
WASM_BINDGEN_VERSION=0.2.130 # must equal the `wasm-bindgen = "=…"` pin in Cargo.toml

export PATH="$HOME/.cargo/bin:$PATH"

# The toolchain rust-toolchain.toml pins. When it is missing but the machine's stable
# toolchain is that exact version (as on these machines, which reach no rustup mirror for a
# second toolchain), stable is registered under the pinned name; otherwise rustup installs it.
ensure_rust() {
  local want host
  want=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
  host=$(RUSTUP_TOOLCHAIN=stable rustc -vV 2>/dev/null | sed -n 's/^host: //p')
  if [ -n "$want" ] && ! rustup toolchain list 2>/dev/null | grep -q "^$want-"; then
    if RUSTUP_TOOLCHAIN=stable rustc --version 2>/dev/null | grep -q "^rustc $want "; then
      echo "setup: the machine's stable toolchain is $want; using it as the pinned one" >&2
      ln -s "stable-$host" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$want-$host"
    else
      echo "setup: installing Rust $want (rust-toolchain.toml)" >&2
      rustup toolchain install "$want" --profile minimal --component clippy,rustfmt >&2
    fi
  fi
}

ensure_tools() {
  ensure_rust
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
# work here). Installed only when missing; needs root, as on CI. Elsewhere (macOS, say),
# CHROMIUM_PATH names a Chromium or Chrome executable, which the browser test then uses.
ensure_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    [ -x "$CHROMIUM_PATH" ] && return 0
    echo "setup: CHROMIUM_PATH ($CHROMIUM_PATH) is not an executable" >&2
    return 1
  fi
  if [ ! -x /usr/bin/chromium ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "setup: the browser test needs Chromium: set CHROMIUM_PATH to a Chromium or Chrome" \
        "executable (macOS: \"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome\")" >&2
      return 1
    fi
    echo "setup: installing Debian's chromium for the browser test" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  fi
}
