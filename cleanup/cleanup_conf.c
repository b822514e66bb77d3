/*
 * cleanup_conf - the parameters and tables cleanup reads.
 *
 * Loaded once, before the jail (table files may lie outside the chroot).
 * A table that cannot be opened is fatal: running without a configured
 * canonical or check table would silently change what mail looks like.
 *
 * Ownership: the CLEANUP_CONF is the caller's (cleanup_conf_free); its
 * strings are borrowed from the CFG, which must outlive it.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static DICT_LIST *
cleanup_open_maps(const CFG *cfg, const char *name)
{
	const char *spec = cfg_get_str(cfg, name);
	DICT_LIST  *l;
	VSTR	   *why;

	if (spec == NULL || spec[strspn(spec, " \t\r\n,")] == 0)
		return NULL;
	why = vstr_alloc(100);
	if ((l = dict_list_open(spec, DICT_FLAG_FOLD, why)) == NULL)
		msg_fatal("%s: %s", name, VSTR_STR(why));
	vstr_free(why);
	return l;
}

/* The default ($header_checks) shares the header_checks tables. */
static DICT_LIST *
cleanup_same_maps(const CFG *cfg, const char *name, DICT_LIST *header)
{
	const char *spec = cfg_get_str(cfg, name);
	const char *hspec = cfg_get_str(cfg, "header_checks");

	if (spec && hspec && strcmp(spec, hspec) == 0)
		return header;
	return cleanup_open_maps(cfg, name);
}

static int
cleanup_classes(const CFG *cfg, const char *name)
{
	VSTR *why = vstr_alloc(64);
	int   mask;

	if (cleanup_parse_classes(cfg_get_str(cfg, name), &mask, why) < 0)
		msg_fatal("%s: %s", name, VSTR_STR(why));
	vstr_free(why);
	return mask;
}

CLEANUP_CONF *
cleanup_conf_load(const CFG *cfg)
{
	CLEANUP_CONF *c = mycalloc(1, sizeof(*c));
	const char   *prop;

	c->myhostname = cfg_get_str(cfg, "myhostname");
	c->myorigin = cfg_get_str(cfg, "myorigin");
	c->mydomain = cfg_get_str(cfg, "mydomain");
	c->mydestination = cfg_get_str(cfg, "mydestination");
	c->masquerade_domains = cfg_get_str(cfg, "masquerade_domains");
	c->masquerade_exceptions = cfg_get_str(cfg, "masquerade_exceptions");
	c->allow_min_user = cfg_get_bool(cfg, "allow_min_user");
	c->append_at_myorigin = cfg_get_bool(cfg, "append_at_myorigin");
	c->append_dot_mydomain = cfg_get_bool(cfg, "append_dot_mydomain");
	c->swap_bangpath = cfg_get_bool(cfg, "swap_bangpath");
	c->allow_percent_hack = cfg_get_bool(cfg, "allow_percent_hack");
	c->always_add_missing_headers =
	    cfg_get_bool(cfg, "always_add_missing_headers");
	c->header_size_limit = cfg_get_size(cfg, "header_size_limit");
	c->hopcount_limit = cfg_get_int(cfg, "hopcount_limit");
	c->message_size_limit = cfg_get_size(cfg, "message_size_limit");
	c->body_checks_size_limit = cfg_get_size(cfg, "body_checks_size_limit");
	c->duplicate_filter_limit = cfg_get_int(cfg, "duplicate_filter_limit");
	c->virtual_alias_recursion_limit =
	    cfg_get_int(cfg, "virtual_alias_recursion_limit");
	c->virtual_alias_expansion_limit =
	    cfg_get_int(cfg, "virtual_alias_expansion_limit");
	c->qmgr_service = cfg_get_str(cfg, "qmgr_service_name");
	c->recipient_delimiter = cfg_get_str(cfg, "recipient_delimiter");
	prop = cfg_get_str(cfg, "propagate_unmatched_extensions");
	if (strstr(prop, "canonical"))
		c->propagate |= CLEANUP_PROPAGATE_CANONICAL;
	if (strstr(prop, "virtual"))
		c->propagate |= CLEANUP_PROPAGATE_VIRTUAL;
	c->canonical_classes = cleanup_classes(cfg, "canonical_classes");
	c->sender_canonical_classes =
	    cleanup_classes(cfg, "sender_canonical_classes");
	c->recipient_canonical_classes =
	    cleanup_classes(cfg, "recipient_canonical_classes");
	c->canonical = cleanup_open_maps(cfg, "canonical_maps");
	c->sender_canonical = cleanup_open_maps(cfg, "sender_canonical_maps");
	c->recipient_canonical = cleanup_open_maps(cfg,
						   "recipient_canonical_maps");
	c->virtual_alias = cleanup_open_maps(cfg, "virtual_alias_maps");
	c->header_checks = cleanup_open_maps(cfg, "header_checks");
	c->body_checks = cleanup_open_maps(cfg, "body_checks");
	c->mime_header_checks = cleanup_same_maps(cfg, "mime_header_checks",
						  c->header_checks);
	c->nested_header_checks = cleanup_same_maps(cfg, "nested_header_checks",
						    c->header_checks);
	c->mime_nesting_limit = cfg_get_int(cfg, "mime_nesting_limit");
	/*
	 * As Postfix: the structure matters only to the checks, and nesting
	 * is refused only when header checks are configured.
	 */
	c->mime_report_nesting = c->header_checks || c->mime_header_checks
				 || c->nested_header_checks;
	c->mime_scan = !cfg_get_bool(cfg, "disable_mime_input_processing")
		       && (c->mime_report_nesting || c->body_checks);
	c->always_bcc = cfg_get_str(cfg, "always_bcc");
	c->srs = srs_open(cfg); /* before the chroot: a root-only file */
	c->sender_bcc = cleanup_open_maps(cfg, "sender_bcc_maps");
	c->recipient_bcc = cleanup_open_maps(cfg, "recipient_bcc_maps");
	if (c->header_size_limit < 1)
		c->header_size_limit = 1;
	cleanup_authres_conf(c, cfg);
	cleanup_dkim_sign_load(c, cfg);
	c->milter_header_checks = cleanup_open_maps(cfg,
						    "milter_header_checks");
	cleanup_milter_conf(c, cfg);
	return c;
}

CLEANUP_CONF *
cleanup_conf_free(CLEANUP_CONF *c)
{
	if (c) {
		c->srs = srs_free(c->srs);
		dict_list_close(c->canonical);
		dict_list_close(c->sender_canonical);
		dict_list_close(c->recipient_canonical);
		dict_list_close(c->virtual_alias);
		if (c->mime_header_checks != c->header_checks)
			dict_list_close(c->mime_header_checks);
		if (c->nested_header_checks != c->header_checks)
			dict_list_close(c->nested_header_checks);
		dict_list_close(c->header_checks);
		dict_list_close(c->body_checks);
		dict_list_close(c->sender_bcc);
		dict_list_close(c->recipient_bcc);
		cleanup_authres_conf_free(c);
		cleanup_dkim_sign_free(c);
		dict_list_close(c->milter_header_checks);
		cleanup_milter_conf_free(c);
		myfree(c);
	}
	return NULL;
}
