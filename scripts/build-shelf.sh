#!/usr/bin/env bash
# The shelf (issue 15): the familiar images behind a student's `docker run debian|nginx|redis|
# python` on an engine that reaches no registry (sandbox/shelf.py maps the names), built here
# from Debian's own packages: mmdebstrap makes a root filesystem tarball, `docker import` makes
# it an image, baeum/shelf-NAME:latest. `make shelf` runs it (CI too).
#
#   build-shelf.sh [--rebuild] [NAME ...]      NAME: debian nginx redis python (default: all)
#
# Each image's recipe (the suite, the mmdebstrap arguments, the import's --change lines, its
# files under scripts/shelf/) has a hash: the image carries it as the label baeum.shelf.recipe,
# and its tarball is cached outside the checkout as ${BAEUM_CACHE:-/var/cache/baeum}/shelf/
# NAME-HASH.tar. An image with the same hash: nothing to do; only the tarball: imported (a few
# seconds); neither: built (about 20 s an image) and imported. The hash covers the recipe, not
# the archive's state: Debian's point releases and security updates come in with --rebuild.
#
# Building needs root (mmdebstrap's root mode; mmdebstrap itself is installed with apt when
# missing) and Debian's archive (BAEUM_DEBIAN_MIRROR, BAEUM_DEBIAN_SECURITY_MIRROR); importing
# needs only the engine. Every image runs under the hardening profile as it is (read-only root,
# uid 1000, no capabilities, tmpfs at /tmp and /work): what each needs is in sandbox/shelf.py.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${BAEUM_CACHE:-/var/cache/baeum}/shelf
MIRROR=${BAEUM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${BAEUM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
NAMES=(debian nginx redis python)
# The hooks read the config files from here (an environment variable, so the recipe's text, and
# so its hash, does not depend on where the checkout is).
export SHELF_FILES=$HERE/shelf

log() { printf '[shelf %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
megabytes() { awk -v n="$1" 'BEGIN { printf "%.1f MB", n / 1e6 }'; }

# ------------------------------------------------------------------------------------ recipes
# The suite, its updates and its security archive (main only): part of every recipe.
SUITE=bookworm
SOURCES_RECIPE="$SUITE $SUITE-updates $SUITE-security main"
SOURCES=(
  "deb $MIRROR $SUITE main"
  "deb $MIRROR $SUITE-updates main"
  "deb $SECURITY_MIRROR $SUITE-security main"
)

# What every image shares: merged /usr (usr-is-merged, not the usrmerge package and its perl),
# no recommends, no manuals, docs (but the copyright files), translations or info pages (dpkg's
# path-exclude, kept in the image's /etc/dpkg/dpkg.cfg.d/ as Debian's slim images do); the apt
# lists and caches are removed by mmdebstrap's cleanup. debian is minbase (with apt); the
# servers' images are the essential set and their own packages, without apt (nothing could be
# installed offline anyway). uid 1000 is `student` with /work as its home, as in the lab image;
# /work exists for the profile's tmpfs and the import's WORKDIR.
common_recipe() {
  ARGS=(
    --variant="$1"
    --format=tar
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    --aptopt='APT::Install-Recommends "false"'
    --aptopt='Acquire::Languages "none"'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/lintian/*'
    --customize-hook='echo "student:x:1000:1000:student:/work:/bin/sh" >>"$1/etc/passwd"'
    --customize-hook='echo "student:x:1000:" >>"$1/etc/group"'
    --customize-hook='mkdir -p "$1/work" && chown 1000:1000 "$1/work"'
  )
  CHANGES=(
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    'ENV HOME=/work'
    'ENV LANG=C.UTF-8'
    'USER 1000:1000'
    'WORKDIR /work'
  )
  FILES=()
}

# One image's recipe: ARGS (mmdebstrap's, before the suite), CHANGES (docker import's
# --change lines), FILES (under scripts/shelf/, read by its hooks).
recipe() {
  case $1 in
    debian)
      # Debian's minbase (essential, required, apt), as debian:bookworm-slim is.
      common_recipe minbase
      CHANGES+=('CMD ["bash"]')
      ;;
    nginx)
      # Debian's nginx (nginx-light asks for it, with the echo module) on 8080, its pid file and
      # temp paths under /tmp (scripts/shelf/nginx.conf), the welcome page in
      # /usr/share/nginx/html, logs to stdout/stderr by symlinks; the config is tested here.
      common_recipe essential
      ARGS+=(
        --include=nginx-light
        --customize-hook='install -m 0644 "$SHELF_FILES/nginx.conf" "$1/etc/nginx/nginx.conf"'
        --customize-hook='install -m 0644 "$SHELF_FILES/nginx-default.conf" "$1/etc/nginx/conf.d/default.conf"'
        --customize-hook='ln -sf /dev/stdout "$1/var/log/nginx/access.log"'
        --customize-hook='ln -sf /dev/stderr "$1/var/log/nginx/error.log"'
        --customize-hook='chroot "$1" nginx -t -q'
      )
      CHANGES+=('EXPOSE 8080' 'CMD ["nginx", "-g", "daemon off;"]')
      FILES+=(nginx.conf nginx-default.conf)
      ;;
    redis)
      # Debian's redis-server (and redis-tools: redis-cli), with no config file: Redis's own
      # defaults, its files in /tmp, reachable from the other containers of the network.
      common_recipe essential
      ARGS+=(--include=redis-server)
      CHANGES+=(
        'EXPOSE 6379'
        'CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/tmp"]'
      )
      ;;
    python)
      # Debian's python3 (the whole standard library) and python-is-python3 (/usr/bin/python).
      common_recipe essential
      ARGS+=(--include=python3,python-is-python3)
      CHANGES+=('CMD ["python3"]')
      ;;
    *)
      die "no shelf image called '$1' (there are: ${NAMES[*]})"
      ;;
  esac
  CHANGES+=("LABEL baeum.shelf=$1")
}

recipe_hash() {
  {
    printf '%s\0' "$SOURCES_RECIPE" "${ARGS[@]}" "${CHANGES[@]}"
    local file
    for file in "${FILES[@]}"; do
      printf '%s\0' "$file"
      cat "$SHELF_FILES/$file" || die "missing recipe file scripts/shelf/$file"
    done
  } | sha256sum | cut -c1-16
}

# --------------------------------------------------------------------------------------- build
image_recipe() {
  docker image inspect --format '{{index .Config.Labels "baeum.shelf.recipe"}}' "$1" 2>/dev/null ||
    true
}

LOCKED=0
take_lock() {
  [ "$LOCKED" = 1 ] && return
  mkdir -p "$CACHE" || die "cannot make the cache folder $CACHE (BAEUM_CACHE picks another)"
  exec 9>"$CACHE/.lock"
  if ! flock -n 9; then
    log "waiting for another build-shelf.sh (lock: $CACHE/.lock)"
    flock 9
  fi
  LOCKED=1
}

ensure_mmdebstrap() {
  [ "$(id -u)" = 0 ] ||
    die "building a shelf image needs root (mmdebstrap's root mode): sudo make shelf"
  if command -v mmdebstrap >/dev/null 2>&1 && [ -d /usr/share/mmdebstrap/hooks/merged-usr ]; then
    return
  fi
  local started
  started=$(now)
  printf '[shelf %s] installing mmdebstrap (apt) … ' "$(date +%H:%M:%S)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap gpg; } \
    >"$CACHE/apt.log" 2>&1; then
    echo >&2
    tail -n 20 "$CACHE/apt.log" >&2
    die "apt could not install mmdebstrap (log: $CACHE/apt.log)"
  fi
  echo "$(since "$started"), $(mmdebstrap --version)" >&2
}

PARTIAL=
trap '[ -z "$PARTIAL" ] || rm -f "$PARTIAL"' EXIT

build_rootfs() {
  local name=$1 hash=$2 tar=$3 started
  ensure_mmdebstrap
  PARTIAL=$CACHE/.$name-$hash.tar.partial
  local build_log=$CACHE/$name.log
  started=$(now)
  local what=${ARGS[0]#--} arg
  for arg in "${ARGS[@]}"; do
    case $arg in --include=*) what="$what, ${arg#--include=}" ;; esac
  done
  printf '[shelf %s] %s: mmdebstrap %s %s (%s) … ' "$(date +%H:%M:%S)" "$name" "$SUITE" \
    "$what" "log: $build_log" >&2
  if ! mmdebstrap "${ARGS[@]}" "$SUITE" "$PARTIAL" "${SOURCES[@]}" >"$build_log" 2>&1; then
    echo >&2
    tail -n 30 "$build_log" >&2
    die "$name: mmdebstrap failed (whole log: $build_log)"
  fi
  mv "$PARTIAL" "$tar"
  PARTIAL=
  echo "$(since "$started"), $(megabytes "$(stat -c %s "$tar")") → $(basename "$tar")" >&2
  # Older recipes' tarballs of this image are not used again.
  find "$CACHE" -maxdepth 1 -name "$name-*.tar" ! -path "$tar" -delete
}

import_image() {
  local name=$1 hash=$2 tar=$3 image=$4 from=$5 started old new change
  local changes=()
  for change in "${CHANGES[@]}" "LABEL baeum.shelf.recipe=$hash"; do
    changes+=(--change "$change")
  done
  old=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
  started=$(now)
  docker import "${changes[@]}" --message "baeum shelf: $name, recipe $hash" "$tar" "$image" \
    >/dev/null || die "$name: docker import of $tar failed"
  new=$(docker image inspect --format '{{.Id}}' "$image")
  # The image this one replaces, unless a container or another tag still uses it.
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
  log "$name: $image imported from $from ($(since "$started"), $(megabytes \
    "$(docker image inspect --format '{{.Size}}' "$image")"), recipe $hash)"
}

shelve() {
  local name=$1 image=baeum/shelf-$1:latest hash tar
  recipe "$name"
  hash=$(recipe_hash)
  tar=$CACHE/$name-$hash.tar
  if [ "$REBUILD" = 0 ] && [ "$(image_recipe "$image")" = "$hash" ]; then
    log "$name: up to date ($image, recipe $hash)"
    return
  fi
  take_lock
  # Made meanwhile by another build-shelf.sh, while this one waited for the lock.
  if [ "$REBUILD" = 0 ] && [ "$(image_recipe "$image")" = "$hash" ]; then
    log "$name: up to date ($image, recipe $hash)"
    return
  fi
  local from="the tarball just built"
  if [ "$REBUILD" = 1 ] || [ ! -s "$tar" ]; then
    build_rootfs "$name" "$hash" "$tar"
  else
    from="the cached $tar"
  fi
  import_image "$name" "$hash" "$tar" "$image" "$from"
}

REBUILD=0
WANTED=()
for arg in "$@"; do
  case $arg in
    --rebuild) REBUILD=1 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $arg (build-shelf.sh [--rebuild] [NAME ...])" ;;
    *) WANTED+=("$arg") ;;
  esac
done
[ ${#WANTED[@]} -gt 0 ] || WANTED=("${NAMES[@]}")
for name in "${WANTED[@]}"; do
  recipe "$name" # an unknown name fails here, before anything is done
done

docker info >/dev/null 2>&1 || die "no Docker Engine answers \
(DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}): scripts/prepare-machine.sh starts one"
total=$(now)
for name in "${WANTED[@]}"; do
  shelve "$name"
done
log "shelf ready: ${WANTED[*]} ($(since "$total"))"
