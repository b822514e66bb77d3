# Postel - top-level Makefile.  Plain make, no autotools.
#
#   make              build commands into build/bin, daemons into build/libexec
#   make deps         install the Debian packages needed to build, run, test
#   make check        format-check, unit tests (cmocka), integration tests (pytest)
#   make SAN=1 check  the same with ASan + UBSan
#   make fuzz         libFuzzer targets into build/fuzz (clang; not in check)
#   make fuzz-smoke   every fuzz target for FUZZ_SECONDS (30) each
#   make format-check list the C files that differ from .clang-format
#   make run          a throw-away instance under run/ (see README.md)
#   make install      PREFIX=/usr/local DESTDIR= (DAEMON_DIR, MANDIR too)
#   make deb          the Debian package build-deb/postel_$(VERSION)_amd64.deb
#
# Layout conventions the rules rely on:
#   util/*.c                    -> build/libpostel.a
#   <daemon>/*.c                -> build/libexec/<daemon>, main() in <daemon>/<daemon>.c
#   admin/<cmd>.c               -> build/bin/<cmd> (+ helpers in admin/<cmd>.objs)
#   sendmail/<cmd>.c            -> build/bin/<cmd> (+ helpers in sendmail/<cmd>.objs)
#   tests/unit/test_<mod>.c     -> build/tests/test_<mod>
#   fuzz/fuzz_<name>.c          -> build/fuzz/fuzz_<name>
#
# SPDX-License-Identifier: ISC

PREFIX		?= /usr/local
DESTDIR		?=
# Where the daemons go (the daemon_directory default) and the man pages.
# The Debian package sets DAEMON_DIR=/usr/lib/postel, as Debian's Postfix
# puts its daemons under /usr/lib/postfix.
DAEMON_DIR	?= $(PREFIX)/libexec/postel
MANDIR		?= $(PREFIX)/share/man
# The release, in this one place: mail_version, debian/changelog (its top
# entry is checked against it by `make deb`) and the .deb file name.
VERSION		:= $(shell cat VERSION)
SAN		?= 0
CC		?= cc
PYTHON		?= /usr/bin/python3
PYTEST_ARGS	?=

B		?= build

.SECONDEXPANSION:
.SECONDARY:
# `make deps check` on a fresh machine reads this file before deps has
# installed pkg-config and the libraries, so everything the link needs is
# named in LIBS as well; pkg-config only adds what a system may need
# beyond that.
PKGS		:= openssl libsasl2
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN		:= -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 \
		   -Wno-format-nonliteral -Wmissing-prototypes -Wstrict-prototypes
HARDEN		:= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
OPT		:= -O2 -g
ifeq ($(SAN),1)
OPT		:= -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined
SANLD		:= -fsanitize=address,undefined
endif
CFLAGS		?=
CPPFLAGS	+= -I. -D_GNU_SOURCE -DPOSTEL_PREFIX='"$(PREFIX)"' \
		   -DPOSTEL_DAEMON_DIR='"$(DAEMON_DIR)"' \
		   -DPOSTEL_VERSION='"$(VERSION)"'
ALL_CFLAGS	:= -std=c17 $(WARN) $(HARDEN) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS	:= -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(SANLD) $(LDFLAGS)
LIBS		:= $(PKG_LIBS) -lopendkim -lspf2 -lopendmarc -ldb -lpcre2-8 -llmdb -lsasl2 -lcrypto -lssl
# sqlite: and pgsql: tables (libpq's header lives in its own folder).
LIBS		+= -lsqlite3 -lpq
PQ_CFLAGS	:= -I/usr/include/postgresql
CPPFLAGS	+= $(PQ_CFLAGS)
# ldap: tables (OpenLDAP's libldap and its liblber).
LIBS		+= -lldap -llber
# TLS-RPT: gzip of the reports (zlib); libcurl: https: rua POSTs
# (tlsrpt) and MTA-STS policy fetches (mtasts).
LIBS		+= -lz -lcurl
# libmicrohttpd: the metrics service's HTTP endpoint.
LIBS		+= -lmicrohttpd

