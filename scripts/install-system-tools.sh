#!/usr/bin/env bash
# Debian packages the tests run for real: promtool and amtool (rules and Alertmanager config), the
# Prometheus server (infra advise against backfilled series),
# PostgreSQL and PgBouncer (the pgbouncer.ini loopback test), Redis and rclone (the Redis backup
# scripts' loopback test). Installs only what is missing.
set -euo pipefail

declare -A need=(
  [promtool]=prometheus
  [prometheus]=prometheus
  [amtool]=prometheus-alertmanager
  [pgbouncer]=pgbouncer
  [/usr/lib/postgresql/15/bin/initdb]=postgresql-15
  [psql]=postgresql-client-15
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [rclone]=rclone
)
missing=()
for tool in "${!need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "$tool" ] || missing+=("${need[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# The packages' services are not started here: the tests start their own servers on loopback.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
