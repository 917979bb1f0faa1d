#!/usr/bin/env bash
# What the tests need beside the Python environment, installed when missing (Debian):
# pdftotext, Chromium, a DejaVu font, npm, PostgreSQL on 127.0.0.1:5432 (user postgres).
# Run by `make test` and by CI; does nothing when everything is already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1
  fi
}

need_packages=()
command -v pdftotext >/dev/null || need_packages+=(poppler-utils)
command -v chromium >/dev/null || need_packages+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || need_packages+=(fonts-dejavu-core)
command -v npm >/dev/null || need_packages+=(npm)  # the official AsyncAPI validator
pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || command -v pg_ctlcluster >/dev/null \
  || need_packages+=(postgresql)
if ((${#need_packages[@]})); then
  echo "== installing ${need_packages[*]}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "== starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1" >/dev/null \
  || { echo "PostgreSQL on 127.0.0.1:5432 does not accept user postgres (trust auth)" >&2; exit 1; }
