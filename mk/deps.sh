#!/bin/sh
# Install every Debian package Postel needs to build, run and test.
# Idempotent and quick when everything is present.
# SPDX-License-Identifier: ISC
set -eu

PKGS="
build-essential clang pkg-config make
libssl-dev openssl
libsasl2-dev libsasl2-modules sasl2-bin
libdb5.3-dev db5.3-util
libopendkim-dev
libcmocka-dev
valgrind clang-format
python3 python3-pytest python3-aiosmtpd python3-dnslib python3-dkim
pflogsumm dovecot-core dovecot-lmtpd testssl.sh
swaks libnet-ssleay-perl
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
