#!/usr/bin/env bash
# The container image, built and checked for real (slow: run by .ci/run, not
# by `meson test`). Builds the Containerfile with podman (chroot isolation:
# containers cannot run on these machines), from a debian:bookworm-slim base
# made locally with debootstrap when no such image is present (no registry is
# reachable), then checks the image's metadata and runs its mehdbd from the
# exported filesystem in a chroot, as the image's user, and asks /healthz.
# Skips with a message where root, podman or debootstrap is missing; with CI
# set (.ci/run), where a skip would go unnoticed, that fails instead.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=localhost/mehdb:image-test
BASE=debian:bookworm-slim
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
not_ok() { echo "FAILED: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip() {
  if [ -n "${CI:-}" ]; then
    echo "FAILED: image test cannot run on CI: $*" >&2
    exit 1
  fi
  echo "SKIP image test: $*"
  exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (podman --isolation=chroot, chroot)"
command -v podman >/dev/null || skip "podman is missing (apt-get install podman)"
command -v unshare >/dev/null || skip "unshare is missing (apt-get install util-linux)"

work=$(mktemp -d /var/tmp/mehdb-image.XXXXXX)
ctr=
cleanup() {
  [ -n "$ctr" ] && podman rm -f "$ctr" >/dev/null 2>&1 || true
  podman rmi "$IMAGE" >/dev/null 2>&1 || true
  podman image prune -f >/dev/null 2>&1 || true # the build stage; the base stays
  rm -rf "$work"
}
trap cleanup EXIT

# The Debian mirror apt already uses here (deb822 or one-line sources).
debian_mirror() {
  { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } |
    sed -n -e 's/^URIs: *//p' -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' |
    tr ' ' '\n' | grep -E '/debian/?$' | head -n1 || true
}

echo "== base image $BASE"
if podman image exists "$BASE"; then
  echo "present"
else
  command -v debootstrap >/dev/null || skip "no $BASE image and debootstrap is missing (apt-get install debootstrap)"
  mirror=$(debian_mirror)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; not_ok "debootstrap"; echo "image: $passed passed, $failed failed"; exit 1; }
  rm -rf "$work/base/var/cache/apt/archives/"*.deb "$work/base/var/lib/apt/lists/"*
  # What makes the real image "slim": dpkg skips documentation, manuals and
  # translations, and apt keeps no binary caches (Debian's docker configs).
  cat >"$work/base/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$work/base/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  find "$work/base/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  rm -rf "$work/base/usr/share/man/"* "$work/base/usr/share/groff/"* "$work/base/usr/share/info/"* \
    "$work/base/usr/share/lintian/"* "$work/base/usr/share/linda/"* "$work/base/var/cache/apt/"*.bin
  find "$work/base/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  tar -C "$work/base" -c . |
    podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' - "$BASE" >/dev/null 2>&1
  rm -rf "$work/base"
fi

echo "== build (podman build --isolation=chroot --pull=never)"
version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" meson.build | head -n1)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source_url=$(git remote get-url origin 2>/dev/null || echo "file://$PWD")
if podman build --isolation=chroot --pull=never -t "$IMAGE" -f Containerfile \
     --build-arg REVISION="$revision" --build-arg SOURCE="$source_url" . >"$work/build.log" 2>&1; then
  ok "Containerfile builds"
  grep -E '^runtime packages:' "$work/build.log" || true
else
  tail -40 "$work/build.log"
  not_ok "Containerfile builds"
  echo "image: $passed passed, $failed failed"
  exit 1
fi

echo "== image metadata"
inspect() { podman image inspect --format "$1" "$IMAGE"; }
user=$(inspect '{{.Config.User}}')
check "runs as a numeric non-root user ($user)" grep -Eq '^[1-9][0-9]*(:[0-9]+)?$' <<<"$user"
exposed=$(inspect '{{json .Config.ExposedPorts}}')
for port in 9876 9877 9878; do # client, peer sync, plain health (the kit's --health-port)
  check "exposes $port/tcp" grep -q "\"$port/tcp\"" <<<"$exposed"
