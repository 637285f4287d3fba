#!/bin/sh
# Runs "$@" in a network namespace of its own with only loopback up, so the
# emulated pods can each listen on 127.0.0.x:9876 without meeting anything
# else on this machine (and can reach nothing but each other).
# Prints a TAP skip where that is not possible (not root, no unshare).
if [ "$(id -u)" != 0 ] || ! unshare --net --uts --mount true 2>/dev/null; then
  echo "1..0 # SKIP needs root with unshare (network, UTS and mount namespaces)"
  exit 0
fi
if ! command -v ip >/dev/null; then
  echo "1..0 # SKIP needs ip (apt-get install iproute2) to bring up loopback"
  exit 0
fi
KIT_NETNS=1 exec unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh "$@"
