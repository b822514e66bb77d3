/*
 * postscreen_cache - postscreen's result cache.  See postscreen_cache.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "postscreen/postscreen_cache.h"
#include "util/dict.h"
#include "util/msg.h"
#include "util/mymalloc.h"

struct PSC_CACHE {
	DICT *dict;
	VSTR *buf;
};

void
psc_cache_parse(const char *value, time_t expire[PSC_TEST_COUNT])
{
	const char *cp = value;
	char	   *end;
	int	    i;

	for (i = 0; i < PSC_TEST_COUNT; i++) {
		long long v = 0;

		if (cp != NULL && *cp >= '0' && *cp <= '9') {
			errno = 0;
			v = strtoll(cp, &end, 10);
			if (errno != 0 || (*end != ';' && *end != 0))
				v = 0;
			cp = end;
		}
		expire[i] = (time_t)(v > 0 ? v : 0);
		if (cp != NULL)
			cp = strchr(cp, ';');
		if (cp != NULL)
			cp++;
	}
}

void
psc_cache_format(VSTR *out, const time_t expire[PSC_TEST_COUNT])
{
	int i;

	vstr_reset(out);
	for (i = 0; i < PSC_TEST_COUNT; i++)
		vstr_sprintf_append(out, "%s%lld", i ? ";" : "",
				    (long long)expire[i]);
}

PSC_CACHE *
psc_cache_open(const char *spec, VSTR *why)
{
	PSC_CACHE *c;
	DICT	  *d;
	int	   flags = DICT_FLAG_WRITE | DICT_FLAG_DUP_REPLACE;

	/* proxywrite passes the flags to its own table: keep them plain. */
	if (strncmp(spec, "proxy:", 6) != 0)
		flags |= DICT_FLAG_SYNC_UPDATE;
	if ((d = dict_open(spec, flags, why)) == NULL)
		return NULL;
	c = mymalloc(sizeof(*c));
	c->dict = d;
	c->buf = vstr_alloc(64);
	return c;
}

PSC_CACHE *
psc_cache_close(PSC_CACHE *c)
{
	if (c != NULL) {
		(void)dict_close(c->dict);
		vstr_free(c->buf);
		myfree(c);
	}
	return NULL;
}

const char *
psc_cache_spec(const PSC_CACHE *c)
{
	return dict_spec(c->dict);
}

bool
psc_cache_lookup(PSC_CACHE *c, const char *addr, time_t expire[PSC_TEST_COUNT])
{
	const char *value;

	if (dict_lookup(c->dict, addr, &value) != 1)
		return false;
	psc_cache_parse(value, expire);
	return true;
}

void
psc_cache_update(PSC_CACHE *c, const char *addr,
		 const time_t expire[PSC_TEST_COUNT])
{
	psc_cache_format(c->buf, expire);
	(void)dict_update(c->dict, addr, VSTR_STR(c->buf));
}

/* Does the entry still have a pass to remember at when? */
static bool
psc_cache_keep(const char *value, time_t when, unsigned enabled)
{
	time_t expire[PSC_TEST_COUNT];
	int    i;

	psc_cache_parse(value, expire);
	for (i = 0; i < PSC_TEST_COUNT; i++)
		if ((enabled & (1u << i)) && expire[i] <= when)
			return false;
	return true;
}

int
psc_cache_cleanup(PSC_CACHE *c, time_t now, time_t retention, unsigned enabled)
{
	const char *key;
	const char *value;
	char	  **drop = NULL;
	size_t	    ndrop = 0;
	size_t	    cap = 0;
	size_t	    kept = 0;
	size_t	    i;
	int	    ret;

	for (ret = dict_first(c->dict, &key, &value); ret == 1;
	     ret = dict_next(c->dict, &key, &value)) {
		if (psc_cache_keep(value, now - retention, enabled)) {
			kept++;
			continue;
		}
		if (ndrop == cap) {
			cap = cap ? cap * 2 : 16;
			drop = myrealloc_array(drop, cap, sizeof(*drop));
		}
		drop[ndrop++] = mystrdup(key);
	}
	for (i = 0; i < ndrop; i++) {
		if (ret == 0)
			(void)dict_delete(c->dict, drop[i]);
		myfree(drop[i]);
	}
	myfree(drop);
	if (ret < 0)
		return -1;
	msg_info("cache %s full cleanup: retained=%zu dropped=%zu entries",
		 dict_spec(c->dict), kept, ndrop);
	return 0;
}
