#!/usr/bin/env bash
# Fetch the real third-party corpora the search tests use (never committed): Debian's
# dict-foldoc, unpacked with dpkg-deb into $SYNTH_TEST_CORPORA (default ~/.cache/synth/corpora).
# Idempotent: a corpus already unpacked is kept. Needs apt-get and dpkg-deb (Debian/Ubuntu).
set -euo pipefail
root="${SYNTH_TEST_CORPORA:-$HOME/.cache/synth/corpora}"
target="$root/dict-foldoc"
if [ -f "$target/usr/share/dictd/foldoc.index" ]; then
  echo "dict-foldoc already in $target"
  exit 0
fi
mkdir -p "$root"
work="$(mktemp -d "$root/.fetch-XXXXXX")"
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download dict-foldoc >/dev/null 2>&1 ) || {
  if [ "$(id -u)" = "0" ]; then apt-get update -qq; else sudo apt-get update -qq; fi
  ( cd "$work" && apt-get download dict-foldoc )
}
dpkg-deb -x "$work"/dict-foldoc_*.deb "$work/unpacked"
rm -rf "$target"
mv "$work/unpacked" "$target"
echo "dict-foldoc unpacked into $target"
