/*
 * tlsrpt - RFC 8460 record parsing and the small shared pieces of SMTP
 * TLS Reporting (see tlsrpt.h).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/mymalloc.h"
#include "util/tlsrpt.h"

#define TLSRPT_VERSION	    "v=TLSRPTv1"
#define TLSRPT_EXT_NAME_MAX 32

static const char *const tlsrpt_results[] = {
	"starttls-not-supported", "certificate-host-mismatch",
	"certificate-expired",	  "certificate-not-trusted",
	"validation-failure",	  "tlsa-invalid",
	"dnssec-invalid",	  "dane-required",
	"sts-policy-fetch-error", "sts-policy-invalid",
	"sts-webpki-invalid",	  NULL,
};

static const char *const tlsrpt_policy_types[] = {
	"tlsa",
	"sts",
	"no-policy-found",
	NULL,
};

static void
tlsrpt_why(VSTR *why, const char *text)
{
	if (why)
		vstr_strcpy(why, text);
}

static bool
tlsrpt_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool
tlsrpt_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	       || (c >= '0' && c <= '9');
}

bool
tlsrpt_txt_is_tlsrpt(const char *txt)
{
	size_t n = strlen(TLSRPT_VERSION);

	return strncmp(txt, TLSRPT_VERSION, n) == 0
	       && (txt[n] == 0 || txt[n] == ';' || tlsrpt_wsp(txt[n]));
}

void
tlsrpt_rua_reset(TLSRPT_RUA *rua)
{
	for (size_t i = 0; i < rua->count; i++)
		myfree(rua->uri[i]);
	rua->count = 0;
}

/* One URI of rua= (len bytes at p): checked, kept when mailto:/https:. */
static int
tlsrpt_add_uri(TLSRPT_RUA *rua, const char *p, size_t len, VSTR *why)
{
	if (len == 0) {
		tlsrpt_why(why, "empty URI in rua=");
		return -1;
	}
	if (len > TLSRPT_URI_MAX) {
		tlsrpt_why(why, "URI in rua= is too long");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		/* RFC 8460 3: "," and "!" must be percent-encoded. */
		if (c <= 0x20 || c >= 0x7f || c == '!') {
			tlsrpt_why(why, "bad character in a rua= URI");
			return -1;
		}
	}
	if (memchr(p, ':', len) == NULL) {
		tlsrpt_why(why, "rua= URI without a scheme");
		return -1;
	}
	if ((len > 7 && strncasecmp(p, "mailto:", 7) == 0)
	    || (len > 8 && strncasecmp(p, "https://", 8) == 0)) {
		if (rua->count < TLSRPT_RUA_MAX)
			rua->uri[rua->count++] = mystrndup(p, len);
	}
	return 0;
}

/* The value of rua= (len bytes at p). */
static int
tlsrpt_parse_rua(TLSRPT_RUA *rua, const char *p, size_t len, VSTR *why)
{
	const char *end = p + len;

	for (;;) {
		const char *start;
		const char *stop;

		while (p < end && tlsrpt_wsp(*p))
			p++;
		start = p;
		while (p < end && *p != ',')
			p++;
		stop = p;
		while (stop > start && tlsrpt_wsp(stop[-1]))
			stop--;
		if (tlsrpt_add_uri(rua, start, (size_t)(stop - start), why) < 0)
			return -1;
		if (p == end)
			return 0;
		p++; /* the comma */
	}
}

