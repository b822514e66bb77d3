/*
 * libFuzzer target for cleanup's header phase: arbitrary bytes as a
 * message header, run through util/header into cleanup_header_field with
 * recipient extraction and local header address rewriting (qualification
 * and a canonical table) switched on.  Nothing touches the disk.  The
 * rewritten header must stay within a sane bound of the input and every
 * extracted recipient must be non-empty.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup/cleanup.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static CLEANUP_CONF *conf;

static void
quiet(enum msg_level level, const char *text)
{
	(void)level;
	(void)text;
}

static void
fuzz_init(void)
{
	VSTR *why = vstr_alloc(10);

	msg_output_add(quiet);
	conf = mycalloc(1, sizeof(*conf));
	conf->myhostname = "mx.example.test";
	conf->myorigin = "example.test";
	conf->mydomain = "example.test";
	conf->mydestination = "mx.example.test";
	conf->masquerade_domains = "example.org";
	conf->masquerade_exceptions = "root";
	conf->append_at_myorigin = true;
	conf->canonical_classes = CLEANUP_CLASS_ALL;
	conf->sender_canonical_classes = CLEANUP_CLASS_ALL;
	conf->recipient_canonical_classes = CLEANUP_CLASS_ALL;
	conf->header_size_limit = 2048;
	conf->hopcount_limit = 50;
	conf->duplicate_filter_limit = 100;
	conf->virtual_alias_recursion_limit = 5;
	conf->virtual_alias_expansion_limit = 20;
	conf->qmgr_service = "qmgr";
	conf->canonical = dict_list_open("inline:{ a=b@x.test, "
					 "@example.net=@example.com }",
					 DICT_FLAG_FOLD, why);
	conf->virtual_alias = dict_list_open("inline:{ {l@example.test=a, b, "
					     "l@example.test} }",
					     DICT_FLAG_FOLD, why);
	if (conf->canonical == NULL || conf->virtual_alias == NULL)
		abort();
	vstr_free(why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CLEANUP_STATE *st;
	const char    *cp = (const char *)data, *nl;
	size_t	       left = size, len, i;

	if (conf == NULL)
		fuzz_init();
	st = cleanup_state_alloc(conf);
	st->env = attr_alloc();
	st->flags = CLEANUP_FLAG_EXTRACT;
	st->rewrite_local = true;
	vstr_strcpy(st->qid, "FUZZ");
	cleanup_header_begin(st);
	while (left > 0) {
		nl = memchr(cp, '\n', left);
		len = nl ? (size_t)(nl - cp) + 1 : left;
		if (header_parser_line(st->hp, cp, len) != HEADER_MORE)
			break;
		cp += len;
		left -= len;
	}
	(void)header_parser_eof(st->hp);
	/* qualification adds at most "@example.test" per address */
	if (VSTR_LEN(st->hdr_out) > 16 * size + 4096)
		abort();
	for (i = 0; i < st->nrcpt; i++)
		if (st->rcpts[i].addr[0] == 0)
			abort();
	cleanup_state_free(st);
	return 0;
}
