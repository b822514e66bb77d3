/*
 * cfg_compat - what main.cf and master.cf say that no program reads, and
 * the legacy names an old main.cf still carries.
 *
 * Unused names: a main.cf setting or a master.cf "-o name=value" is used
 * when its name is in util/param_table.c, is a per-transport name
 * (<service>_destination_concurrency_limit, ...) whose <service> is a
 * master.cf service (any service when there is no master.cf), or is
 * referenced as $name, ${name} or $(name) by a main.cf value or a
 * master.cf entry (Postfix's user-defined parameters, such as
 * "-o smtpd_client_restrictions=$mua_client_restrictions").  Every other
 * one gets, as in Postfix,
 *   "DIR/main.cf, line N: unused parameter: NAME=VALUE"
 *   "DIR/master.cf, line N: unused parameter: -o NAME=VALUE"
 * with N the line where the setting or the service starts.
 *
 * Legacy names: smtpd_use_tls / smtpd_enforce_tls and smtp_use_tls /
 * smtp_enforce_tls (with smtp_tls_enforce_peername) still select the TLS
 * level when *_tls_security_level is empty, as in Postfix; each setting of
 * one gets a warning that names *_tls_security_level.  Postfix 3.6's
 * renamed postscreen parameters (postscreen_blacklist_action,
 * postscreen_whitelist_interfaces, postscreen_dnsbl_whitelist_threshold)
 * are warned about the same way, and postscreen reads the old name when
 * the new one is not set (cfg_compat_renamed).
 *
 * Errors: warnings only (msg_warn); nothing fails.
 * Ownership: returned strings are borrowed from the CFG or static.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_CFG_COMPAT_H
#define UTIL_CFG_COMPAT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/cfg.h"
#include "util/mastercf.h"

/*
 * Warn about every unused name and every legacy name set in main.cf and,
 * when mcf is not NULL, in master.cf's -o options (mcf_path names the
 * file in messages).  Overrides not from either file (postelconf -o) are
 * reported without a file.  Returns how many warnings were given.
 */
size_t
cfg_compat_check(const CFG *cfg, const MASTERCF *mcf, const char *mcf_path);

/* Which side of SMTP a TLS level is for. */
enum cfg_compat_side {
	CFG_COMPAT_SMTPD, /* smtpd_tls_security_level */
	CFG_COMPAT_SMTP,  /* smtp_tls_security_level */
};

/*
 * The TLS security level in effect: *_tls_security_level when it is not
 * empty, else "encrypt" (smtpd) or "verify"/"encrypt" (smtp, after
 * smtp_tls_enforce_peername) for *_enforce_tls = yes, else "may" for
 * *_use_tls = yes, else "".  With warn, a legacy setting that decides the
 * level, or is ignored because the modern name is set, is logged with the
 * modern equivalent.
 */
const char *
cfg_compat_tls_level(const CFG *cfg, enum cfg_compat_side side, bool warn);

/*
 * Which name of a renamed parameter to read: modern when it is set or
 * legacy is not, else legacy, with a warning naming the modern name when
 * warn is true.  Returns one of its two arguments; read it with the typed
 * getter.
 */
const char *cfg_compat_renamed(const CFG *cfg, const char *modern,
			       const char *legacy, bool warn);

#endif
