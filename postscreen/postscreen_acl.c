/*
 * postscreen_acl - postscreen_access_list, the permanent allow and deny
 * list: "permit_mynetworks" and type:table entries, tried in order.
 *
 * A table answers for the client's numeric address (cidr: tables are
 * meant for this) with "permit", "reject" or "dunno" (case-insensitive;
 * text after the word is ignored).  The first permit or reject decides.
 * A table that cannot be read, or an answer that is none of the three,
 * is logged and taken as dunno, as Postfix does.
 *
 * Errors: a word that is neither permit_mynetworks nor a table that
 * opens is a configuration error: fatal, naming the parameter.
 * Ownership: the PSC_ACL is the caller's (psc_acl_free returns NULL).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "postscreen/postscreen.h"
#include "util/dict.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/peer_list.h"
#include "util/strutil.h"

struct psc_acl_entry {
	char *mynetworks; /* permit_mynetworks: the networks */
	DICT *dict;	  /* else a table */
};

struct PSC_ACL {
	struct psc_acl_entry *entry;
	size_t		      count;
};

PSC_ACL *
psc_acl_open(const CFG *cfg, const char *list)
{
	PSC_ACL *acl = mycalloc(1, sizeof(*acl));
	char	*copy = mystrdup(list);
	char	*cp = copy;
	char	*word;
	VSTR	*why = vstr_alloc(100);

	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL) {
		struct psc_acl_entry e = { 0 };

		if (strcasecmp(word, "permit_mynetworks") == 0) {
			e.mynetworks = mystrdup(cfg_get_str(cfg, "mynetworks"));
		} else if (strchr(word, ':') != NULL) {
			if ((e.dict = dict_open(word, DICT_FLAG_FOLD, why))
			    == NULL)
				msg_fatal("postscreen_access_list: %s",
					  VSTR_STR(why));
		} else {
			msg_fatal("postscreen_access_list: unknown entry "
				  "\"%s\" (use permit_mynetworks or "
				  "type:table)",
				  word);
		}
		acl->entry = myrealloc_array(acl->entry, acl->count + 1,
					     sizeof(*acl->entry));
		acl->entry[acl->count++] = e;
	}
	myfree(copy);
	vstr_free(why);
	return acl;
}

PSC_ACL *
psc_acl_free(PSC_ACL *acl)
{
	size_t i;

	if (acl == NULL)
		return NULL;
	for (i = 0; i < acl->count; i++) {
		myfree(acl->entry[i].mynetworks);
		if (acl->entry[i].dict)
			dict_close(acl->entry[i].dict);
	}
	myfree(acl->entry);
	myfree(acl);
	return NULL;
}

/* The action word at the start of a table's answer. */
static enum psc_acl_result
psc_acl_word(const DICT *d, const char *addr, const char *value)
{
	size_t len = strcspn(value, " \t,");

	if (len == 6 && strncasecmp(value, "permit", 6) == 0)
		return PSC_ACL_PERMIT;
	if (len == 6 && strncasecmp(value, "reject", 6) == 0)
		return PSC_ACL_REJECT;
	if (len == 5 && strncasecmp(value, "dunno", 5) == 0)
		return PSC_ACL_DUNNO;
	msg_warn("%s: unknown action \"%.100s\" for %s: taken as dunno",
		 dict_spec(d), value, addr);
	return PSC_ACL_DUNNO;
}

enum psc_acl_result
psc_acl_eval(PSC_ACL *acl, const char *addr)
{
	enum psc_acl_result res;
	const char	   *value;
	size_t		    i;

	for (i = 0; acl != NULL && i < acl->count; i++) {
		struct psc_acl_entry *e = &acl->entry[i];

		if (e->mynetworks != NULL) {
			if (peer_list_match(e->mynetworks, NULL, addr, false))
				return PSC_ACL_PERMIT;
			continue;
		}
		if (dict_lookup(e->dict, addr, &value) != 1)
			continue;
		if ((res = psc_acl_word(e->dict, addr, value)) != PSC_ACL_DUNNO)
			return res;
	}
	return PSC_ACL_DUNNO;
}
