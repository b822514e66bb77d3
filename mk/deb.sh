#!/bin/sh
# make deb: build the Debian package from a copy of the source tree.
# Usage: mk/deb.sh DEB_DIR VERSION
# The tracked files (and new ones not ignored by git) are copied to
# DEB_DIR/src, where dpkg-buildpackage runs, so the checkout stays as it
# was; the .deb lands in DEB_DIR.  VERSION (the VERSION file) must be the
# version of debian/changelog's top entry: the release is named in one
# place and the changelog is checked against it.
# SPDX-License-Identifier: ISC
set -eu

OUT=$1
VERSION=$2
changelog=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ "$changelog" != "$VERSION" ]; then
	echo "deb: VERSION says $VERSION but debian/changelog's top entry" \
	    "is $changelog; add a changelog entry (dch -v $VERSION)" >&2
	exit 1
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/src"
mkdir "$OUT/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard \
	    | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
	    | tar --null -T - -cf - | tar -xf - -C "$OUT/src"
else
	tar --exclude='./build*' --exclude=./run --exclude=./.git -cf - . \
	    | tar -xf - -C "$OUT/src"
fi

cd "$OUT/src"
# The copy is built by its own make, which must not inherit this one's
# command-line variables, which make exports (`make clean` there would
# remove DEB_DIR; B and SAN would change the build).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DEB_DIR B SAN
# -b: binary only (the package is native, the tree is its source);
# no signature; no debug-symbol package; no test run at build time
# (nocheck: the suite is make check's); two compile jobs unless the
# caller's DEB_BUILD_OPTIONS names another parallel=N.
case " ${DEB_BUILD_OPTIONS:-} " in
*" parallel="*) ;;
*) DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=2" ;;
esac
DEB_BUILD_OPTIONS="$DEB_BUILD_OPTIONS nocheck noddebs"
DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS# }
export DEB_BUILD_OPTIONS
dpkg-buildpackage -b -us -uc
cd "$OUT"
rm -rf src
deb=postel_${VERSION}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
[ -f "$deb" ] || { echo "deb: $deb was not built" >&2; exit 1; }
echo "deb: $OUT/$deb"