int
tlsrpt_txt_parse(const char *txt, TLSRPT_RUA *rua, VSTR *why)
{
	const char *p;
	bool	    seen_rua = false;

	rua->count = 0;
	if (!tlsrpt_txt_is_tlsrpt(txt)) {
		tlsrpt_why(why, "record does not start with v=TLSRPTv1");
		return -1;
	}
	if (strlen(txt) > TLSRPT_TXT_MAX) {
		tlsrpt_why(why, "record is too long");
		return -1;
	}
	p = txt + strlen(TLSRPT_VERSION);
	for (;;) {
		const char *name;
		const char *value;
		size_t	    nlen;
		size_t	    vlen;

		while (tlsrpt_wsp(*p))
			p++;
		if (*p == 0)
			break;
		if (*p != ';') {
			tlsrpt_why(why, "expected \";\" between fields");
			goto bad;
		}
		p++;
		while (tlsrpt_wsp(*p))
			p++;
		if (*p == 0)
			break; /* a final ";" */
		name = p;
		if (!tlsrpt_alnum(*p)) {
			tlsrpt_why(why, "bad field name");
			goto bad;
		}
		while (tlsrpt_alnum(*p) || *p == '_' || *p == '-' || *p == '.')
			p++;
		nlen = (size_t)(p - name);
		if (*p != '=' || nlen > TLSRPT_EXT_NAME_MAX) {
			tlsrpt_why(why, "bad field name");
			goto bad;
		}
		value = ++p;
		if (nlen == 3 && strncmp(name, "rua", 3) == 0) {
			if (seen_rua) {
				tlsrpt_why(why, "rua= appears twice");
				goto bad;
			}
			seen_rua = true;
			while (*p && *p != ';')
				p++;
			vlen = (size_t)(p - value);
			if (tlsrpt_parse_rua(rua, value, vlen, why) < 0)
				goto bad;
			continue;
		}
		/* An extension: 1*(%x21-3A / %x3C / %x3E-7E). */
		while ((unsigned char)*p >= 0x21 && (unsigned char)*p <= 0x7e
		       && *p != ';' && *p != '=')
			p++;
		if (p == value) {
			tlsrpt_why(why, "empty field value");
			goto bad;
		}
		if (*p == '=' || (*p && *p != ';' && !tlsrpt_wsp(*p))) {
			tlsrpt_why(why, "bad character in a field value");
			goto bad;
		}
	}
	if (!seen_rua) {
		tlsrpt_why(why, "no rua= field");
		goto bad;
	}
	if (rua->count == 0) {
		tlsrpt_why(why, "no mailto: or https: URI in rua=");
		goto bad;
	}
	return 0;
bad:
	tlsrpt_rua_reset(rua);
	return -1;
}

static int
tlsrpt_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
tlsrpt_mailto_addr(const char *uri, VSTR *addr, VSTR *why)
{
	const char *p;
	const char *at;
	size_t	    nat = 0;

	vstr_reset(addr);
	if (strncasecmp(uri, "mailto:", 7) != 0) {
		tlsrpt_why(why, "not a mailto: URI");
		return -1;
	}
	for (p = uri + 7; *p && *p != '?'; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi = tlsrpt_hex(p[1]);
			int lo = hi < 0 ? -1 : tlsrpt_hex(p[2]);

			if (lo < 0) {
				tlsrpt_why(why, "bad %-escape in mailto: URI");
				return -1;
			}
			c = hi * 16 + lo;
			p += 2;
		}
		if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\"\\", c)) {
			tlsrpt_why(why, "bad character in mailto: address");
			return -1;
		}
		if (c == '@')
			nat++;
		vstr_addch(addr, c);
	}
	at = strchr(VSTR_STR(addr), '@');
	if (nat != 1 || at == VSTR_STR(addr) || at[1] == 0) {
		tlsrpt_why(why, "mailto: URI without a local@domain address");
		vstr_reset(addr);
		return -1;
	}
	return 0;
}

static bool
tlsrpt_in(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

bool
tlsrpt_result_valid(const char *name)
{
	return tlsrpt_in(tlsrpt_results, name);
}

bool
tlsrpt_policy_type_valid(const char *name)
{
	return tlsrpt_in(tlsrpt_policy_types, name);
}

const char *
tlsrpt_result_from_verdict(const char *why)
{
	if (strcasestr(why, "expired") != NULL)
		return "certificate-expired";
	if (strcasestr(why, "name mismatch") != NULL)
		return "certificate-host-mismatch";
	if (strcasestr(why, "not trusted") != NULL
	    || strcasestr(why, "self-signed") != NULL
	    || strcasestr(why, "issuer certificate") != NULL)
		return "certificate-not-trusted";
	return "validation-failure";
}

void
tlsrpt_json_str(VSTR *out, const char *s)
{
	vstr_addch(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			vstr_strcat(out, "\\\"");
			break;
		case '\\':
			vstr_strcat(out, "\\\\");
			break;
		case '\n':
			vstr_strcat(out, "\\n");
			break;
		case '\r':
			vstr_strcat(out, "\\r");
			break;
		case '\t':
			vstr_strcat(out, "\\t");
			break;
		default:
			/* Bytes >= 0x80 are not checked as UTF-8: escape them. */
			if (c < 0x20 || c >= 0x7f)
				vstr_sprintf_append(out, "\\u%04x", c);
			else
				vstr_addch(out, c);
		}
	}
	vstr_addch(out, '"');
}

void
tlsrpt_day(long long t, char out[11])
{
	time_t	  tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL
	    || strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		snprintf(out, 11, "1970-01-01");
}
