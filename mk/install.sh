#!/bin/sh
# make install: copy commands, daemons, man pages and default configuration.
# Usage: mk/install.sh DESTDIR PREFIX BUILD [DAEMON_DIR [MANDIR]]
# DAEMON_DIR defaults to PREFIX/libexec/postel, MANDIR to PREFIX/share/man
# (the Debian package passes /usr/lib/postel and /usr/share/man).
# Only configuration files go to /etc/postel; the other files of conf/ (the
# Grafana dashboard) are data, installed in PREFIX/share/postel.  Existing
# configuration files are never overwritten; the shipped version is
# installed next to them as NAME.dist so an admin can compare.
# SPDX-License-Identifier: ISC
set -eu

D=$1
PREFIX=$2
B=$3
SBIN=$D$PREFIX/sbin
BIN=$D$PREFIX/bin
LIBEXEC=$D${4:-$PREFIX/libexec/postel}
MAN=$D${5:-$PREFIX/share/man}
ETC=$D/etc/postel
SHARE=$D$PREFIX/share/postel

install -d -m 755 "$SBIN" "$BIN" "$LIBEXEC" "$ETC" "$SHARE" \
	"$MAN/man1" "$MAN/man5" "$MAN/man7" "$MAN/man8"

for f in "$B"/bin/*; do
	[ -e "$f" ] || continue
	name=$(basename "$f")
	if [ -L "$f" ]; then
		ln -sf "$(readlink "$f")" "$SBIN/$name"
	else
		install -m 755 "$f" "$SBIN/$name"
	fi
done
# The traditional user-facing names also live in bin/, as on every Unix.
for name in mailq newaliases; do
	[ -e "$SBIN/$name" ] && ln -sf "../sbin/$name" "$BIN/$name"
done
for f in "$B"/libexec/*; do
	[ -e "$f" ] || continue
	install -m 755 "$f" "$LIBEXEC/$(basename "$f")"
done
for sec in 1 5 7 8; do
	for f in man/man$sec/*.$sec; do
		[ -e "$f" ] || continue
		install -m 644 "$f" "$MAN/man$sec/$(basename "$f")"
	done
done
# The systemd unit and the logrotate file name the commands by their
# installed path; the shipped copies say /usr/local/sbin.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in conf/*; do
	[ -f "$f" ] || continue
	name=$(basename "$f")
	case $name in
	main.cf | master.cf | aliases) ;;
	postel.service | postel.logrotate)
		sed "s|/usr/local/sbin/|$PREFIX/sbin/|g" "$f" >"$tmp/$name"
		f=$tmp/$name
		;;
	*)
		install -m 644 "$f" "$SHARE/$name"
		continue
		;;
	esac
	if [ -e "$ETC/$name" ]; then
		install -m 644 "$f" "$ETC/$name.dist"
		echo "install: kept existing $ETC/$name (new version in $name.dist)"
	else
		install -m 644 "$f" "$ETC/$name"
	fi
done
echo "install: done; as root run '$PREFIX/sbin/postel set-permissions' next (see INSTALL)"
