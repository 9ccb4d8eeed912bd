#!/usr/bin/env bash
# Installs the OS packages vcf-pg-loader needs, only those missing (idempotent).
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

packages=(
  postgresql-15 postgresql-client-15
  postgresql-plpython3-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  bcftools python3-boto3 python3-cryptography python3-venv make gcc
  # to build pg_tle (the RDS install path) from ../shared/vendor: make pg-tle
  postgresql-server-dev-15 flex bison libkrb5-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-os: all OS packages present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup-os: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
