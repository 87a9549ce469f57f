#!/usr/bin/env bash
# Install the Debian packages runboxd needs to build, run and test, when
# something is missing and we are root on Debian/Ubuntu, and the system
# users it drops to (make-users.sh).  Prints nothing when all is there.
set -euo pipefail

pkgs=(build-essential clang libjsmn-dev libseccomp-dev libclang-rt-14-dev
      docker.io runsc podman busybox-static debootstrap curl python3 wrk cppcheck clang-tidy clang-format
      dpkg-dev debhelper lintian rpm rpmlint nginx man-db systemd python3-jsonschema docker-registry prometheus iproute2)
# The OpenAPI lint (tests/openapi) runs on Node.js: Debian's, unless one is there.
command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exec "$(dirname "$0")/make-users.sh"
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	echo "missing packages: ${missing[*]} (install them as root with apt-get)" >&2
	exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# The tests run docker-registry themselves, on loopback with their own
# storage; the package's own service (all interfaces, port 5000) stays off.
if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null; then
	systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
exec "$(dirname "$0")/make-users.sh"
