#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages the tests use, only those that
# are missing (`make deps`, which `make test` runs first). This is the one
# list of them:
#
#   prometheus    promtool, for the alert rule tests (deploy/)
#   chromium      the Swagger UI test (apidocs/)
#   wrk           the benchmark harness and its smoke test (bench/)
#   redis-server  the Redis store tests (lookup/redisstore, cmd/pricing-engine)
#   redis-tools   redis-cli, for make run-redis and the fleet scripts
#   haproxy       the local fleet tests (deploy/local)
#
#   scripts/install-deps.sh            the packages above
#   scripts/install-deps.sh --locust   also python3-locust (make locust)
#   scripts/install-deps.sh --check    only report what is missing (exit 1 if any)
#
# Runs apt-get (update once, then install, non-interactive) as root, or
# through sudo when not root; without either it names the missing packages
# and fails.
set -euo pipefail

packages=(prometheus chromium wrk redis-server redis-tools haproxy)
check=
for arg in "$@"; do
	case $arg in
	--locust) packages+=(python3-locust) ;;
	--check) check=1 ;;
	*) echo "install-deps.sh: unknown argument $arg (want --locust or --check)" >&2; exit 2 ;;
	esac
done

installed() {
	dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "install-deps.sh: not a Debian system (no dpkg-query); install by hand: ${packages[*]}" >&2
	exit 1
fi
missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "install-deps.sh: every package the tests use is installed (${packages[*]})"
	exit 0
fi
if [[ -n $check ]]; then
	echo "install-deps.sh: missing Debian packages: ${missing[*]}" >&2
	exit 1
fi

if ((EUID == 0)); then
	as_root=()
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo)
else
	echo "install-deps.sh: missing Debian packages: ${missing[*]}" >&2
	echo "install-deps.sh: not root and no sudo: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
for p in "${missing[@]}"; do
	installed "$p" || { echo "install-deps.sh: $p is still not installed" >&2; exit 1; }
done
