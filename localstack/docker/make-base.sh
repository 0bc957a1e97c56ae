#!/usr/bin/env bash
# Makes the offline base image for our LocalStack image, for machines that cannot pull one:
# a Debian root built from Debian's packages (debootstrap), imported into Docker.
#
#   bash localstack/docker/make-base.sh [TAG [SUITE]]    (default lsk-base:bookworm; the suite
#                                                          defaults to the tag's, e.g. trixie)
#
# The root has what our image needs (python3, venv, CA certificates) and nothing else.
# Needs root (debootstrap) and a reachable Debian mirror (DEBIAN_MIRROR, else debootstrap's own
# default); installs debootstrap with apt-get when it is missing. A second run with the image
# present returns at once.
set -euo pipefail

tag="${1:-lsk-base:bookworm}"
suite="${2:-${tag##*:}}"
case "$suite" in
  bookworm | trixie) ;;
  *) echo "error: no Debian suite for $tag: pass one (bookworm: Python 3.11, trixie: Python 3.13)" >&2; exit 2 ;;
esac
packages="python3,python3-venv,ca-certificates"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "==> base image $tag is already there" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: making the offline base needs root (debootstrap builds a Debian root)." >&2
  echo "       Run: sudo bash $0 $tag   or give lsk a base it can pull: LSK_DOCKER_BASE=python:3.11-slim-bookworm" >&2
  exit 3
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "==> installing debootstrap (apt-get)" >&2
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: debootstrap is missing and this is not a Debian-like system; install debootstrap and retry." >&2
    exit 3
  fi
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/lsk-base.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "==> debootstrap $suite (minbase + $packages), about 40 s" >&2
# shellcheck disable=SC2086 # DEBIAN_MIRROR is optional and must vanish when unset
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$work/root" ${DEBIAN_MIRROR:-} \
    >"$work/debootstrap.log" 2>&1; then
  echo "error: debootstrap failed; last lines of its log:" >&2
  tail -n 20 "$work/debootstrap.log" >&2
  exit 4
fi
# What a registry's base would also lack in a minbase root: apt caches only cost size.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
echo "==> docker import $tag" >&2
tar -C "$work/root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'LABEL dev.lsk.base=offline' \
  --change 'CMD ["/bin/bash"]' \
  - "$tag" >/dev/null
echo "==> base image $tag ready" >&2