# Rebuild everything when the flavour (SAN) or flags change.
FLAVOUR		:= $(B)/.flavour
FLAVOUR_TEXT	:= $(CC) $(ALL_CFLAGS) $(CPPFLAGS) $(ALL_LDFLAGS)
$(shell mkdir -p $(B); [ "$$(cat $(FLAVOUR) 2>/dev/null)" = "$(FLAVOUR_TEXT)" ] || \
	{ rm -rf $(B)/obj $(B)/bin $(B)/libexec $(B)/tests $(B)/libpostel.a; \
	  echo "$(FLAVOUR_TEXT)" > $(FLAVOUR); })

UTIL_SRC	:= $(wildcard util/*.c)
UTIL_OBJ	:= $(UTIL_SRC:%.c=$(B)/obj/%.o)
LIBPOSTEL	:= $(B)/libpostel.a

DAEMON_DIRS	:= master smtpd cleanup qmgr smtp bounce local pickup postlogd \
		   postscreen \
		   anvil \
		   tlsrpt \
		   proxymap dnsblog \
		   error discard \
		   pipe virtual \
		   mtasts \
		   capture \
		   flush \
		   metrics
DAEMONS		:= $(foreach d,$(DAEMON_DIRS),$(if $(wildcard $(d)/$(d).c),$(d)))
CMD_SRC		:= $(wildcard admin/*.c sendmail/*.c)
# admin/admin_*.c, sendmail/sendmail_*.c and sendmail/postdrop_*.c are
# helpers, not commands.  A
# command links only the helpers its <dir>/<cmd>.objs lists (one path per
# line, relative to build/obj), so setgid postdrop carries no admin code.
CMD_MAIN_SRC	:= $(filter-out admin/admin_%.c sendmail/sendmail_%.c \
		   sendmail/postdrop_%.c,$(CMD_SRC))
CMDS		:= $(notdir $(CMD_MAIN_SRC:.c=))

TEST_SRC	:= $(wildcard tests/unit/test_*.c)
TESTS		:= $(TEST_SRC:tests/unit/%.c=$(B)/tests/%)
TEST_HARNESS	:= $(B)/obj/tests/unit/harness.o

# Test-only daemons (tests/services/<name>.c) -> build/tests/services/<name>;
# tests/services/<name>.objs lists daemon objects to link, as for unit tests.
SVC_SRC		:= $(wildcard tests/services/*.c)
TEST_SERVICES	:= $(SVC_SRC:tests/services/%.c=$(B)/tests/services/%)

BIN_TARGETS	:= $(CMDS:%=$(B)/bin/%)
LIBEXEC_TARGETS	:= $(DAEMONS:%=$(B)/libexec/%)

.PHONY: all deps check unit integration fuzz fuzz-smoke run install clean \
	format format-check deb
all: $(LIBPOSTEL) $(BIN_TARGETS) $(LIBEXEC_TARGETS) links

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -MMD -MP -c -o $@ $<

$(LIBPOSTEL): $(UTIL_OBJ)
	@rm -f $@
	ar rcs $@ $^

define daemon_rule
$(B)/libexec/$(1): $(patsubst %.c,$(B)/obj/%.o,$(wildcard $(1)/*.c)) $(LIBPOSTEL)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIBPOSTEL) $$(LIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

$(B)/bin/%: $(B)/obj/admin/%.o $(LIBPOSTEL) \
		$$(addprefix $(B)/obj/,$$(shell cat admin/$$*.objs 2>/dev/null))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBPOSTEL) $(LIBS)

$(B)/bin/%: $(B)/obj/sendmail/%.o $(LIBPOSTEL) \
		$$(addprefix $(B)/obj/,$$(shell cat sendmail/$$*.objs 2>/dev/null))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBPOSTEL) $(LIBS)

# Unit tests may link daemon logic: tests/unit/test_<mod>.objs lists extra
# object files (one path per line, relative to build/obj, e.g. smtpd/smtpd_cmd.o).
$(B)/tests/%: $(B)/obj/tests/unit/%.o $(TEST_HARNESS) $(LIBPOSTEL) \
		$$(addprefix $(B)/obj/,$$(shell cat tests/unit/$$*.objs 2>/dev/null))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBPOSTEL) $(LIBS) -lcmocka

$(B)/tests/services/%: $(B)/obj/tests/services/%.o $(LIBPOSTEL) \
		$$(addprefix $(B)/obj/,$$(shell cat tests/services/$$*.objs 2>/dev/null))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIBPOSTEL) $(LIBS)

# Command aliases that are the same program under another name.
links: $(BIN_TARGETS)
	@if [ -x $(B)/bin/postelalias ]; then ln -sf postelalias $(B)/bin/newaliases; fi
	@if [ -x $(B)/bin/sendmail ]; then ln -sf sendmail $(B)/bin/mailq; fi

deps:
	@sh mk/deps.sh

unit: $(TESTS)
	@sh tests/run_unit.sh $(TESTS)

integration: all $(TEST_SERVICES)
	POSTEL_BUILD=$(CURDIR)/$(B) $(PYTHON) -m pytest -q -p no:cacheprovider --continue-on-collection-errors $(PYTEST_ARGS) tests/integration

check: format-check all $(TESTS) $(TEST_SERVICES)
	@sh tests/run_unit.sh $(TESTS)
	POSTEL_BUILD=$(CURDIR)/$(B) POSTEL_SAN=$(SAN) $(PYTHON) -m pytest -q -p no:cacheprovider --continue-on-collection-errors $(PYTEST_ARGS) tests/integration

# libFuzzer: util/ compiled again with clang and coverage instrumentation.
FUZZ_CC		:= clang
FUZZ_FLAGS	:= -std=c17 -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
		   -I. -D_GNU_SOURCE $(PKG_CFLAGS) $(PQ_CFLAGS)
FUZZ_SRC	:= $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS	:= $(FUZZ_SRC:fuzz/%.c=$(B)/fuzz/%)
FUZZ_UTIL_OBJ	:= $(UTIL_SRC:%.c=$(B)/fuzz/obj/%.o)
$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<
# Every object, the target's own included, is compiled with -MMD: a header
# change rebuilds what includes it (a stale object with an old struct
# layout made a fuzz binary crash on its first input).
$(B)/fuzz/%: $(B)/fuzz/obj/fuzz/%.o $(FUZZ_UTIL_OBJ) \
		$$(addprefix $(B)/fuzz/obj/,$$(shell cat fuzz/$$*.objs 2>/dev/null))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LIBS)
fuzz: $(FUZZ_BINS)

# Every target for FUZZ_SECONDS (default 30) each; not part of check.
FUZZ_SECONDS	?= 30
FUZZ_TARGETS	:= $(FUZZ_SRC:fuzz/fuzz_%.c=%)
fuzz-smoke: $(FUZZ_BINS)
	sh mk/fuzz-run.sh $(B) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

run: all
	@sh mk/run.sh

install: all
	@sh mk/install.sh "$(DESTDIR)" "$(PREFIX)" "$(B)" "$(DAEMON_DIR)" \
	    "$(MANDIR)"

# The Debian package, built by dpkg-buildpackage (debhelper) from a copy
# of the tracked files under DEB_DIR, so the checkout stays clean; the
# .deb lands in DEB_DIR.  mk/deb.sh checks debian/changelog against VERSION.
DEB_DIR		?= build-deb
deb:
	@sh mk/deb.sh "$(DEB_DIR)" "$(VERSION)"

# Every C file of the tree, for format and format-check.
FORMAT_SRC	:= $(sort $(wildcard util/*.[ch] admin/*.[ch] sendmail/*.[ch] \
		   $(foreach d,$(DAEMON_DIRS),$(d)/*.[ch]) \
		   tests/unit/*.[ch] tests/services/*.[ch] fuzz/*.[ch]))

format:
	clang-format -i $(FORMAT_SRC)

# Lists every file whose format differs from .clang-format and fails if any.
format-check:
	@bad=0; for f in $(FORMAT_SRC); do \
		clang-format --dry-run --Werror $$f 2>/dev/null >&2 \
		    || { echo "format: $$f"; bad=$$((bad + 1)); }; \
	done; \
	[ $$bad -eq 0 ] || { echo "$$bad files differ from .clang-format" \
	    "(clang-format --dry-run FILE shows how)"; exit 1; }

clean:
	rm -rf $(B) run $(DEB_DIR)

-include $(shell find $(B)/obj $(B)/fuzz/obj -name '*.d' 2>/dev/null)
