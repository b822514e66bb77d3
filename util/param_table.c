/*
 * param_table - the one declaration of every main.cf parameter.
 *
 * Sorted by name (param_lookup() does a binary search; test_param checks
 * the order).  Defaults are Postfix's documented defaults where Postfix has
 * the parameter; Postel-only parameters say "Postel:" in their description.
 * Computed defaults (config_directory, myhostname, mydomain, mynetworks)
 * are "" here and are supplied by util/cfg.c.  A PARAM_TIME default ends in the unit that a
 * bare number means.  Bounds: min == max == 0 is "no bounds".
 *
 * Nothing here fails or allocates; returned pointers are static.
 *
 * SPDX-License-Identifier: ISC
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util/param.h"

static const struct param_def param_defs[] = {
	{ "2bounce_notice_recipient", PARAM_STR, "postmaster", 0, 0,
	  "Who gets notified of undeliverable bounce messages "
	  "(notify_classes 2bounce)." },
	{ "access_map_defer_code", PARAM_INT, "450", 400, 599,
	  "SMTP reply code of the DEFER action in an access table." },
	{ "access_map_reject_code", PARAM_INT, "554", 400, 599,
	  "SMTP reply code when a client is rejected by an access table "
	  "REJECT." },
	{ "alias_database", PARAM_STR, "hash:/etc/aliases", 0, 0,
	  "Alias databases that postelalias and newaliases rebuild by "
	  "default." },
	{ "alias_maps", PARAM_STR, "hash:/etc/aliases", 0, 0,
	  "Alias tables that the local delivery agent consults." },
	{ "allow_mail_to_commands", PARAM_STR, "alias, forward", 0, 0,
	  "Where local delivery to \"|command\" is allowed: alias, forward, "
	  "include." },
	{ "allow_mail_to_files", PARAM_STR, "alias, forward", 0, 0,
	  "Where local delivery to /file/name is allowed: alias, forward, "
	  "include." },
	{ "allow_min_user", PARAM_BOOL, "no", 0, 0,
	  "Accept sender and recipient addresses that begin with \"-\" "
	  "(smtpd, sendmail, postdrop, cleanup for sendmail -t)." },
	{ "allow_percent_hack", PARAM_BOOL, "yes", 0, 0,
	  "Rewrite user%domain into user@domain (also user%domain@"
	  "$mydestination)." },
	{ "allow_untrusted_routing", PARAM_BOOL, "no", 0, 0,
	  "Let untrusted clients relay with sender-specified routing "
	  "(user%domain, host!user, quoted @, source routes)." },
	{ "alternate_config_directories", PARAM_STR, "", 0, 0,
	  "Configuration folders besides the default one that the setgid "
	  "commands (postdrop, postelqueue) accept from -c or MAIL_CONFIG "
	  "when run by a user other than root; read from the default "
	  "main.cf only." },
	{ "always_add_missing_headers", PARAM_BOOL, "no", 0, 0,
	  "Add missing From:, To:, Date:, Message-ID: headers to every "
	  "message, not only to locally submitted ones." },
	{ "always_bcc", PARAM_STR, "", 0, 0,
	  "Address that receives a blind copy of every new message "
	  "(NOTIFY=NEVER: no DSN to the sender about it)." },
	{ "anvil_rate_time_unit", PARAM_TIME, "60s", 1, LLONG_MAX,
	  "The time unit over which anvil counts client connection, "
	  "message, recipient, new TLS session and AUTH rates." },
	{ "anvil_service_name", PARAM_STR, "anvil", 0, 0,
	  "The master.cf name of the anvil service (private/NAME) that "
	  "smtpd asks for its client counts." },
	{ "anvil_status_update_time", PARAM_TIME, "600s", 1, LLONG_MAX,
	  "How often anvil logs the peak counts and rates it saw." },
	{ "append_at_myorigin", PARAM_BOOL, "yes", 0, 0,
	  "Append @$myorigin to addresses without a domain." },
	{ "append_dot_mydomain", PARAM_BOOL, "no", 0, 0,
	  "Append .$mydomain to addresses whose domain has no dot." },
	{ "authserv_id", PARAM_STR, "$myhostname", 0, 0,
	  "Postel: the authserv-id of the Authentication-Results field "
	  "added to inbound mail; such fields already claiming it are "
	  "removed." },
	{ "body_checks", PARAM_STR, "", 0, 0,
	  "Tables of regular expressions matched against body lines by "
	  "cleanup." },
	{ "body_checks_size_limit", PARAM_SIZE, "51200", 0, LLONG_MAX,
	  "Body bytes of a message that body_checks looks at." },
	{ "bounce_notice_recipient", PARAM_STR, "postmaster", 0, 0,
	  "Who gets notified of bounces (notify_classes bounce)." },
	{ "bounce_queue_lifetime", PARAM_TIME, "5d", 0, 8640000,
	  "How long a bounce message may stay queued before it is "
	  "discarded." },
	{ "bounce_service_name", PARAM_STR, "bounce", 0, 0,
	  "Name of the bounce service in master.cf." },
	{ "bounce_size_limit", PARAM_INT, "50000", 1, LLONG_MAX,
	  "Largest part of an undeliverable message returned in a bounce, "
	  "in bytes." },
	{ "bounce_template_file", PARAM_STR, "", 0, 0,
	  "File with custom texts for delivery status notifications." },
	{ "canonical_classes", PARAM_STR,
	  "envelope_sender, envelope_recipient, header_sender, header_recipient",
	  0, 0,
	  "Which addresses canonical_maps rewrites: envelope_sender, "
	  "envelope_recipient, header_sender, header_recipient." },
	{ "canonical_maps", PARAM_STR, "", 0, 0,
	  "Tables that rewrite sender and recipient addresses (envelope and"
	  " headers)." },
	{ "capture_directory", PARAM_STR, "$data_directory/capture", 0, 0,
	  "Postel: the Maildir where the capture delivery agent keeps every "
	  "message handed to it (staging and test set-ups)." },
	{ "cleanup_service_name", PARAM_STR, "cleanup", 0, 0,
	  "Name of the cleanup service in master.cf." },
	{ "command_directory", PARAM_STR, POSTEL_PREFIX "/sbin", 0, 0,
	  "Where the Postel commands (postel, postelconf, ...) are "
	  "installed." },
	{ "command_expansion_filter", PARAM_STR,
	  "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyz"
	  "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	  0, 0,
	  "Characters that local(8) leaves in the values it exports to "
	  "commands (SENDER, RECIPIENT, EXTENSION, ...); others become "
	  "'_'." },
	{ "command_time_limit", PARAM_TIME, "1000s", 1, 86400,
	  "Time limit for a local(8) delivery to a command." },
	{ "config_directory", PARAM_STR, "", 0, 0,
	  "Folder holding main.cf and master.cf." },
	{ "content_filter", PARAM_STR, "", 0, 0,
	  "After-queue content filter transport:nexthop for every message "
	  "received (smtpd, pickup); empty: none." },
	{ "cyrus_sasl_config_path", PARAM_STR, "", 0, 0,
	  "Folder where Cyrus SASL looks for its application configuration "
	  "(empty: the library default)." },
	{ "daemon_directory", PARAM_STR, POSTEL_DAEMON_DIR, 0, 0,
	  "Where the Postel daemons (master, smtpd, ...) are installed." },
	{ "daemon_timeout", PARAM_TIME, "18000s", 1, LLONG_MAX,
	  "How long a daemon may work on one client or trigger before its "
	  "watchdog ends it with a fatal error." },
	{ "data_directory", PARAM_STR, "/var/lib/postel", 0, 0,
	  "Folder for files Postel daemons write and keep (postscreen's "
	  "cache), outside the queue." },
	{ "debug_peer_level", PARAM_INT, "2", 0, 10,
	  "How much more verbose smtpd and smtp log while talking to a host "
	  "in debug_peer_list." },
	{ "debug_peer_list", PARAM_STR, "", 0, 0,
	  "Clients (smtpd) and servers (smtp) whose sessions are logged more "
	  "verbosely, by name or network." },
	{ "default_database_type", PARAM_STR, "hash", 0, 0,
	  "Table type assumed by postelmap and postelalias when none is "
	  "given." },
	{ "default_destination_concurrency_failed_cohort_limit", PARAM_INT, "1",
	  1, 10000,
	  "Windows of failed deliveries in a row after which qmgr treats "
	  "a destination as dead." },
	{ "default_destination_concurrency_limit", PARAM_INT, "20", 1, 10000,
	  "Parallel deliveries per destination when a transport sets none." },
	{ "default_destination_recipient_limit", PARAM_INT, "50", 1, 100000,
	  "Recipients per delivery when a transport sets none." },
	{ "default_privs", PARAM_STR, "nobody", 0, 0,
	  "Account used by local delivery for commands and files run from "
	  "aliases." },
	{ "default_process_limit", PARAM_INT, "100", 1, 100000,
	  "Processes per service when master.cf says '-'." },
	{ "default_rbl_reply", PARAM_STR,
	  "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using "
	  "$rbl_domain${rbl_reason?; $rbl_reason}",
	  0, 0, "Reply template of reject_rbl_client and reject_rhsbl_*." },
	{ "default_transport", PARAM_STR, "smtp", 0, 0,
	  "Transport for destinations that are neither local, virtual nor "
	  "relay." },
	{ "defer_code", PARAM_INT, "450", 400, 499,
	  "SMTP reply code of the DEFER access action." },
	{ "defer_service_name", PARAM_STR, "defer", 0, 0,
	  "Name of the defer service in master.cf." },
	{ "delay_notice_recipient", PARAM_STR, "postmaster", 0, 0,
	  "Who gets delay warnings about postmaster-class problems "
	  "(notify_classes delay)." },
	{ "delay_warning_time", PARAM_TIME, "0h", 0, 8640000,
	  "Send the sender a delay warning after this time (0 = never)." },
	{ "disable_mime_input_processing", PARAM_BOOL, "no", 0, 0,
	  "Do not follow the MIME structure of the body: everything after "
	  "the message header is body for the content checks." },
	{ "disable_vrfy_command", PARAM_BOOL, "no", 0, 0,
	  "Refuse the SMTP VRFY command." },
	{ "dkim_canonicalization", PARAM_STR, "relaxed/relaxed", 0, 0,
	  "Postel: DKIM canonicalization of the signatures cleanup adds, "
	  "header/body, each simple or relaxed." },
	{ "dkim_key_table", PARAM_STR, "", 0, 0,
	  "Postel: table from a DKIM key name to domain:selector:/path/to/"
	  "private.key (OpenDKIM's KeyTable)." },
	{ "dkim_sign_headers", PARAM_STR,
	  "+From, Reply-To, Subject, Date, To, Cc, Resent-Date, "
	  "Resent-From, Resent-Sender, Resent-To, Resent-Cc, In-Reply-To, "
	  "References, List-Id, List-Help, List-Unsubscribe, "
	  "List-Subscribe, List-Post, List-Owner, List-Archive",
	  0, 0,
	  "Postel: header fields that DKIM signatures cover; +Name is "
	  "oversigned (one more than occur, so none can be added)." },
	{ "dkim_signature_expiration", PARAM_TIME, "0s", 0, 315360000,
	  "Postel: lifetime of the DKIM signatures cleanup adds (x= tag); "
	  "0 = no expiration." },
	{ "dkim_signing_table", PARAM_STR, "", 0, 0,
	  "Postel: table from a From: address, domain or .parent domain to "
	  "the DKIM key names to sign outbound mail with (OpenDKIM's "
	  "SigningTable); empty = no signing." },
	{ "dkim_verify_enable", PARAM_BOOL, "yes", 0, 0,
	  "Postel: verify the DKIM signatures of inbound mail "
	  "(libopendkim) and report them in Authentication-Results." },
	{ "dkim_verify_signature_limit", PARAM_INT, "5", 1, 100,
	  "Postel: DKIM signatures verified per inbound message; the "
	  "rest are ignored." },
	{ "dmarc_enable", PARAM_BOOL, "yes", 0, 0,
	  "Postel: evaluate the DMARC policy of the From: domain of "
	  "inbound mail (libopendmarc)." },
	{ "dmarc_public_suffix_list", PARAM_STR,
	  "/usr/share/publicsuffix/public_suffix_list.dat", 0, 0,
	  "Postel: the public suffix list that decides DMARC "
	  "organizational domains; read before the chroot." },
	{ "dmarc_reject_enable", PARAM_BOOL, "yes", 0, 0,
	  "Postel: refuse inbound mail that fails a DMARC p=reject "
	  "policy (550 5.7.1); with no, such mail is only annotated." },
	{ "dns_attempts", PARAM_INT, "2", 1, 10,
	  "Postel: tries per DNS server for each query." },
	{ "dns_nameservers", PARAM_STR, "", 0, 0,
	  "Postel: ip[:port] DNS servers to query instead of those in "
	  "/etc/resolv.conf." },
	{ "dns_timeout", PARAM_TIME, "5s", 1, 300,
	  "Postel: how long to wait for each DNS reply." },
	{ "dnsblog_service_name", PARAM_STR, "dnsblog", 0, 0,
	  "Name of the dnsblog service in master.cf that postscreen asks "
	  "for DNS allow/denylist lookups (private/$dnsblog_service_name)." },
	{ "double_bounce_sender", PARAM_STR, "double-bounce", 0, 0,
	  "Sender of bounces about bounces; mail to it is discarded." },
	{ "duplicate_filter_limit", PARAM_INT, "1000", 0, 0,
	  "Recipients remembered per message to drop duplicates." },
	{ "error_service_name", PARAM_STR, "error", 0, 0,
	  "Name of the error transport in master.cf." },
	{ "expand_owner_alias", PARAM_BOOL, "no", 0, 0,
	  "Use the owner-alias address itself as sender, not its expansion." },
	{ "export_environment", PARAM_STR, "TZ MAIL_CONFIG LANG", 0, 0,
	  "Environment variables that local(8) and pipe(8) pass on to "
	  "the commands they run." },
	{ "fallback_transport", PARAM_STR, "", 0, 0,
	  "Transport for local recipients that have no account." },
	{ "fast_flush_domains", PARAM_STR, "$relay_domains", 0, 0,
	  "Destinations whose deferred mail the flush service logs per "
	  "destination, so that ETRN and postelqueue -s can deliver it." },
	{ "fast_flush_purge_time", PARAM_TIME, "7d", 1, LLONG_MAX,
	  "After how long the flush service deletes an empty per-destination "
	  "logfile that was not updated." },
	{ "fast_flush_refresh_time", PARAM_TIME, "12h", 1, LLONG_MAX,
	  "After how long the flush service refreshes a non-empty "
	  "per-destination logfile that was not read." },
	{ "flush_service_name", PARAM_STR, "flush", 0, 0,
	  "Name of the fast flush service in master.cf (public/NAME)." },
	{ "forward_expansion_filter", PARAM_STR,
	  "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyz"
	  "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	  0, 0,
	  "Characters that local(8) leaves in the $user, $extension, ... "
	  "values it puts into forward_path; others become '_'." },
	{ "forward_file_size_limit", PARAM_SIZE, "1048576", 1, 16777216,
	  "Postel: largest .forward or :include: file that local(8) reads; "
	  "a larger one defers the recipient." },
	{ "forward_path", PARAM_STR,
	  "$home/.forward${recipient_delimiter}${extension}, $home/.forward", 0,
	  0,
	  "Where local looks for .forward files; expanded by local with "
	  "per-recipient macros." },
	{ "header_checks", PARAM_STR, "", 0, 0,
	  "Tables of regular expressions matched against header lines by "
	  "cleanup." },
	{ "header_size_limit", PARAM_SIZE, "102400", 1, LLONG_MAX,
	  "Largest message header, in bytes." },
	{ "home_mailbox", PARAM_STR, "", 0, 0,
	  "Mailbox file or Maildir/ (trailing slash) relative to the home "
	  "folder; empty: mail_spool_directory." },
	{ "hopcount_limit", PARAM_INT, "50", 1, LLONG_MAX,
	  "Most Received: headers a message may carry before it bounces." },
	{ "import_environment", PARAM_STR, "MAIL_CONFIG MAIL_DEBUG TZ LANG=C",
	  0, 0, "Environment variables that master passes to its children." },
	{ "inet_interfaces", PARAM_STR, "all", 0, 0,
	  "Addresses the SMTP server listens on: all, loopback-only or a "
	  "list." },
	{ "inet_protocols", PARAM_STR, "all", 0, 0,
	  "IP versions used: all, ipv4, ipv6." },
	{ "initial_destination_concurrency", PARAM_INT, "5", 1, 10000,
	  "Starting parallel deliveries to one destination." },
	{ "invalid_hostname_reject_code", PARAM_INT, "501", 400, 599,
	  "SMTP reply code of reject_invalid_helo_hostname." },
	{ "ipc_idle", PARAM_TIME, "5s", 1, 86400,
	  "Time after which a client closes an idle internal connection "
	  "(proxy: tables); proxymap lets a client go after this long "
	  "without a request." },
	{ "ipc_timeout", PARAM_TIME, "3600s", 1, LLONG_MAX,
	  "Time limit for one internal request or reply." },
	{ "ipc_ttl", PARAM_TIME, "1000s", 1, 86400,
	  "Time after which a client closes an active internal connection "
	  "(proxy: tables), so that the server process can retire." },
	{ "line_length_limit", PARAM_INT, "2048", 1, LLONG_MAX,
	  "Longest input line stored before it is broken up." },
	{ "lmdb_map_size", PARAM_SIZE, "16777216", 8192, LLONG_MAX,
	  "Initial size limit of an lmdb: table; doubled each time it is "
	  "full." },
	{ "lmtp_address_preference", PARAM_STR, "any", 0, 0,
	  "The LMTP client's smtp_address_preference (lmtp service)." },
	{ "lmtp_bind_address", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_bind_address (lmtp service)." },
	{ "lmtp_bind_address6", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_bind_address6 (lmtp service)." },
	{ "lmtp_connect_timeout", PARAM_TIME, "0s", 0, 0,
	  "The LMTP client's smtp_connect_timeout (lmtp service)." },
	{ "lmtp_connection_cache_time_limit", PARAM_TIME, "2s", 0, LLONG_MAX,
	  "The LMTP client's smtp_connection_cache_time_limit (lmtp service)." },
	{ "lmtp_connection_reuse_time_limit", PARAM_TIME, "300s", 0, LLONG_MAX,
	  "The LMTP client's smtp_connection_reuse_time_limit (lmtp service)." },
	{ "lmtp_data_done_timeout", PARAM_TIME, "600s", 1, LLONG_MAX,
	  "The LMTP client's smtp_data_done_timeout (lmtp service)." },
	{ "lmtp_data_init_timeout", PARAM_TIME, "120s", 1, LLONG_MAX,
	  "The LMTP client's smtp_data_init_timeout (lmtp service)." },
	{ "lmtp_data_xfer_timeout", PARAM_TIME, "180s", 1, LLONG_MAX,
	  "The LMTP client's smtp_data_xfer_timeout (lmtp service)." },
	{ "lmtp_generic_maps", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_generic_maps (lmtp service)." },
	{ "lmtp_host_lookup", PARAM_STR, "dns", 0, 0,
	  "The LMTP client's smtp_host_lookup (lmtp service)." },
	{ "lmtp_lhlo_name", PARAM_STR, "$myhostname", 0, 0,
	  "The LMTP client's smtp_helo_name (lmtp service)." },
	{ "lmtp_lhlo_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "The LMTP client's smtp_helo_timeout (lmtp service)." },
	{ "lmtp_line_length_limit", PARAM_INT, "998", 0, 0,
	  "The LMTP client's smtp_line_length_limit (lmtp service)." },
	{ "lmtp_mail_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "The LMTP client's smtp_mail_timeout (lmtp service)." },
	{ "lmtp_mx_address_limit", PARAM_INT, "5", 0, 0,
	  "The LMTP client's smtp_mx_address_limit (lmtp service)." },
	{ "lmtp_mx_session_limit", PARAM_INT, "2", 0, 0,
	  "The LMTP client's smtp_mx_session_limit (lmtp service)." },
	{ "lmtp_quit_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "The LMTP client's smtp_quit_timeout (lmtp service)." },
	{ "lmtp_rcpt_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "The LMTP client's smtp_rcpt_timeout (lmtp service)." },
	{ "lmtp_sasl_auth_enable", PARAM_BOOL, "no", 0, 0,
	  "The LMTP client's smtp_sasl_auth_enable (lmtp service)." },
	{ "lmtp_sasl_mechanism_filter", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_sasl_mechanism_filter (lmtp service)." },
	{ "lmtp_sasl_password_maps", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_sasl_password_maps (lmtp service)." },
	{ "lmtp_sasl_security_options", PARAM_STR, "noplaintext, noanonymous",
	  0, 0,
	  "The LMTP client's smtp_sasl_security_options (lmtp service)." },
	{ "lmtp_sasl_tls_security_options", PARAM_STR,
	  "$lmtp_sasl_security_options", 0, 0,
	  "The LMTP client's smtp_sasl_tls_security_options (lmtp service)." },
	{ "lmtp_sasl_type", PARAM_STR, "cyrus", 0, 0,
	  "The LMTP client's smtp_sasl_type (lmtp service)." },
	{ "lmtp_send_xforward_command", PARAM_BOOL, "no", 0, 0,
	  "The LMTP client's smtp_send_xforward_command (lmtp service)." },
	{ "lmtp_skip_5xx_greeting", PARAM_BOOL, "yes", 0, 0,
	  "The LMTP client's smtp_skip_5xx_greeting (lmtp service)." },
	{ "lmtp_tls_CAfile", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_tls_CAfile (lmtp service)." },
	{ "lmtp_tls_CApath", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_tls_CApath (lmtp service)." },
	{ "lmtp_tls_cert_file", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_tls_cert_file (lmtp service)." },
	{ "lmtp_tls_ciphers", PARAM_STR, "medium", 0, 0,
	  "The LMTP client's smtp_tls_ciphers (lmtp service)." },
	{ "lmtp_tls_key_file", PARAM_STR, "$lmtp_tls_cert_file", 0, 0,
	  "The LMTP client's smtp_tls_key_file (lmtp service)." },
	{ "lmtp_tls_loglevel", PARAM_INT, "0", 0, 4,
	  "The LMTP client's smtp_tls_loglevel (lmtp service)." },
	{ "lmtp_tls_mandatory_ciphers", PARAM_STR, "medium", 0, 0,
	  "The LMTP client's smtp_tls_mandatory_ciphers (lmtp service)." },
	{ "lmtp_tls_mandatory_protocols", PARAM_STR, ">=TLSv1", 0, 0,
	  "The LMTP client's smtp_tls_mandatory_protocols (lmtp service)." },
	{ "lmtp_tls_note_starttls_offer", PARAM_BOOL, "no", 0, 0,
	  "The LMTP client's smtp_tls_note_starttls_offer (lmtp service)." },
	{ "lmtp_tls_policy_maps", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_tls_policy_maps (lmtp service)." },
	{ "lmtp_tls_protocols", PARAM_STR, ">=TLSv1", 0, 0,
	  "The LMTP client's smtp_tls_protocols (lmtp service)." },
	{ "lmtp_tls_security_level", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_tls_security_level (lmtp service)." },
	{ "lmtp_tls_servername", PARAM_STR, "", 0, 0,
	  "The LMTP client's smtp_tls_servername (lmtp service)." },
	{ "lmtp_tls_session_cache_timeout", PARAM_TIME, "3600s", 0, 8640000,
	  "The LMTP client's smtp_tls_session_cache_timeout (lmtp service)." },
	{ "local_destination_concurrency_limit", PARAM_INT, "2", 1, 10000,
	  "Parallel local deliveries to one recipient." },
	{ "local_destination_recipient_limit", PARAM_INT, "1", 1, 100000,
	  "Recipients per local delivery." },
	{ "local_recipient_maps", PARAM_STR,
	  "proxy:unix:passwd.byname $alias_maps", 0, 0,
	  "Tables of valid local recipients; unknown ones are rejected in "
	  "SMTP." },
	{ "local_transport", PARAM_STR, "local:$myhostname", 0, 0,
	  "Transport for domains in mydestination and inet_interfaces "
	  "addresses." },
	{ "luser_relay", PARAM_STR, "", 0, 0,
	  "Address that receives mail for unknown local recipients." },
	{ "mail_name", PARAM_STR, "Postel", 0, 0,
	  "Mail system name used in the SMTP banner and Received: headers." },
	{ "mail_owner", PARAM_STR, "postel", 0, 0,
	  "Unprivileged account that owns the queue and runs the daemons." },
	{ "mail_spool_directory", PARAM_STR, "/var/mail", 0, 0,
	  "Folder of UNIX-style mailboxes; with a trailing slash, Maildirs." },
	{ "mail_version", PARAM_STR, POSTEL_VERSION, 0, 0,
	  "The release of Postel (the VERSION file at build time); logged "
	  "by postel start.  Informational: setting it changes nothing else." },
	{ "mailbox_command", PARAM_STR, "", 0, 0,
	  "Command run by local to deliver to a user's mailbox instead of "
	  "writing it." },
	{ "mailbox_size_limit", PARAM_SIZE, "51200000", 0, 0,
	  "Largest mailbox or Maildir file local writes, in bytes (0 = "
	  "none)." },
	{ "mailbox_transport", PARAM_STR, "", 0, 0,
	  "Transport that receives local mailbox deliveries instead of "
	  "local." },
	{ "maillog_file", PARAM_STR, "", 0, 0,
	  "Log file written by the postlog service; empty: syslog." },
	{ "maps_rbl_reject_code", PARAM_INT, "554", 400, 599,
	  "SMTP reply code for clients listed in a DNS block list." },
	{ "masquerade_domains", PARAM_STR, "", 0, 0,
	  "Domains whose subdomains are stripped from sender and header"
	  " addresses (!domain: never)." },
	{ "masquerade_exceptions", PARAM_STR, "", 0, 0,
	  "Local parts that are never masqueraded." },
	{ "master_service_disable", PARAM_STR, "", 0, 0,
	  "master.cf services (name/type) that master does not start." },
	{ "max_idle", PARAM_TIME, "100s", 1, LLONG_MAX,
	  "How long an idle daemon process waits for work before exiting." },
	{ "max_use", PARAM_INT, "100", 1, LLONG_MAX,
	  "Requests a daemon process handles before exiting." },
	{ "maximal_backoff_time", PARAM_TIME, "4000s", 1, LLONG_MAX,
	  "Longest wait before retrying a deferred message." },
	{ "maximal_queue_lifetime", PARAM_TIME, "5d", 0, 8640000,
	  "How long a message may stay queued before it bounces." },
	{ "message_size_limit", PARAM_SIZE, "10240000", 0, 0,
	  "Largest message accepted, envelope and headers included, in "
	  "bytes (0 = none)." },
	{ "milter_command_timeout", PARAM_TIME, "30s", 1, 86400,
	  "Time limit for sending a command to a milter and receiving its reply." },
	{ "milter_connect_macros", PARAM_STR,
	  "j {daemon_name} {daemon_addr} v _", 0, 0,
	  "Macros sent to milters with the connect stage." },
	{ "milter_connect_timeout", PARAM_TIME, "30s", 1, 86400,
	  "Time limit for connecting to a milter and negotiating the protocol." },
	{ "milter_content_timeout", PARAM_TIME, "300s", 1, 86400,
	  "Time limit for sending message content (header fields, body, end of message) to a milter and receiving its reply." },
	{ "milter_data_macros", PARAM_STR, "i", 0, 0,
	  "Macros sent to milters with the DATA stage." },
	{ "milter_default_action", PARAM_STR, "tempfail", 0, 0,
	  "What happens when a milter is down, slow or speaks garbage: tempfail, accept, reject or quarantine (hold queue)." },
	{ "milter_end_of_data_macros", PARAM_STR, "i", 0, 0,
	  "Macros sent to milters with the end of message stage." },
	{ "milter_end_of_header_macros", PARAM_STR, "i", 0, 0,
	  "Macros sent to milters with the end of header stage." },
	{ "milter_header_checks", PARAM_STR, "", 0, 0,
	  "Tables matched against header fields that milters add or change (header_checks actions)." },
	{ "milter_helo_macros", PARAM_STR,
	  "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
	  0, 0, "Macros sent to milters with the HELO stage." },
	{ "milter_macro_daemon_name", PARAM_STR, "$myhostname", 0, 0,
	  "Value of the {daemon_name} macro." },
	{ "milter_macro_v", PARAM_STR, "$mail_name", 0, 0,
	  "Value of the v macro (Postfix: $mail_name $mail_version)." },
	{ "milter_mail_macros", PARAM_STR,
	  "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
	  0, 0, "Macros sent to milters with the MAIL FROM stage." },
	{ "milter_protocol", PARAM_INT, "6", 2, 6,
	  "Milter protocol version offered to milters (2 to 6)." },
	{ "milter_rcpt_macros", PARAM_STR,
	  "i {rcpt_addr} {rcpt_host} {rcpt_mailer}", 0, 0,
	  "Macros sent to milters with the RCPT TO stage." },
	{ "milter_unknown_command_macros", PARAM_STR, "", 0, 0,
	  "Macros sent to milters with an unknown SMTP command." },
	{ "mime_header_checks", PARAM_STR, "$header_checks", 0, 0,
	  "Tables matched against Content-* and MIME-Version fields and "
	  "every header field of a MIME body part." },
	{ "mime_nesting_limit", PARAM_INT, "100", 1, LLONG_MAX,
	  "Deepest MIME multipart nesting accepted when header checks are "
	  "configured (deeper: 550 5.6.0)." },
	{ "minimal_backoff_time", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Shortest wait before retrying a deferred message." },
	{ "mydestination", PARAM_STR,
	  "$myhostname, localhost.$mydomain, localhost", 0, 0,
	  "Domains delivered by local_transport." },
	{ "mydomain", PARAM_STR, "", 0, 0, "Internet domain of this host." },
	{ "myhostname", PARAM_STR, "", 0, 0,
	  "Fully qualified name of this host, used in the SMTP banner, HELO"
	  " and Received: headers." },
	{ "mynetworks", PARAM_STR, "", 0, 0,
	  "Trusted clients allowed to relay (permit_mynetworks); default "
	  "computed from mynetworks_style." },
	{ "mynetworks_style", PARAM_STR, "host", 0, 0,
	  "How mynetworks is computed when unset: host, subnet, class." },
	{ "myorigin", PARAM_STR, "$myhostname", 0, 0,
	  "Domain appended to locally posted mail addresses without a "
	  "domain." },
	{ "nested_header_checks", PARAM_STR, "$header_checks", 0, 0,
	  "Tables matched against the header fields of attached messages "
	  "(message/rfc822), MIME fields excepted." },
	{ "non_fqdn_reject_code", PARAM_INT, "504", 400, 599,
	  "SMTP reply code for names that are not fully qualified." },
	{ "non_smtpd_milters", PARAM_STR, "", 0, 0,
	  "Milters (inet:host:port, unix:path or { name, setting=value, ... }) that cleanup runs on mail submitted locally (sendmail, pickup)." },
	{ "notify_classes", PARAM_STR, "resource, software", 0, 0,
	  "Problems reported to the postmaster: bounce, 2bounce, delay "
	  "(Postfix's data, policy, protocol, resource and software "
	  "classes have no notices in Postel and are ignored)." },
	{ "owner_request_special", PARAM_BOOL, "yes", 0, 0,
	  "Treat owner-x and x-request addresses specially." },
	{ "parent_domain_matches_subdomains", PARAM_STR,
	  "debug_peer_list, fast_flush_domains, mynetworks, "
	  "permit_mx_backup_networks, qmqpd_authorized_clients, relay_domains, "
	  "smtpd_access_maps",
	  0, 0,
	  "Features in which a pattern domain.tld also matches its subdomains." },
	{ "pickup_service_name", PARAM_STR, "pickup", 0, 0,
	  "Name of the pickup service in master.cf." },
	{ "postlog_service_name", PARAM_STR, "postlog", 0, 0,
	  "Name of the postlogd service in master.cf; with maillog_file set, "
	  "programs log to its socket public/$postlog_service_name." },
	{ "postscreen_access_list", PARAM_STR, "permit_mynetworks", 0, 0,
	  "Permanent allow/deny list of postscreen: permit_mynetworks "
	  "and type:table (cidr:) entries answering permit, reject or "
	  "dunno." },
	{ "postscreen_allowlist_interfaces", PARAM_STR, "static:all", 0, 0,
	  "Server addresses where postscreen may hand a client to smtpd "
	  "(static:all, or a network list); elsewhere ALLOWLIST VETO." },
	{ "postscreen_bare_newline_action", PARAM_STR, "ignore", 0, 0,
	  "What postscreen does with a client that sends a bare "
	  "newline: ignore, enforce or drop." },
	{ "postscreen_bare_newline_enable", PARAM_BOOL, "no", 0, 0,
	  "Run postscreen's bare newline test (a command line ending in "
	  "LF alone) in its own SMTP engine." },
	{ "postscreen_bare_newline_ttl", PARAM_TIME, "30d", 1, LLONG_MAX,
	  "How long a passed bare newline test stays valid in "
	  "postscreen's cache." },
	{ "postscreen_blacklist_action", PARAM_STR, "ignore", 0, 0,
	  "Old name of postscreen_denylist_action (used with a warning "
	  "when the new name is not set)." },
	{ "postscreen_cache_cleanup_interval", PARAM_TIME, "12h", 0, 0,
	  "How often postscreen removes expired entries from its cache "
	  "(0: never)." },
	{ "postscreen_cache_map", PARAM_STR,
	  "btree:$data_directory/postscreen_cache", 0, 0,
	  "Table where postscreen keeps the test results of clients "
	  "(btree:, lmdb:, or proxy: through proxywrite); empty: no "
	  "cache." },
	{ "postscreen_cache_retention_time", PARAM_TIME, "7d", 0, 0,
	  "How long postscreen keeps a cache entry after all of its "
	  "tests expired." },
	{ "postscreen_client_connection_count_limit", PARAM_INT,
	  "$smtpd_client_connection_count_limit", 0, 0,
	  "Connections one client (IPv6: one "
	  "postscreen_client_ipv6_prefix_length network) may have open "
	  "with postscreen; 0: no limit." },
	{ "postscreen_client_ipv6_prefix_length", PARAM_INT, "64", 0, 128,
	  "IPv6 prefix length under which postscreen counts a client's "
	  "connections." },
	{ "postscreen_command_count_limit", PARAM_INT, "20", 1, LLONG_MAX,
	  "Commands a client may send to postscreen's own SMTP engine "
	  "in one session." },
	{ "postscreen_command_time_limit", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time limit for one command line in postscreen's own SMTP "
	  "engine." },
	{ "postscreen_denylist_action", PARAM_STR, "ignore", 0, 0,
	  "What postscreen does with a client that "
	  "postscreen_access_list rejects: ignore, enforce or drop." },
	{ "postscreen_dnsbl_action", PARAM_STR, "ignore", 0, 0,
	  "What postscreen does with a client whose DNSBL score reaches "
	  "postscreen_dnsbl_threshold: ignore, enforce or drop." },
	{ "postscreen_dnsbl_allowlist_threshold", PARAM_INT, "0", 0, 0,
	  "A negative DNSBL score at or below which postscreen skips "
	  "its other tests (PASS NEW at once); 0: off." },
	{ "postscreen_dnsbl_reply_map", PARAM_STR, "", 0, 0,
	  "Table from a postscreen_dnsbl_sites domain (which may hold a "
	  "secret) to the name that postscreen's rejection shows instead." },
	{ "postscreen_dnsbl_sites", PARAM_STR, "", 0, 0,
	  "DNS allow/denylist domains that postscreen asks about each client, "
	  "as domain[=filter][*weight] entries." },
	{ "postscreen_dnsbl_threshold", PARAM_INT, "1", 0, 0,
	  "DNSBL score at which postscreen counts a client as listed." },
	{ "postscreen_dnsbl_timeout", PARAM_TIME, "10s", 1, 3600,
	  "How long postscreen waits for the dnsblog replies of one client; "
	  "replies still missing then count 0." },
	{ "postscreen_dnsbl_ttl", PARAM_TIME, "1h", 1, LLONG_MAX,
	  "How long a passed DNSBL test stays valid in postscreen's "
	  "cache (Postfix 2.8 to 3.0 semantics: dnsblog reports no "
	  "TTL)." },
	{ "postscreen_dnsbl_whitelist_threshold", PARAM_INT, "0", 0, 0,
	  "Old name of postscreen_dnsbl_allowlist_threshold (used with "
	  "a warning when the new name is not set)." },
	{ "postscreen_forbidden_commands", PARAM_STR, "CONNECT GET POST", 0, 0,
	  "Commands that fail postscreen's non-SMTP command test "
	  "(besides header-like lines such as \"Host:\")." },
	{ "postscreen_greet_action", PARAM_STR, "ignore", 0, 0,
	  "What postscreen does with a client that talks before its "
	  "turn: ignore, enforce or drop." },
	{ "postscreen_greet_banner", PARAM_STR, "$smtpd_banner", 0, 0,
	  "Text of the first half of the greeting (220-TEXT) that "
	  "postscreen sends before its greet wait; empty: none." },
	{ "postscreen_greet_ttl", PARAM_TIME, "1d", 1, LLONG_MAX,
	  "How long a passed pregreet test stays valid in postscreen's "
	  "cache." },
	{ "postscreen_greet_wait", PARAM_TIME, "6s", 1, LLONG_MAX,
	  "How long postscreen waits for a client to talk out of turn "
	  "before it lets it pass the pregreet test." },
	{ "postscreen_non_smtp_command_action", PARAM_STR, "drop", 0, 0,
	  "What postscreen does with a client that sends a non-SMTP "
	  "command: ignore, enforce or drop." },
	{ "postscreen_non_smtp_command_enable", PARAM_BOOL, "no", 0, 0,
	  "Run postscreen's non-SMTP command test "
	  "(postscreen_forbidden_commands, header-like lines)." },
	{ "postscreen_non_smtp_command_ttl", PARAM_TIME, "30d", 1, LLONG_MAX,
	  "How long a passed non-SMTP command test stays valid in "
	  "postscreen's cache." },
	{ "postscreen_pipelining_action", PARAM_STR, "enforce", 0, 0,
	  "What postscreen does with a client that pipelines without "
	  "permission: ignore, enforce or drop." },
	{ "postscreen_pipelining_enable", PARAM_BOOL, "no", 0, 0,
	  "Run postscreen's pipelining test (a client sends more "
	  "commands before a reply; PIPELINING is not announced)." },
	{ "postscreen_pipelining_ttl", PARAM_TIME, "30d", 1, LLONG_MAX,
	  "How long a passed pipelining test stays valid in "
	  "postscreen's cache." },
	{ "postscreen_post_queue_limit", PARAM_INT, "$default_process_limit", 1,
	  LLONG_MAX,
	  "Clients postscreen may hold while they wait to be handed to "
	  "a busy smtpd; more get 421." },
	{ "postscreen_pre_queue_limit", PARAM_INT, "$default_process_limit", 1,
	  LLONG_MAX,
	  "Clients postscreen may test at the same time; more get 421." },
	{ "postscreen_upstream_proxy_protocol", PARAM_STR, "", 0, 0,
	  "The protocol of a proxy in front of postscreen that names the "
	  "client: empty (none) or haproxy (PROXY protocol v1 and v2)." },
	{ "postscreen_upstream_proxy_timeout", PARAM_TIME, "5s", 1, 3600,
	  "Time limit for postscreen to receive the proxy header "
	  "(postscreen_upstream_proxy_protocol)." },
	{ "postscreen_whitelist_interfaces", PARAM_STR, "static:all", 0, 0,
	  "Old name of postscreen_allowlist_interfaces (used with a "
	  "warning when the new name is not set)." },
	{ "process_id_directory", PARAM_STR, "pid", 0, 0,
	  "Folder under queue_directory holding pid files." },
	{ "propagate_unmatched_extensions", PARAM_STR, "canonical, virtual", 0,
	  0,
	  "Rewrites that keep an address extension when the table matched "
	  "the bare address." },
	{ "proxy_interfaces", PARAM_STR, "", 0, 0,
	  "Addresses of a proxy or NAT through which this host receives "
	  "mail." },
	{ "proxy_read_maps", PARAM_STR,
	  "$local_recipient_maps $mydestination $virtual_alias_maps "
	  "$virtual_alias_domains $virtual_mailbox_maps "
	  "$virtual_mailbox_domains $relay_recipient_maps "
	  "$relay_domains $canonical_maps $sender_canonical_maps "
	  "$recipient_canonical_maps $relocated_maps "
	  "$transport_maps $mynetworks $smtpd_sender_login_maps "
	  "$sender_bcc_maps $recipient_bcc_maps $smtp_generic_maps "
	  "$alias_maps $smtpd_client_restrictions "
	  "$smtpd_helo_restrictions $smtpd_sender_restrictions "
	  "$smtpd_relay_restrictions $smtpd_recipient_restrictions "
	  "$sender_dependent_relayhost_maps "
	  "$smtp_sasl_password_maps $smtp_tls_policy_maps "
	  "$virtual_uid_maps $virtual_gid_maps",
	  0, 0,
	  "Tables that proxymap may open for read-only lookups: only the "
	  "proxy:type:name entries listed here." },
	{ "proxy_write_maps", PARAM_STR, "", 0, 0,
	  "Tables that the proxywrite service may open for reading and "
	  "updating: only the proxy:type:name entries listed here.  Postfix "
	  "lists its caches; Postel updates none of them yet." },
	{ "proxymap_service_name", PARAM_STR, "proxymap", 0, 0,
	  "Name of the proxymap service in master.cf." },
	{ "proxywrite_service_name", PARAM_STR, "proxywrite", 0, 0,
	  "Name of the proxywrite service in master.cf (proxymap run for "
	  "table updates)." },
	{ "qmgr_message_active_limit", PARAM_INT, "20000", 1, LLONG_MAX,
	  "Messages qmgr holds in the active queue." },
	{ "qmgr_message_recipient_limit", PARAM_INT, "20000", 1, LLONG_MAX,
	  "Recipients qmgr holds in memory." },
	{ "qmgr_service_name", PARAM_STR, "qmgr", 0, 0,
	  "Name of the queue manager service in master.cf." },
	{ "queue_directory", PARAM_STR, "/var/spool/postel", 0, 0,
	  "Root of the mail queue." },
	{ "queue_minfree", PARAM_SIZE, "0", 0, 0,
	  "Free space required in the queue file system before mail is "
	  "accepted, in bytes (at least 1.5 * message_size_limit)." },
	{ "queue_run_delay", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time between deferred queue scans." },
	{ "receive_override_options", PARAM_STR, "", 0, 0,
	  "Turn off no_unknown_recipient_checks, no_header_body_checks, "
	  "no_milters, no_address_mappings for mail received (smtpd, "
	  "pickup)." },
	{ "recipient_bcc_maps", PARAM_STR, "", 0, 0,
	  "Tables mapping a recipient (before virtual aliasing) to blind "
	  "copy addresses (NOTIFY=NEVER)." },
	{ "recipient_canonical_classes", PARAM_STR,
	  "envelope_recipient, header_recipient", 0, 0,
	  "Which addresses recipient_canonical_maps rewrites: "
	  "envelope_recipient, header_recipient." },
	{ "recipient_canonical_maps", PARAM_STR, "", 0, 0,
	  "Tables that rewrite recipient addresses." },
	{ "recipient_delimiter", PARAM_STR, "", 0, 0,
	  "Characters that separate a user name from an address extension." },
	{ "reject_code", PARAM_INT, "554", 400, 599,
	  "SMTP reply code of the REJECT restriction." },
	{ "relay_domains", PARAM_STR, "", 0, 0,
	  "Domains this host relays to (besides mydestination and virtual "
	  "domains)." },
	{ "relay_domains_reject_code", PARAM_INT, "554", 400, 599,
	  "SMTP reply code when relaying is refused." },
	{ "relay_recipient_maps", PARAM_STR, "", 0, 0,
	  "Tables of valid recipients in relay_domains." },
	{ "relay_transport", PARAM_STR, "relay", 0, 0,
	  "Transport for relay_domains." },
	{ "relayhost", PARAM_STR, "", 0, 0,
	  "Next hop for non-local mail; [host]:port skips the MX lookup; "
	  "empty: direct." },
	{ "relocated_maps", PARAM_STR, "", 0, 0,
	  "Tables of users who moved, with their new address." },
	{ "sender_bcc_maps", PARAM_STR, "", 0, 0,
	  "Tables mapping the envelope sender to blind copy addresses "
	  "(NOTIFY=NEVER)." },
	{ "sender_canonical_classes", PARAM_STR,
	  "envelope_sender, header_sender", 0, 0,
	  "Which addresses sender_canonical_maps rewrites: envelope_sender, "
	  "header_sender." },
	{ "sender_canonical_maps", PARAM_STR, "", 0, 0,
	  "Tables that rewrite sender addresses." },
	{ "sender_dependent_relayhost_maps", PARAM_STR, "", 0, 0,
	  "Tables choosing a relayhost per sender." },
	{ "service_throttle_time", PARAM_TIME, "60s", 1, LLONG_MAX,
	  "How long master waits before restarting a service that crashed "
	  "on start." },
	{ "setgid_group", PARAM_STR, "postdrop", 0, 0,
	  "Group of postdrop and postelqueue, allowed to write the "
	  "maildrop." },
	{ "smtp_address_preference", PARAM_STR, "any", 0, 0,
	  "Address family preferred by the SMTP client: any, ipv4, ipv6." },
	{ "smtp_always_send_ehlo", PARAM_BOOL, "yes", 0, 0,
	  "Always greet with EHLO." },
	{ "smtp_bind_address", PARAM_STR, "", 0, 0,
	  "Local IPv4 address of outgoing SMTP connections." },
	{ "smtp_bind_address6", PARAM_STR, "", 0, 0,
	  "Local IPv6 address of outgoing SMTP connections." },
	{ "smtp_connect_timeout", PARAM_TIME, "30s", 0, 0,
	  "Time limit to open an outgoing SMTP connection." },
	{ "smtp_connection_cache_time_limit", PARAM_TIME, "2s", 0, LLONG_MAX,
	  "How long an idle SMTP client session is kept open for the next "
	  "delivery to the same destination." },
	{ "smtp_connection_reuse_time_limit", PARAM_TIME, "300s", 0, LLONG_MAX,
	  "How long after it was opened an SMTP client session may still "
	  "be reused." },
	{ "smtp_data_done_timeout", PARAM_TIME, "600s", 1, LLONG_MAX,
	  "Time limit for the reply to the end of DATA." },
	{ "smtp_data_init_timeout", PARAM_TIME, "120s", 1, LLONG_MAX,
	  "Time limit for the reply to DATA." },
	{ "smtp_data_xfer_timeout", PARAM_TIME, "180s", 1, LLONG_MAX,
	  "Time limit for sending one chunk of message content." },
	{ "smtp_destination_concurrency_limit", PARAM_INT,
	  "$default_destination_concurrency_limit", 1, 10000,
	  "Parallel SMTP deliveries to one destination." },
	{ "smtp_destination_recipient_limit", PARAM_INT,
	  "$default_destination_recipient_limit", 1, 100000,
	  "Recipients per SMTP delivery." },
	{ "smtp_enforce_tls", PARAM_BOOL, "no", 0, 0,
	  "Obsolete: when smtp_tls_security_level is empty, yes means verify "
	  "(encrypt with smtp_tls_enforce_peername = no)." },
	{ "smtp_generic_maps", PARAM_STR, "", 0, 0,
	  "Tables that rewrite addresses in outgoing SMTP mail." },
	{ "smtp_helo_name", PARAM_STR, "$myhostname", 0, 0,
	  "Name sent in EHLO/HELO." },
	{ "smtp_helo_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time limit for the server greeting and the EHLO reply." },
	{ "smtp_host_lookup", PARAM_STR, "dns", 0, 0,
	  "How the SMTP client finds hosts: dns, native." },
	{ "smtp_line_length_limit", PARAM_INT, "998", 0, 0,
	  "Longest line sent to a server before it is folded (0 = none)." },
	{ "smtp_mail_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time limit for the reply to MAIL FROM." },
	{ "smtp_mta_sts_CAfile", PARAM_STR, "", 0, 0,
	  "Postel: CA certificates (PEM file) that MTA-STS policy fetches "
	  "trust; empty: the system's store." },
	{ "smtp_mta_sts_CApath", PARAM_STR, "", 0, 0,
	  "Postel: folder of hashed CA certificates that MTA-STS policy "
	  "fetches trust; empty: the system's store." },
	{ "smtp_mta_sts_cache_map", PARAM_STR,
	  "btree:$data_directory/mta_sts_cache", 0, 0,
	  "Postel: where mtasts(8) keeps the MTA-STS policies it fetched "
	  "(a writable btree:, hash: or lmdb: table)." },
	{ "smtp_mta_sts_enable", PARAM_BOOL, "yes", 0, 0,
	  "Postel: apply the MTA-STS policies (RFC 8461) of next-hop "
	  "domains that have no usable DANE policy." },
	{ "smtp_mta_sts_fetch_timeout", PARAM_TIME, "10s", 1, 300,
	  "Postel: time limit for one MTA-STS policy fetch over HTTPS "
	  "(connection and transfer)." },
	{ "smtp_mx_address_limit", PARAM_INT, "5", 0, 0,
	  "Addresses tried per delivery across all MX hosts (0 = none)." },
	{ "smtp_mx_session_limit", PARAM_INT, "2", 0, 0,
	  "SMTP sessions tried per delivery (0 = none)." },
	{ "smtp_never_send_ehlo", PARAM_BOOL, "no", 0, 0,
	  "Greet with HELO only." },
	{ "smtp_quit_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time limit for the reply to QUIT." },
	{ "smtp_rcpt_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time limit for the reply to RCPT TO." },
	{ "smtp_sasl_auth_enable", PARAM_BOOL, "no", 0, 0,
	  "Authenticate the SMTP client to servers with SASL." },
	{ "smtp_sasl_mechanism_filter", PARAM_STR, "", 0, 0,
	  "SASL mechanisms the SMTP client may use." },
	{ "smtp_sasl_password_maps", PARAM_STR, "", 0, 0,
	  "Tables with username:password per server or per sender." },
	{ "smtp_sasl_security_options", PARAM_STR, "noplaintext, noanonymous",
	  0, 0, "SASL mechanism properties the SMTP client refuses." },
	{ "smtp_sasl_tls_security_options", PARAM_STR,
	  "$smtp_sasl_security_options", 0, 0, "The same, inside TLS." },
	{ "smtp_sasl_type", PARAM_STR, "cyrus", 0, 0,
	  "SASL implementation of the SMTP client." },
	{ "smtp_send_xforward_command", PARAM_BOOL, "no", 0, 0,
	  "Send XFORWARD with the original client's attributes when the "
	  "server offers it." },
	{ "smtp_skip_5xx_greeting", PARAM_BOOL, "yes", 0, 0,
	  "Try the next MX host when a server greets with 5xx." },
	{ "smtp_tls_CAfile", PARAM_STR, "", 0, 0,
	  "File of trusted CA certificates for the SMTP client." },
	{ "smtp_tls_CApath", PARAM_STR, "", 0, 0,
	  "Folder of trusted CA certificates for the SMTP client." },
	{ "smtp_tls_cert_file", PARAM_STR, "", 0, 0,
	  "Client certificate (PEM) of the SMTP client." },
	{ "smtp_tls_ciphers", PARAM_STR, "medium", 0, 0,
	  "Cipher grade for opportunistic TLS in the SMTP client." },
	{ "smtp_tls_enforce_peername", PARAM_BOOL, "yes", 0, 0,
	  "Obsolete: with smtp_enforce_tls = yes, no selects encrypt "
	  "instead of verify." },
	{ "smtp_tls_key_file", PARAM_STR, "$smtp_tls_cert_file", 0, 0,
	  "Private key of the SMTP client certificate." },
	{ "smtp_tls_loglevel", PARAM_INT, "0", 0, 4,
	  "TLS logging detail of the SMTP client." },
	{ "smtp_tls_mandatory_ciphers", PARAM_STR, "medium", 0, 0,
	  "Cipher grade for mandatory TLS in the SMTP client." },
	{ "smtp_tls_mandatory_protocols", PARAM_STR, ">=TLSv1", 0, 0,
	  "TLS versions for mandatory TLS in the SMTP client." },
	{ "smtp_tls_note_starttls_offer", PARAM_BOOL, "no", 0, 0,
	  "Log servers that offer STARTTLS while TLS is not used with them." },
	{ "smtp_tls_policy_maps", PARAM_STR, "", 0, 0,
	  "Tables with a TLS policy per next-hop destination." },
	{ "smtp_tls_protocols", PARAM_STR, ">=TLSv1", 0, 0,
	  "TLS versions for opportunistic TLS in the SMTP client." },
	{ "smtp_tls_report_CAfile", PARAM_STR, "", 0, 0,
	  "Postel: trust anchors (PEM file) for the certificates of https: "
	  "TLS-RPT report receivers; empty: the system's store." },
	{ "smtp_tls_report_contact", PARAM_STR, "postmaster@$mydomain", 0, 0,
	  "Postel: the contact-info of the TLS-RPT reports (RFC 8460)." },
	{ "smtp_tls_report_enable", PARAM_BOOL, "no", 0, 0,
	  "Postel: record TLS session outcomes and send daily TLS-RPT "
	  "reports (RFC 8460) through the tlsrpt service." },
	{ "smtp_tls_report_organization", PARAM_STR, "$myhostname", 0, 0,
	  "Postel: the organization-name of the TLS-RPT reports." },
	{ "smtp_tls_report_sender", PARAM_STR, "postmaster@$mydomain", 0, 0,
	  "Postel: envelope sender and From: of mailed TLS-RPT reports "
	  "(DKIM-signed by cleanup for its domain when configured)." },
	{ "smtp_tls_report_submitter", PARAM_STR, "$myhostname", 0, 0,
	  "Postel: the TLS-Report-Submitter of the TLS-RPT reports: the "
	  "domain name of the reporting MTA." },
	{ "smtp_tls_security_level", PARAM_STR, "", 0, 0,
	  "Default TLS level of the SMTP client: none, may, encrypt, dane, "
	  "verify, secure (empty: none)." },
	{ "smtp_tls_servername", PARAM_STR, "", 0, 0,
	  "SNI name sent to servers: empty (none), hostname, nexthop or a "
	  "fixed name." },
	{ "smtp_tls_session_cache_timeout", PARAM_TIME, "3600s", 0, 8640000,
	  "Lifetime of cached TLS sessions of the SMTP client." },
	{ "smtp_tls_wrappermode", PARAM_BOOL, "no", 0, 0,
	  "Use implicit TLS (port 465 style) to servers instead of "
	  "STARTTLS." },
	{ "smtp_use_tls", PARAM_BOOL, "no", 0, 0,
	  "Obsolete: when smtp_tls_security_level is empty, yes means may." },
	{ "smtpd_authorized_xforward_hosts", PARAM_STR, "", 0, 0,
	  "Clients (address list) that may use XFORWARD; empty: none." },
	{ "smtpd_banner", PARAM_STR, "$myhostname ESMTP $mail_name", 0, 0,
	  "Text after the 220 code of the SMTP greeting." },
	{ "smtpd_client_auth_rate_limit", PARAM_INT, "0", 0, LLONG_MAX,
	  "AUTH commands one client may send per anvil_rate_time_unit "
	  "(0: no limit)." },
	{ "smtpd_client_connection_count_limit", PARAM_INT, "50", 0, LLONG_MAX,
	  "Connections one client may hold open at once to this service "
	  "(0: no limit)." },
	{ "smtpd_client_connection_rate_limit", PARAM_INT, "0", 0, LLONG_MAX,
	  "Connections one client may make per anvil_rate_time_unit "
	  "(0: no limit)." },
	{ "smtpd_client_event_limit_exceptions", PARAM_STR, "$mynetworks", 0, 0,
	  "Clients (address list) exempt from the smtpd_client_*_limit "
	  "connection and rate limits." },
	{ "smtpd_client_ipv6_prefix_length", PARAM_INT, "84", 0, 128,
	  "IPv6 clients are counted per network of this prefix length by "
	  "the smtpd_client_*_limit limits." },
	{ "smtpd_client_message_rate_limit", PARAM_INT, "0", 0, LLONG_MAX,
	  "MAIL FROM commands one client may send per anvil_rate_time_unit "
	  "(0: no limit)." },
	{ "smtpd_client_new_tls_session_rate_limit", PARAM_INT, "0", 0,
	  LLONG_MAX,
	  "New TLS sessions (STARTTLS) one client may start per "
	  "anvil_rate_time_unit (0: no limit)." },
	{ "smtpd_client_recipient_rate_limit", PARAM_INT, "0", 0, LLONG_MAX,
	  "RCPT TO commands one client may send per anvil_rate_time_unit "
	  "(0: no limit)." },
	{ "smtpd_client_restrictions", PARAM_STR, "", 0, 0,
	  "Checks applied to the client address and name." },
	{ "smtpd_data_restrictions", PARAM_STR, "", 0, 0,
	  "Checks applied at the DATA command." },
	{ "smtpd_delay_reject", PARAM_BOOL, "yes", 0, 0,
	  "Wait until RCPT TO before rejecting client, HELO and sender "
	  "checks." },
	{ "smtpd_discard_ehlo_keywords", PARAM_STR, "", 0, 0,
	  "EHLO keywords the SMTP server does not announce." },
	{ "smtpd_end_of_data_restrictions", PARAM_STR, "", 0, 0,
	  "Checks applied after the message content." },
	{ "smtpd_enforce_tls", PARAM_BOOL, "no", 0, 0,
	  "Obsolete: when smtpd_tls_security_level is empty, yes means "
	  "encrypt." },
	{ "smtpd_error_sleep_time", PARAM_TIME, "1s", 0, 60,
	  "Delay before every reply once the client has made "
	  "smtpd_soft_error_limit errors." },
	{ "smtpd_etrn_restrictions", PARAM_STR, "", 0, 0,
	  "Checks applied to the ETRN command." },
	{ "smtpd_forbid_bare_newline", PARAM_STR, "normalize", 0, 0,
	  "Postel: what to do with a bare LF or CR in DATA: normalize (to "
	  "CRLF) or reject (550 5.5.2)." },
	{ "smtpd_forbid_bare_newline_exclusions", PARAM_STR, "$mynetworks", 0,
	  0, "Clients whose bare newlines are normalized, never rejected." },
	{ "smtpd_forbid_unauth_pipelining", PARAM_BOOL, "yes", 0, 0,
	  "Disconnect clients that pipeline commands they may not pipeline." },
	{ "smtpd_hard_error_limit", PARAM_INT, "20", 1, LLONG_MAX,
	  "Errors (without delivering mail) after which the SMTP server "
	  "answers 421 and disconnects." },
	{ "smtpd_helo_required", PARAM_BOOL, "no", 0, 0,
	  "Require HELO or EHLO before MAIL FROM." },
	{ "smtpd_helo_restrictions", PARAM_STR, "", 0, 0,
	  "Checks applied to the HELO/EHLO name." },
	{ "smtpd_junk_command_limit", PARAM_INT, "100", 1, LLONG_MAX,
	  "HELO, EHLO, NOOP, VRFY, ETRN and RSET commands allowed (plus "
	  "one, as in Postfix) before each further one counts as an "
	  "error." },
	{ "smtpd_mail_auth_role", PARAM_STR, "auto", 0, 0,
	  "Postel: which mail authentication a message from this SMTP "
	  "server gets: auto (outbound, DKIM-signed, for SASL-authenticated "
	  "and $mynetworks clients; inbound, checked with SPF, DKIM and "
	  "DMARC, for all others), outbound, inbound, both, none." },
	{ "smtpd_milters", PARAM_STR, "", 0, 0,
	  "Milters (inet:host:port, unix:path or { name, setting=value, ... }) that smtpd runs on mail received over SMTP, command by command; cleanup runs their content stages." },
	{ "smtpd_null_access_lookup_key", PARAM_STR, "<>", 0, 0,
	  "Key used for the null sender in access tables." },
	{ "smtpd_peername_lookup", PARAM_BOOL, "yes", 0, 0,
	  "Look up the client's host name." },
	{ "smtpd_policy_service_default_action", PARAM_STR,
	  "451 4.3.5 Server configuration problem", 0, 0,
	  "Action (access(5) syntax) when a policy server gives no usable "
	  "reply after smtpd_policy_service_try_limit tries." },
	{ "smtpd_policy_service_max_idle", PARAM_TIME, "300s", 1, 86400,
	  "Idle time after which smtpd closes a policy server connection." },
	{ "smtpd_policy_service_max_ttl", PARAM_TIME, "1000s", 1, 86400,
	  "Age after which smtpd closes a policy server connection." },
	{ "smtpd_policy_service_policy_context", PARAM_STR, "", 0, 0,
	  "Text sent to policy servers as policy_context=." },
	{ "smtpd_policy_service_request_limit", PARAM_INT, "0", 0, LLONG_MAX,
	  "Requests per policy server connection before smtpd closes it "
	  "(0: no limit)." },
	{ "smtpd_policy_service_retry_delay", PARAM_TIME, "1s", 0, 3600,
	  "Wait between two tries of one policy request." },
	{ "smtpd_policy_service_timeout", PARAM_TIME, "100s", 1, 86400,
	  "Time limit for connecting to, writing to and reading from a "
	  "policy server." },
	{ "smtpd_policy_service_try_limit", PARAM_INT, "2", 1, 10,
	  "Tries of one policy request before the default action." },
	{ "smtpd_recipient_limit", PARAM_INT, "1000", 1, LLONG_MAX,
	  "Recipients accepted per message." },
	{ "smtpd_recipient_restrictions", PARAM_STR, "", 0, 0,
	  "Checks applied to RCPT TO, after smtpd_relay_restrictions." },
	{ "smtpd_reject_footer", PARAM_STR, "", 0, 0,
	  "Text appended to every 4xx/5xx reply." },
	{ "smtpd_reject_unlisted_recipient", PARAM_BOOL, "yes", 0, 0,
	  "Reject recipients of local, virtual and relay domains not listed"
	  " in their tables." },
	{ "smtpd_reject_unlisted_sender", PARAM_BOOL, "no", 0, 0,
	  "Reject senders of our own domains that are not valid recipients." },
	{ "smtpd_relay_restrictions", PARAM_STR,
	  "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
	  0, 0,
	  "Relay checks applied to RCPT TO, before "
	  "smtpd_recipient_restrictions." },
	{ "smtpd_sasl_auth_enable", PARAM_BOOL, "no", 0, 0,
	  "Offer SASL AUTH to SMTP clients." },
	{ "smtpd_sasl_auth_failure_limit", PARAM_INT, "3", 1, LLONG_MAX,
	  "Postel: failed AUTH commands after which the SMTP server ends "
	  "the session with 421." },
	{ "smtpd_sasl_authenticated_header", PARAM_BOOL, "no", 0, 0,
	  "Record the SASL login name in the Received: header." },
	{ "smtpd_sasl_exceptions_networks", PARAM_STR, "", 0, 0,
	  "Clients that are not offered AUTH." },
	{ "smtpd_sasl_local_domain", PARAM_STR, "", 0, 0,
	  "Realm appended to SASL user names." },
	{ "smtpd_sasl_path", PARAM_STR, "smtpd", 0, 0,
	  "Cyrus: SASL application name (selects smtpd.conf); Dovecot: "
	  "the auth socket, relative to queue_directory, or "
	  "inet:host:port." },
	{ "smtpd_sasl_security_options", PARAM_STR, "noanonymous", 0, 0,
	  "SASL mechanism properties the SMTP server refuses." },
	{ "smtpd_sasl_service", PARAM_STR, "smtp", 0, 0,
	  "SASL service name of the SMTP server." },
	{ "smtpd_sasl_tls_security_options", PARAM_STR,
	  "$smtpd_sasl_security_options", 0, 0, "The same, inside TLS." },
	{ "smtpd_sasl_type", PARAM_STR, "cyrus", 0, 0,
	  "SASL implementation of the SMTP server: cyrus or dovecot." },
	{ "smtpd_sender_login_maps", PARAM_STR, "", 0, 0,
	  "Tables of the SASL logins that own each sender address." },
	{ "smtpd_sender_restrictions", PARAM_STR, "", 0, 0,
	  "Checks applied to MAIL FROM." },
	{ "smtpd_service_name", PARAM_STR, "smtpd", 0, 0,
	  "Name of the master.cf pass service where postscreen hands "
	  "clients to smtpd." },
	{ "smtpd_soft_error_limit", PARAM_INT, "10", 1, LLONG_MAX,
	  "Errors (without delivering mail) from which on every reply is "
	  "delayed by smtpd_error_sleep_time." },
	{ "smtpd_starttls_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time limit of the TLS handshake in the SMTP server." },
	{ "smtpd_timeout", PARAM_TIME, "300s", 1, LLONG_MAX,
	  "Time limit for a client command or data chunk." },
	{ "smtpd_tls_CAfile", PARAM_STR, "", 0, 0,
	  "File of CA certificates trusted for client certificates." },
	{ "smtpd_tls_CApath", PARAM_STR, "", 0, 0,
	  "Folder of CA certificates trusted for client certificates." },
	{ "smtpd_tls_ask_ccert", PARAM_BOOL, "no", 0, 0,
	  "Ask clients for a certificate." },
	{ "smtpd_tls_auth_only", PARAM_BOOL, "yes", 0, 0,
	  "Offer AUTH only inside TLS (Postel: default yes, DESIGN.md 5)." },
	{ "smtpd_tls_cert_file", PARAM_STR, "", 0, 0,
	  "Server certificate (PEM, chain after the leaf allowed)." },
	{ "smtpd_tls_chain_files", PARAM_STR, "", 0, 0,
	  "PEM files each holding a private key and its certificate chain "
	  "(takes precedence over cert_file/key_file)." },
	{ "smtpd_tls_ciphers", PARAM_STR, "medium", 0, 0,
	  "Cipher grade for opportunistic TLS in the SMTP server." },
	{ "smtpd_tls_exclude_ciphers", PARAM_STR, "", 0, 0,
	  "Ciphers removed from every grade in the SMTP server." },
	{ "smtpd_tls_fingerprint_digest", PARAM_STR, "sha256", 0, 0,
	  "Digest of the client certificate and public key fingerprints "
	  "sent to policy servers (md5, sha1, sha256, sha512, ...)." },
	{ "smtpd_tls_key_file", PARAM_STR, "$smtpd_tls_cert_file", 0, 0,
	  "Private key of the server certificate." },
	{ "smtpd_tls_loglevel", PARAM_INT, "0", 0, 4,
	  "TLS logging detail of the SMTP server." },
	{ "smtpd_tls_mandatory_ciphers", PARAM_STR, "medium", 0, 0,
	  "Cipher grade when TLS is mandatory in the SMTP server." },
	{ "smtpd_tls_mandatory_protocols", PARAM_STR, ">=TLSv1.2", 0, 0,
	  "TLS versions when TLS is mandatory in the SMTP server." },
	{ "smtpd_tls_protocols", PARAM_STR, ">=TLSv1.2", 0, 0,
	  "TLS versions for opportunistic TLS in the SMTP server." },
	{ "smtpd_tls_received_header", PARAM_BOOL, "no", 0, 0,
	  "Record TLS protocol and cipher in the Received: header." },
	{ "smtpd_tls_security_level", PARAM_STR, "", 0, 0,
	  "TLS level of the SMTP server: none, may, encrypt (empty: none)." },
	{ "smtpd_tls_session_cache_timeout", PARAM_TIME, "3600s", 0, 8640000,
	  "Lifetime of cached TLS sessions of the SMTP server." },
	{ "smtpd_tls_wrappermode", PARAM_BOOL, "no", 0, 0,
	  "Implicit TLS (port 465, usually set with -o in master.cf)." },
	{ "smtpd_upstream_proxy_protocol", PARAM_STR, "", 0, 0,
	  "The protocol of a proxy in front of smtpd that names the client: "
	  "empty (none) or haproxy (PROXY protocol v1 and v2); ignored "
	  "behind postscreen." },
	{ "smtpd_upstream_proxy_timeout", PARAM_TIME, "5s", 1, 3600,
	  "Time limit for smtpd to receive the proxy header "
	  "(smtpd_upstream_proxy_protocol)." },
	{ "smtpd_use_tls", PARAM_BOOL, "no", 0, 0,
	  "Obsolete: when smtpd_tls_security_level is empty, yes means may." },
	{ "socketmap_timeout", PARAM_TIME, "100s", 1, 86400,
	  "Postel: time limit of one socketmap: table lookup (connect, "
	  "request and reply), Postfix's fixed value by default." },
	{ "soft_bounce", PARAM_BOOL, "no", 0, 0,
	  "Turn every permanent failure into a temporary one (for testing)." },
	{ "spf_enable", PARAM_BOOL, "yes", 0, 0,
	  "Postel: check SPF (RFC 7208, libspf2) for inbound SMTP mail at "
	  "MAIL FROM and add a Received-SPF header; the reject_spf_* "
	  "restrictions act on the result." },
	{ "srs_domain", PARAM_STR, "", 0, 0,
	  "Postel: the domain of Sender Rewriting Scheme addresses (as "
	  "postsrsd's SRS_DOMAIN); empty: SRS is off." },
	{ "srs_exclude_domains", PARAM_STR, "", 0, 0,
	  "Postel: sender domains that forwarding never rewrites with SRS "
	  "(\"example.com\", or \".example.com\" for subdomains)." },
	{ "srs_hash_length", PARAM_INT, "4", 1, 27,
	  "Postel: characters of the SRS hash (postsrsd's default 4)." },
	{ "srs_max_age", PARAM_TIME, "21d", 86400, 8640000,
	  "Postel: how long an SRS address stays valid (whole days)." },
	{ "srs_secret_file", PARAM_STR, "", 0, 0,
	  "Postel: file of SRS secrets, one per line; the first signs, "
	  "every one verifies (as postsrsd's secret file)." },
	{ "strict_mailbox_ownership", PARAM_BOOL, "yes", 0, 0,
	  "Defer delivery to an existing mailbox file (local and virtual) "
	  "that is not owned by the recipient, with a warning." },
	{ "strict_rfc821_envelopes", PARAM_BOOL, "no", 0, 0,
	  "Require <> around MAIL FROM and RCPT TO addresses and nothing "
	  "else." },
	{ "swap_bangpath", PARAM_BOOL, "yes", 0, 0,
	  "Rewrite site!user into user@site (also site!user@"
	  "$mydestination)." },
	{ "syslog_facility", PARAM_STR, "mail", 0, 0,
	  "Syslog facility of log lines." },
	{ "syslog_name", PARAM_STR, "postel", 0, 0,
	  "Prefix of log lines, as in postel/smtpd[pid]." },
	{ "tls_server_sni_maps", PARAM_STR, "", 0, 0,
	  "Tables mapping the SNI name a client sends to the SMTP server's "
	  "keys and certificate chains (build with postelmap -F)." },
	{ "trace_service_name", PARAM_STR, "trace", 0, 0,
	  "Name of the trace service in master.cf." },
	{ "transport_maps", PARAM_STR, "", 0, 0,
	  "Tables mapping recipient domains or addresses to "
	  "transport:nexthop." },
	{ "transport_retry_time", PARAM_TIME, "60s", 1, LLONG_MAX,
	  "How often qmgr retries a transport that failed." },
	{ "trigger_timeout", PARAM_TIME, "10s", 1, LLONG_MAX,
	  "Time limit for sending a wake-up trigger." },
	{ "unknown_address_reject_code", PARAM_INT, "450", 400, 599,
	  "SMTP reply code for an unresolvable sender or recipient domain." },
	{ "unknown_client_reject_code", PARAM_INT, "450", 400, 599,
	  "SMTP reply code for clients without a valid name." },
	{ "unknown_hostname_reject_code", PARAM_INT, "450", 400, 599,
	  "SMTP reply code for HELO names without DNS records." },
	{ "unknown_local_recipient_reject_code", PARAM_INT, "550", 400, 599,
	  "SMTP reply code for unknown local recipients." },
	{ "unknown_relay_recipient_reject_code", PARAM_INT, "550", 400, 599,
	  "SMTP reply code for unknown relay recipients." },
	{ "unknown_virtual_alias_reject_code", PARAM_INT, "550", 400, 599,
	  "SMTP reply code for unknown virtual alias recipients." },
	{ "unknown_virtual_mailbox_reject_code", PARAM_INT, "550", 400, 599,
	  "SMTP reply code for unknown virtual mailbox recipients." },
	{ "virtual_alias_domains", PARAM_STR, "$virtual_alias_maps", 0, 0,
	  "Domains whose every address is an alias listed in "
	  "virtual_alias_maps." },
	{ "virtual_alias_expansion_limit", PARAM_INT, "1000", 1, LLONG_MAX,
	  "Most recipients one virtual alias expansion may produce." },
	{ "virtual_alias_maps", PARAM_STR, "", 0, 0,
	  "Tables that rewrite recipient addresses to other addresses." },
	{ "virtual_alias_recursion_limit", PARAM_INT, "1000", 1, LLONG_MAX,
	  "Deepest nesting of virtual alias expansion." },
	{ "virtual_gid_maps", PARAM_STR, "", 0, 0,
	  "Tables giving the group id of each virtual mailbox." },
	{ "virtual_mailbox_base", PARAM_STR, "", 0, 0,
	  "Folder prefixed to every virtual mailbox path." },
	{ "virtual_mailbox_domains", PARAM_STR, "$virtual_mailbox_maps", 0, 0,
	  "Domains delivered by virtual_transport." },
	{ "virtual_mailbox_limit", PARAM_SIZE, "51200000", 0, 0,
	  "Largest virtual mailbox file, in bytes (0 = none)." },
	{ "virtual_mailbox_maps", PARAM_STR, "", 0, 0,
	  "Tables of valid virtual mailbox addresses and their mailbox "
	  "paths." },
	{ "virtual_minimum_uid", PARAM_INT, "100", 1, LLONG_MAX,
	  "Lowest user id the virtual delivery agent accepts." },
	{ "virtual_transport", PARAM_STR, "virtual", 0, 0,
	  "Transport for virtual_mailbox_domains." },
	{ "virtual_uid_maps", PARAM_STR, "", 0, 0,
	  "Tables giving the user id of each virtual mailbox." },

};

#define PARAM_COUNT (sizeof(param_defs) / sizeof(param_defs[0]))

static int
param_compare(const void *key, const void *elem)
{
	const struct param_def *def = elem;

	return strcmp(key, def->name);
}

const struct param_def *
param_lookup(const char *name)
{
	if (name == NULL)
		return NULL;
	return bsearch(name, param_defs, PARAM_COUNT, sizeof(param_defs[0]),
		       param_compare);
}

const struct param_def *
param_table(size_t *count)
{
	*count = PARAM_COUNT;
	return param_defs;
}

const char *
param_type_name(enum param_type type)
{
	switch (type) {
	case PARAM_STR:
		return "string";
	case PARAM_INT:
		return "integer";
	case PARAM_BOOL:
		return "boolean";
	case PARAM_TIME:
		return "time";
	case PARAM_SIZE:
		return "size";
	}
	return "unknown";
}
