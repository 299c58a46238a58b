#!/usr/bin/env bash
# Fetch the real third-party corpora the search tests use (never committed): Debian's
# dict-foldoc, unpacked with dpkg-deb into $SYNTH_TEST_CORPORA (default ~/.cache/synth/corpora).
# Idempotent: a corpus already unpacked is kept. Needs apt-get and dpkg-deb (Debian/Ubuntu).
# A slow or flaky mirror is retried (with a package-list refresh) before the fetch gives up.
set -euo pipefail
root="${SYNTH_TEST_CORPORA:-$HOME/.cache/synth/corpora}"
target="$root/dict-foldoc"
attempts="${SYNTH_FETCH_ATTEMPTS:-5}"
if [ -f "$target/usr/share/dictd/foldoc.index" ]; then
  echo "dict-foldoc already in $target"
  exit 0
fi
mkdir -p "$root"
work="$(mktemp -d "$root/.fetch-XXXXXX")"
trap 'rm -rf "$work"' EXIT
as_root() { if [ "$(id -u)" = "0" ]; then "$@"; else sudo "$@"; fi; }
for attempt in $(seq 1 "$attempts"); do
  if ( cd "$work" && apt-get download -q -o Acquire::Retries=3 \
         -o Acquire::http::Timeout=60 dict-foldoc ); then
    break
  fi
  if [ "$attempt" = "$attempts" ]; then
    echo "could not download dict-foldoc after $attempts attempts" >&2
    exit 1
  fi
  echo "download of dict-foldoc failed (attempt $attempt of $attempts); retrying" >&2
  as_root apt-get update -qq || true
  sleep $((attempt * 10))
done
dpkg-deb -x "$work"/dict-foldoc_*.deb "$work/unpacked"
rm -rf "$target"
mv "$work/unpacked" "$target"
echo "dict-foldoc unpacked into $target"
