/*
 * smtp_param - the parameter names of the SMTP+LMTP client.
 *
 * Postfix's rule: the client started as the master.cf service "lmtp"
 * reads the lmtp_X twin of every smtp_X parameter it uses, so a site can
 * set its LMTP delivery to Dovecot apart from its SMTP relaying
 * (lmtp_tls_security_level, lmtp_sasl_password_maps, ...).  The greeting
 * ones are lmtp_lhlo_name and lmtp_lhlo_timeout.  The names that make no
 * sense in LMTP (HELO/EHLO choice, the 465 wrapper, the obsolete TLS
 * switches) have no twin and are read only in SMTP mode.
 *
 * Every name the client reads goes through smtp_param(); a name missing
 * from the table is a bug (msg_panic), so no smtp_X can be read in LMTP
 * mode by mistake.  test_smtp_param checks the table against
 * util/param_table.c.
 *
 * Ownership: returned names are static.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "smtp/smtp.h"
#include "util/msg.h"

const struct smtp_param_twin smtp_param_twins[] = {
	{ "smtp_address_preference", "lmtp_address_preference" },
	{ "smtp_bind_address", "lmtp_bind_address" },
	{ "smtp_bind_address6", "lmtp_bind_address6" },
	{ "smtp_connect_timeout", "lmtp_connect_timeout" },
	{ "smtp_connection_cache_time_limit",
	  "lmtp_connection_cache_time_limit" },
	{ "smtp_connection_reuse_time_limit",
	  "lmtp_connection_reuse_time_limit" },
	{ "smtp_data_done_timeout", "lmtp_data_done_timeout" },
	{ "smtp_data_init_timeout", "lmtp_data_init_timeout" },
	{ "smtp_data_xfer_timeout", "lmtp_data_xfer_timeout" },
	{ "smtp_generic_maps", "lmtp_generic_maps" },
	{ "smtp_helo_name", "lmtp_lhlo_name" },
	{ "smtp_helo_timeout", "lmtp_lhlo_timeout" },
	{ "smtp_host_lookup", "lmtp_host_lookup" },
	{ "smtp_line_length_limit", "lmtp_line_length_limit" },
	{ "smtp_mail_timeout", "lmtp_mail_timeout" },
	{ "smtp_mx_address_limit", "lmtp_mx_address_limit" },
	{ "smtp_mx_session_limit", "lmtp_mx_session_limit" },
	{ "smtp_quit_timeout", "lmtp_quit_timeout" },
	{ "smtp_rcpt_timeout", "lmtp_rcpt_timeout" },
	{ "smtp_sasl_auth_enable", "lmtp_sasl_auth_enable" },
	{ "smtp_sasl_mechanism_filter", "lmtp_sasl_mechanism_filter" },
	{ "smtp_sasl_password_maps", "lmtp_sasl_password_maps" },
	{ "smtp_sasl_security_options", "lmtp_sasl_security_options" },
	{ "smtp_sasl_tls_security_options", "lmtp_sasl_tls_security_options" },
	{ "smtp_sasl_type", "lmtp_sasl_type" },
	{ "smtp_send_xforward_command", "lmtp_send_xforward_command" },
	{ "smtp_skip_5xx_greeting", "lmtp_skip_5xx_greeting" },
	{ "smtp_tls_CAfile", "lmtp_tls_CAfile" },
	{ "smtp_tls_CApath", "lmtp_tls_CApath" },
	{ "smtp_tls_cert_file", "lmtp_tls_cert_file" },
	{ "smtp_tls_ciphers", "lmtp_tls_ciphers" },
	{ "smtp_tls_key_file", "lmtp_tls_key_file" },
	{ "smtp_tls_loglevel", "lmtp_tls_loglevel" },
	{ "smtp_tls_mandatory_ciphers", "lmtp_tls_mandatory_ciphers" },
	{ "smtp_tls_mandatory_protocols", "lmtp_tls_mandatory_protocols" },
	{ "smtp_tls_note_starttls_offer", "lmtp_tls_note_starttls_offer" },
	{ "smtp_tls_policy_maps", "lmtp_tls_policy_maps" },
	{ "smtp_tls_protocols", "lmtp_tls_protocols" },
	{ "smtp_tls_security_level", "lmtp_tls_security_level" },
	{ "smtp_tls_servername", "lmtp_tls_servername" },
	{ "smtp_tls_session_cache_timeout", "lmtp_tls_session_cache_timeout" },
	{ NULL, NULL },
};

const char *
smtp_param(bool lmtp, const char *name)
{
	if (!lmtp)
		return name;
	for (const struct smtp_param_twin *t = smtp_param_twins; t->smtp; t++)
		if (strcmp(t->smtp, name) == 0)
			return t->lmtp;
	msg_panic("smtp_param: %s has no LMTP twin", name);
}
