/*
 * sasl_proto - the SMTP AUTH wire format (RFC 4954), without a library.
 *
 * base64 (RFC 4648, strict: padding required, no white space, no bits
 * left over), the AUTH command's arguments and the client's response
 * lines ("*" cancels).  Everything the peer sends passes through here
 * before it reaches Cyrus, so this is what fuzz_sasl_auth exercises.
 *
 * Errors: 0 / -1 (why holds the reply text for the peer) or an enum.
 *
 * Ownership: callers own every VSTR; nothing is kept between calls.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/strutil.h"
#include "util/vstr.h"

static const char sasl_b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
sasl_proto_base64_encode(VSTR *out, const void *in, size_t len)
{
	const unsigned char *p = in;
	char		     quad[4];

	for (; len >= 3; p += 3, len -= 3) {
		quad[0] = sasl_b64_chars[p[0] >> 2];
		quad[1] = sasl_b64_chars[((p[0] & 3) << 4) | (p[1] >> 4)];
		quad[2] = sasl_b64_chars[((p[1] & 15) << 2) | (p[2] >> 6)];
		quad[3] = sasl_b64_chars[p[2] & 63];
		vstr_memcat(out, quad, 4);
	}
	if (len > 0) {
		quad[0] = sasl_b64_chars[p[0] >> 2];
		if (len == 1) {
			quad[1] = sasl_b64_chars[(p[0] & 3) << 4];
			quad[2] = '=';
		} else {
			quad[1] =
			    sasl_b64_chars[((p[0] & 3) << 4) | (p[1] >> 4)];
			quad[2] = sasl_b64_chars[(p[1] & 15) << 2];
		}
		quad[3] = '=';
		vstr_memcat(out, quad, 4);
	}
}

static int
sasl_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
sasl_proto_base64_decode(VSTR *out, const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;

	vstr_reset(out);
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int	      v[4];
		int	      pad = 0;
		bool	      last = i + 4 == len;
		unsigned char bytes[3];

		for (int k = 0; k < 4; k++) {
			if (p[i + k] == '=' && last && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			/* Data after padding, or padding too early. */
			if (pad > 0 || (v[k] = sasl_b64_value(p[i + k])) < 0)
				return -1;
		}
		/* The bits the padding hides must be zero (canonical). */
		if ((pad == 2 && (v[1] & 15) != 0)
		    || (pad == 1 && (v[2] & 3) != 0))
			return -1;
		bytes[0] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		bytes[1] = (unsigned char)(((v[1] & 15) << 4) | (v[2] >> 2));
		bytes[2] = (unsigned char)(((v[2] & 3) << 6) | v[3]);
		if (vstr_memcat(out, bytes, (size_t)(3 - pad)) < 0)
			return -1;
	}
	return 0;
}

int
sasl_proto_parse_auth(const char *args, VSTR *mech, VSTR *resp, bool *has_resp,
		      VSTR *why)
{
	const char *p = args;
	size_t	    mlen;

	vstr_reset(mech);
	vstr_reset(resp);
	*has_resp = false;
	while (*p == ' ')
		p++;
	/* RFC 4422 3.1: 1-20 of A-Z 0-9 - _ */
	for (mlen = 0; p[mlen] && p[mlen] != ' '; mlen++)
		if (!isalnum((unsigned char)p[mlen]) && p[mlen] != '-'
		    && p[mlen] != '_')
			break;
	if (mlen == 0 || mlen > 20 || (p[mlen] && p[mlen] != ' ')) {
		vstr_strcpy(why, "501 5.5.4 Syntax: AUTH mechanism");
		return -1;
	}
	vstr_memcpy(mech, p, mlen);
	for (char *c = VSTR_STR(mech); *c; c++)
		*c = (char)toupper((unsigned char)*c);
	p += mlen;
	while (*p == ' ')
		p++;
	if (*p == 0)
		return 0;
	*has_resp = true;
	if (strcmp(p, "=") == 0)
		return 0;
	if (strchr(p, ' ') != NULL
	    || sasl_proto_base64_decode(resp, p, strlen(p)) < 0) {
		vstr_reset(resp);
		*has_resp = false;
		vstr_strcpy(why, "501 5.5.2 Cannot decode AUTH parameter");
		return -1;
	}
	return 0;
}

enum sasl_proto_resp
sasl_proto_decode_response(const char *line, size_t len, VSTR *out)
{
	vstr_reset(out);
	if (len == 1 && line[0] == '*')
		return SASL_RESP_CANCEL;
	if (memchr(line, 0, len) != NULL
	    || sasl_proto_base64_decode(out, line, len) < 0) {
		vstr_reset(out);
		return SASL_RESP_BAD;
	}
	return SASL_RESP_OK;
}

int
sasl_proto_security_parse(const char *words, const struct sasl_sec_word *table,
			  size_t n, const char *context, unsigned *bits,
			  VSTR *why)
{
	char *copy = mystrdup(words);
	char *cp = copy;
	char *word;
	int   ret = 0;

	*bits = 0;
	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL) {
		size_t i;

		for (i = 0; i < n; i++)
			if (strcasecmp(word, table[i].name) == 0)
				break;
		if (i == n) {
			vstr_sprintf(why,
				     "unknown SASL security option \"%s\"%s",
				     word, context);
			ret = -1;
			break;
		}
		*bits |= table[i].bit;
	}
	myfree(copy);
	return ret;
}
