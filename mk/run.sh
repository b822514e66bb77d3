#!/bin/sh
# make run: a throw-away Postel instance under run/ (DESIGN.md §8).
#   run/etc    main.cf, master.cf, aliases, a self-signed TLS certificate
#   run/spool  the queue
#   run/mail   local mail (Maildir)
# Listens on 127.0.0.1 ports 2525 (smtp), 2587 (submission), 2465 (smtps),
# logs to the terminal, stops cleanly on Ctrl-C.  Re-running keeps the
# queue and mail but rewrites the configuration.
# SPDX-License-Identifier: ISC
set -eu

TOP=$(pwd)
B=${B:-build}
RUN=$TOP/run
ETC=$RUN/etc
BIN=$TOP/$B/bin
LIBEXEC=$TOP/$B/libexec

mkdir -p "$ETC" "$RUN/spool" "$RUN/mail"
chmod 755 "$RUN" "$RUN/spool"
# Like /var/mail: every recipient creates its own mailbox here.
chmod 1777 "$RUN/mail"

if [ ! -f "$ETC/tls/cert.pem" ]; then
	mkdir -p "$ETC/tls"
	openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
		-subj "/CN=localhost" -keyout "$ETC/tls/key.pem" \
		-out "$ETC/tls/cert.pem" >/dev/null 2>&1
	chmod 600 "$ETC/tls/key.pem"
fi

if [ "$(id -u)" -eq 0 ]; then
	owner=postel
else
	owner=$(id -un)
fi

cp conf/main.cf "$ETC/main.cf"
cat >>"$ETC/main.cf" <<EOC

# --- make run: a development instance under run/ ---
queue_directory = $RUN/spool
daemon_directory = $LIBEXEC
command_directory = $BIN
mail_owner = $owner
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost.localdomain
mydestination = \$myhostname, localhost
alias_maps = hash:$ETC/aliases
alias_database = hash:$ETC/aliases
mail_spool_directory = $RUN/mail/
smtpd_tls_cert_file = $ETC/tls/cert.pem
smtpd_tls_key_file = $ETC/tls/key.pem
smtpd_tls_security_level = may
EOC

# Services on the development ports; services whose daemon is not built
# (yet) are left out, and said so.
awk -v libexec="$LIBEXEC" '
function flush() {
	if (entry == "") return
	if (skip) {
		n = split(entry, lines, "\n")
		for (i = 1; i <= n; i++) print "#" lines[i]
		printf "make run: skipping service %s/%s: %s is not built\n", svc, typ, cmd > "/dev/stderr"
	} else
		print entry
	entry = ""
}
/^[ \t]/ && entry != "" { entry = entry "\n" $0; next }
/^#/ || /^[ \t]*$/ { flush(); print; next }
{
	flush()
	svc = $1; typ = $2; cmd = $8
	if (typ == "inet" && svc == "smtp") $1 = "127.0.0.1:2525"
	else if (typ == "inet" && svc == "submission") $1 = "127.0.0.1:2587"
	else if (typ == "inet" && svc == "smtps") $1 = "127.0.0.1:2465"
	skip = system("test -x " libexec "/" cmd) != 0
	entry = $0
}
END { flush() }
' conf/master.cf >"$ETC/master.cf"

cp conf/aliases "$ETC/aliases"
[ "$(id -u)" -eq 0 ] && "$BIN/postel" -c "$ETC" set-permissions
"$BIN/newaliases" -c "$ETC" 2>/dev/null || "$BIN/postelalias" -c "$ETC" "hash:$ETC/aliases"

echo "make run: instance in run/ (config run/etc); Ctrl-C stops it"
exec "$BIN/postel" -c "$ETC" start-fg
