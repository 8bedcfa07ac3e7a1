#!/usr/bin/env bash
# Builds the Debian package with cargo-deb ([package.metadata.deb] in Cargo.toml) and
# prints its path last: $CARGO_TARGET_DIR (default target/)/debian/ringkeeper_*.deb.
# Installs cargo-deb first when it is missing (about 2 minutes of compiling, once).
# Extra arguments go to `cargo deb` (e.g. --no-build, --output DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
if ! command -v cargo-deb >/dev/null; then
  echo "build-deb: installing cargo-deb $CARGO_DEB_VERSION (cargo install, once)" >&2
  # Its own temporary target dir: not the project's.
  env -u CARGO_TARGET_DIR cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" >&2
fi

# `ringkeeper --version` names the commit it was built from (src/main.rs reads this
# at compile time); "-dirty" when tracked files differ from it.
commit=""
if commit="$(git rev-parse --short=12 HEAD 2>/dev/null)"; then
  git diff --quiet HEAD -- 2>/dev/null || commit="$commit-dirty"
fi
RINGKEEPER_GIT_COMMIT="$commit" cargo deb "$@"