done
label() { inspect "{{index .Config.Labels \"org.opencontainers.image.$1\"}}"; }
check "OCI label version = meson.build's $version ($(label version))" test "$(label version)" = "$version"
check "OCI label revision = the built commit ($(label revision))" test "$(label revision)" = "$revision"
check "OCI label source = $source_url" test "$(label source)" = "$source_url"
check "declares the data volume /var/lib/mehdb" grep -q '/var/lib/mehdb' <<<"$(inspect '{{json .Config.Volumes}}')"
check "entrypoint is mehdbd" grep -q 'mehdbd' <<<"$(inspect '{{json .Config.Entrypoint}}')"
size=$(inspect '{{.Size}}')
echo "size: $size bytes"
check "image is at most 140 MB ($((size / 1000000)) MB)" test "$size" -le 140000000

echo "== run the image's mehdbd from its filesystem (chroot)"
ctr=$(podman create "$IMAGE")
mkdir "$work/root"
podman export "$ctr" | tar -C "$work/root" -x
root=$work/root
check "ships mehdbd and the mehdb client" test -x "$root/usr/local/bin/mehdbd" -a -x "$root/usr/local/bin/mehdb"
check "no build tools in the runtime image" test ! -e "$root/usr/bin/g++" -a ! -e "$root/usr/include/lmdb.h"
check "no apt lists or caches in the image" sh -c "! find '$root/var/lib/apt/lists' '$root/var/cache/apt' -type f 2>/dev/null | grep -Eq '[.]bin\$|Packages|_dists_'"
du -sh "$root/var/cache" "$root/var/lib/apt" "$root/usr/share/doc" 2>/dev/null || true
check "data directory belongs to the image user" test "$(stat -c %u "$root/var/lib/mehdb")" = "${user%%:*}"
uid=${user%%:*} gid=${user#*:}
[ "$gid" = "$user" ] && gid=$uid
# Own network namespace (loopback only), private /proc and /dev for the chroot.
run_in_image() {
  unshare --net --mount --pid --fork -- sh -c '
    root=$1; shift
    ip link set lo up >/dev/null
    mkdir -p "$root/proc" "$root/dev"
    mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev"
    exec "$@"' sh "$root" "$@"
}
check "every shared library resolves" sh -c "! chroot '$root' ldd /usr/local/bin/mehdbd /usr/local/bin/mehdb | grep 'not found'"
check "the mehdb client runs (--version)" sh -c "chroot --userspec=$uid:$gid '$root' /usr/local/bin/mehdb --version >/dev/null"
# What a container runtime would apply: the image's Env, WorkingDir, Entrypoint.
mapfile -t image_env < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | grep .)
workdir=$(inspect '{{.Config.WorkingDir}}')
entrypoint=$(inspect '{{index .Config.Entrypoint 0}}')
health=$(run_in_image env -i "${image_env[@]}" sh -c '
  root=$1 spec=$2 dir=$3 entry=$4
  chroot --userspec="$spec" "$root" /bin/sh -c "cd $dir && exec $entry --bind=127.0.0.1 --host=mehdb-0" \
    >"$root/tmp/mehdbd.log" 2>&1 &
  pid=$!
  for i in $(seq 50); do
    code=$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:9876/healthz)
    [ "$code" = 200 ] && { echo 200; break; }
    sleep 0.2
  done
  kill -TERM $pid 2>/dev/null && wait $pid' sh "$root" "$uid:$gid" "$workdir" "$entrypoint") || true
echo "/healthz: ${health:-no answer}"
check "mehdbd in the image answers /healthz with 200 as user $uid" test "$health" = 200
[ "$health" = 200 ] || cat "$root/tmp/mehdbd.log" 2>/dev/null || true
check "it wrote its store to the volume /var/lib/mehdb" sh -c "ls '$root/var/lib/mehdb' | grep -q ."

echo "image: $passed passed, $failed failed"
[ "$failed" = 0 ]
