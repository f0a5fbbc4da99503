#!/bin/sh
# The addon binaries shipped in the package (npm pack runs this as prepack):
# linux-arm64 when Debian's cross compiler is installed
# (apt-get install g++-aarch64-linux-gnu), and linux-x64. node-gyp-build
# picks prebuilds/<platform>-<arch>/ at install time and falls back to a
# source build for anything else.
set -e
if command -v aarch64-linux-gnu-g++ >/dev/null 2>&1; then
  CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
    PREBUILD_STRIP_BIN=aarch64-linux-gnu-strip prebuildify --napi --strip --arch arm64
else
  echo "prebuild: aarch64-linux-gnu-g++ not installed: no linux-arm64 binary in this package (apt-get install g++-aarch64-linux-gnu)" >&2
fi
prebuildify --napi --strip
