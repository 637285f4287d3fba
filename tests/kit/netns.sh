#!/bin/sh
# Runs "$@" in a network namespace of its own with only loopback up, so the
# emulated pods can each listen on 127.0.0.x:9876 without meeting anything
# else on this machine (and can reach nothing but each other).
# Prints a TAP skip where that is not possible (not root, no unshare), or a
# failure under CI (CI set), where .ci/install-deps and root provide it.
missing() {
  if [ -n "${CI:-}" ]; then
    printf '1..1\nnot ok 1 - %s (CI is set)\n' "$1"
    exit 1
  fi
  echo "1..0 # SKIP $1"
  exit 0
}
if [ "$(id -u)" != 0 ] || ! unshare --net --uts --mount true 2>/dev/null; then
  missing "needs root with unshare (network, UTS and mount namespaces)"
fi
if ! command -v ip >/dev/null; then
  missing "needs ip (apt-get install iproute2) to bring up loopback"
fi
KIT_NETNS=1 exec unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh "$@"
