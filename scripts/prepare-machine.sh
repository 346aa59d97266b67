#!/usr/bin/env bash
# Make a fresh Debian machine ready for Baeum's tests: a Docker Engine that answers, Debian's
# static busybox (the lab image is built around it), Chromium (browser tests), and the
# scaled-out mode's Redis, PostgreSQL and nginx (started by scripts/scale-out-services.sh).
# Idempotent: installs only what is missing, starts dockerd only when no engine answers.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
# The lab image's busybox: Debian 12's (1.35) is built without wget's timeout, and `wget -T 3`
# then dies of a segmentation fault (exit 139); Debian 13's (1.36.1-5 and later) has it. On
# Debian 12, busybox-static alone comes from trixie (pinned: nothing else does).
. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ] && [ ! -f /etc/apt/preferences.d/baeum-busybox ]; then
  cat >/etc/apt/sources.list.d/baeum-trixie.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  cat >/etc/apt/preferences.d/baeum-busybox <<'PINS'
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: busybox-static
Pin: release n=trixie
Pin-Priority: 990
PINS
fi
{ dpkg -s busybox-static && busybox wget --help 2>&1 | grep -q -- "-T SEC"; } >/dev/null 2>&1 || missing+=(busybox-static)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Korean in the browser tests' screenshots (Chromium's recommended fonts have no Hangul).
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
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
# One file out of a pinned Debian package, kept in /var/cache/baeum and never installed:
# Compose v2 for the terminals' `docker compose` (sandbox/images.py copies it into the lab image
# beside the docker CLI; Debian 12 has only 1.29, in Python; trixie's 2.26 is one Go binary
# that needs only libc, but installing it would bring trixie's docker-cli and remove the
# engine's docker.io), and Debian 12's docker-registry for baeum/registry (the students'
# push and pull; installed, it would start a registry of its own on the host).
keep_from_deb() {  # package version path-in-package
  local kept=/var/cache/baeum/$1/$2/$(basename "$3") work
  [ -x "$kept" ] && return
  echo "fetching $1 $2 for the lab images"
  work=$(mktemp -d)
  (cd "$work" && { apt-get download -qq "$1=$2" 2>/dev/null ||
    { apt-get update -qq && apt-get download -qq "$1=$2"; }; })
  dpkg-deb -x "$work/$1_"*.deb "$work/x"
  mkdir -p "$(dirname "$kept")"
  install -m 0755 "$work/x/$3" "$kept"
  rm -rf "$work"
}
keep_from_deb docker-compose 2.26.1-4 usr/libexec/docker/cli-plugins/docker-compose
keep_from_deb docker-registry 2.8.2+ds1-1 usr/bin/docker-registry
# The docker CLI's builds run their RUN steps under one cgroup parent (sandbox/engine/profile.py,
# BUILD_CGROUP) whose pids and memory limits are all of theirs together: the build API has no
# pids limit of its own. cgroup v1 (this machine's); the gate refuses builds where it is missing.
if [ -d /sys/fs/cgroup/pids ] && [ -d /sys/fs/cgroup/memory ]; then
  mkdir -p /sys/fs/cgroup/pids/baeum-builds /sys/fs/cgroup/memory/baeum-builds
  echo 512 >/sys/fs/cgroup/pids/baeum-builds/pids.max
  echo $((1024 * 1024 * 1024)) >/sys/fs/cgroup/memory/baeum-builds/memory.limit_in_bytes
fi
bash "$(dirname "$0")/stale-docker-bridges.sh"
