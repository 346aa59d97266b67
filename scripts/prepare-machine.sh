#!/usr/bin/env bash
# Make a fresh Debian machine ready for Baeum's tests: a Docker Engine that answers, Debian's
# static busybox (the offline lab image is built around it), Chromium (browser tests), and the
# scaled-out mode's Redis, PostgreSQL and nginx (started by scripts/scale-out-services.sh).
# Idempotent: installs only what is missing, starts dockerd only when no engine answers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The scaled-out mode (CI's second pass, `make test-scaled`): Redis, PostgreSQL, nginx.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then
  missing+=(docker.io)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  # With recommends: docker.io's (cgroupfs-mount, apparmor) and Chromium's fonts, as tested.
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log=${DOCKERD_LOG:-/tmp/baeum-dockerd.log}
  echo "starting dockerd (log: $log)"
  # Detached, output to a file: a server holding this script's output would keep CI waiting.
  setsid dockerd >"$log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "dockerd did not answer within 60 s:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
fi
docker info --format 'Docker Engine {{.ServerVersion}}, storage {{.Driver}}'
