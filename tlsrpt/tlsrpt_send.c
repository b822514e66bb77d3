/*
 * tlsrpt_send - deliver TLS-RPT reports (RFC 8460 5): look up the
 * policy domain's `_smtp._tls` TXT record, build the JSON report, gzip
 * it, and hand it to each rua URI: mailto: as a multipart/report mail
 * injected through cleanup (RFC 8460 5.3), https: as a POST with
 * libcurl (the one file that includes curl.h).
 *
 * The mail: envelope sender and From: are smtp_tls_report_sender, so
 * cleanup DKIM-signs it when dkim_signing_table has an entry for that
 * address or its domain (cleanup signs by the From: address); Subject
 * "Report Domain: D Submitter: S Report-ID: <ID>", headers
 * TLS-Report-Domain and TLS-Report-Submitter; a text/plain part and
 * the application/tlsrpt+gzip part (base64) named
 * "SUBMITTER!DOMAIN!START!END!UNIQUE.json.gz".
 *
 * https: the host name is resolved with Postel's resolver (util/dns,
 * dns_nameservers) and handed to libcurl (CURLOPT_RESOLVE); the server
 * certificate is verified against smtp_tls_report_CAfile, or the
 * system's store when that is empty; no redirects; a 2xx answer counts
 * as delivered.
 *
 * A report is removed once at least one rua took it; when none did it
 * stays for the next send, until it is TLSRPT_KEEP_DAYS old.  A domain
 * without a (single, valid) TLSRPT record has nobody to report to: its
 * counts are dropped.  A DNS lookup that fails temporarily keeps them.
 *
 * SPDX-License-Identifier: ISC
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tlsrpt/tlsrpt.h"
#include "util/addr.h"
#include "util/cleanup_client.h"
#include "util/gzip.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/tlsrpt.h"

#define TLSRPT_HTTP_TIMEOUT 30L /* seconds for one POST */

/* What one report carries to every destination. */
struct tlsrpt_out {
	const struct tlsrpt_conf  *conf;
	const struct tlsrpt_group *g;
	const char		  *report_id;
	long long		   start, end;
	VSTR			  *json;
	VSTR			  *gz;
};

void
tlsrpt_send_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		msg_warn("TLS-RPT: libcurl initialisation failed: https: "
			 "reports will fail");
}

void
tlsrpt_send_done(void)
{
	curl_global_cleanup();
}

/* The day's first second (UTC). */
static long long
tlsrpt_day_start(const char *day)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(day, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

/*
 * The rua URIs of domain.  1 found, 0 no (valid) record, -1 the lookup
 * failed for now (why).
 */
static int
tlsrpt_lookup(DNS *dns, const char *domain, TLSRPT_RUA *rua, VSTR *why)
{
	DNS_REPLY  *reply = dns_reply_alloc();
	VSTR	   *name = vstr_alloc(64);
	const char *rec = NULL;
	int	    nrec = 0;
	int	    ret;

	vstr_sprintf(name, "_smtp._tls.%s", domain);
	switch (dns_lookup(dns, VSTR_STR(name), DNS_TYPE_TXT, reply, why)) {
	case DNS_TEMPFAIL:
		ret = -1;
		break;
	case DNS_NOTFOUND:
		vstr_sprintf(why, "no TXT record %s", VSTR_STR(name));
		ret = 0;
		break;
	default:
		/* RFC 8460 3: other records are ignored; exactly one. */
		for (size_t i = 0; i < reply->count; i++)
			if (reply->rr[i].type == DNS_TYPE_TXT
			    && tlsrpt_txt_is_tlsrpt(
				VSTR_STR(reply->rr[i].data))) {
				rec = VSTR_STR(reply->rr[i].data);
				nrec++;
			}
		if (nrec != 1) {
			vstr_sprintf(why, "%d TLSRPT records at %s", nrec,
				     VSTR_STR(name));
			ret = 0;
		} else if (tlsrpt_txt_parse(rec, rua, why) < 0) {
			vstr_sprintf_append(why, " (%s)", VSTR_STR(name));
			ret = 0;
		} else {
			ret = 1;
		}
	}
	vstr_free(name);
	dns_reply_free(reply);
	return ret;
}

static void
tlsrpt_date_header(VSTR *out)
{
	time_t	  now = time(NULL);
	struct tm tm;
	char	  buf[64];

	if (gmtime_r(&now, &tm) == NULL
	    || strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm)
		   == 0)
		snprintf(buf, sizeof(buf), "Thu, 01 Jan 1970 00:00:00 +0000");
	vstr_strcat(out, buf);
}

/* The RFC 8460 5.3 message into out (CRLF lines). */
static void
tlsrpt_mail_text(const struct tlsrpt_out *o, const char *to, VSTR *out)
{
	const struct tlsrpt_conf *c = o->conf;
	VSTR			 *b64 = vstr_alloc(VSTR_LEN(o->gz) * 4 / 3 + 8);
	VSTR			 *boundary = vstr_alloc(64);

	vstr_sprintf(boundary, "tlsrpt.%lld.%s", (long long)time(NULL),
		     c->myhostname);
	vstr_reset(out);
	vstr_sprintf_append(out, "From: %s\r\nTo: %s\r\nDate: ", c->sender, to);
	tlsrpt_date_header(out);
	vstr_sprintf_append(
	    out,
	    "\r\nSubject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
	    "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n"
	    "Message-ID: <%s>\r\nAuto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n"
	    "\tboundary=\"%s\"\r\n\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n"
	    "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\n"
	    "This is an aggregate TLS report (RFC 8460) from %s\r\n"
	    "about TLS sessions to %s on %s (UTC).\r\n"
	    "Contact: %s\r\n\r\n"
	    "--%s\r\nContent-Type: application/tlsrpt+gzip\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment;\r\n"
	    "\tfilename=\"%s!%s!%lld!%lld!%lld.json.gz\"\r\n\r\n",
	    o->g->domain, c->submitter, o->report_id, o->g->domain,
	    c->submitter, o->report_id, VSTR_STR(boundary), VSTR_STR(boundary),
	    c->organization, o->g->domain, o->g->day, c->contact,
	    VSTR_STR(boundary), c->submitter, o->g->domain, o->start, o->end,
	    (long long)time(NULL));
	sasl_proto_base64_encode(b64, VSTR_STR(o->gz), VSTR_LEN(o->gz));
	for (size_t i = 0; i < VSTR_LEN(b64); i += 76) {
		size_t n = VSTR_LEN(b64) - i < 76 ? VSTR_LEN(b64) - i : 76;

		vstr_memcat(out, VSTR_STR(b64) + i, n);
		vstr_strcat(out, "\r\n");
	}
	vstr_sprintf_append(out, "\r\n--%s--\r\n", VSTR_STR(boundary));
	vstr_free(b64);
	vstr_free(boundary);
}

static int
tlsrpt_send_mail(const CFG *cfg, const struct tlsrpt_out *o, const char *uri,
		 VSTR *why)
{
	VSTR		     *to = vstr_alloc(64);
	VSTR		     *text = vstr_alloc(4096);
	struct cleanup_rcpt   rcpt;
	struct cleanup_req    req;
	struct cleanup_result res;
	CLEANUP_CLIENT	     *cc;
	int		      ret = -1;

	if (tlsrpt_mailto_addr(uri, to, why) < 0)
		goto out;
	memset(&rcpt, 0, sizeof(rcpt));
	rcpt.addr = VSTR_STR(to);
	memset(&req, 0, sizeof(req));
	req.flags = CLEANUP_FLAG_SIGN; /* our own reports are signed */
	req.origin = "tlsrpt";
	req.sender = o->conf->sender;
	req.ret = ADDR_RET_NONE;
	req.body_type = ADDR_BODY_7BIT;
	req.rcpts = &rcpt;
	req.nrcpt = 1;
	tlsrpt_mail_text(o, VSTR_STR(to), text);
	if ((cc = cleanup_begin(cfg, &req, why)) == NULL)
		goto out;
	cleanup_write(cc, VSTR_STR(text), VSTR_LEN(text));
	if (cleanup_finish(cc, &res) < 0 || res.status != CLEANUP_OK) {
		vstr_sprintf(why, "cleanup: %s", res.reply);
		goto out;
	}
	vstr_sprintf(why, "queued as %s", res.queue_id);
	ret = 0;
out:
	vstr_free(to);
	vstr_free(text);
	return ret;
}

/* "host:port:addr" for CURLOPT_RESOLVE, from Postel's resolver. */
static struct curl_slist *
tlsrpt_resolve(DNS *dns, const char *uri, struct curl_slist *list)
{
	CURLU	  *u = curl_url();
	char	  *host = NULL;
	char	  *port = NULL;
	DNS_REPLY *reply = dns_reply_alloc();
	VSTR	  *why = vstr_alloc(64);
	VSTR	  *entry = vstr_alloc(64);
	int	   types[] = { DNS_TYPE_A, DNS_TYPE_AAAA };

	if (u == NULL || curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK
	    || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
	    || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
		   != CURLUE_OK
	    || *host == '[')
		goto out;
	for (size_t t = 0; t < 2; t++) {
		if (dns_lookup(dns, host, types[t], reply, why) != DNS_OK)
			continue;
		vstr_sprintf(entry, "%s:%s:", host, port);
		for (size_t i = 0; i < reply->count; i++) {
			if (reply->rr[i].type != types[t])
				continue;
			if (i)
				vstr_addch(entry, ',');
			if (types[t] == DNS_TYPE_AAAA)
				vstr_sprintf_append(entry, "[%s]",
						    VSTR_STR(
							reply->rr[i].data));
			else
				vstr_strcat(entry, VSTR_STR(reply->rr[i].data));
		}
		list = curl_slist_append(list, VSTR_STR(entry));
		break;
	}
out:
	curl_free(host);
	curl_free(port);
	if (u)
		curl_url_cleanup(u);
	dns_reply_free(reply);
	vstr_free(why);
	vstr_free(entry);
	return list;
}

static size_t
tlsrpt_discard(char *ptr, size_t size, size_t n, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * n;
}

static int
tlsrpt_send_https(DNS *dns, const struct tlsrpt_out *o, const char *uri,
		  VSTR *why)
{
	CURL		  *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct curl_slist *resolve = NULL;
	char		   err[CURL_ERROR_SIZE] = "";
	long		   code = 0;
	CURLcode	   rc;
	int		   ret = -1;

	if (c == NULL) {
		vstr_strcpy(why, "libcurl: cannot make a handle");
		return -1;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/tlsrpt+gzip");
	resolve = tlsrpt_resolve(dns, uri, NULL);
	curl_easy_setopt(c, CURLOPT_URL, uri);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, TLSRPT_HTTP_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (*o->conf->cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->conf->cafile);
	if (resolve)
		curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, VSTR_STR(o->gz));
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)VSTR_LEN(o->gz));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tlsrpt_discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "Postel tlsrpt");
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		vstr_sprintf(why, "%s", *err ? err : curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		vstr_sprintf(why, "HTTP status %ld", code);
		ret = code >= 200 && code <= 299 ? 0 : -1;
	}
	curl_slist_free_all(hdr);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(c);
	return ret;
}

/* One report: 1 sent somewhere, 0 nobody to send to, -1 try again. */
static int
tlsrpt_send_group(TLSRPT_STORE *st, const CFG *cfg, DNS *dns,
		  const struct tlsrpt_conf *conf, const struct tlsrpt_group *g,
		  VSTR *log)
{
	TLSRPT_RUA	  rua = { 0 };
	VSTR		 *why = vstr_alloc(100);
	VSTR		 *id = vstr_alloc(100);
	struct tlsrpt_out o;
	long long	  now = (long long)time(NULL);
	int		  found;
	int		  sent = 0;

	if ((found = tlsrpt_lookup(dns, g->domain, &rua, why)) <= 0) {
		msg_info("TLS-RPT: report for %s on %s: %s%s", g->domain,
			 g->day, VSTR_STR(why),
			 found == 0 ? ": dropped" : ": will retry");
		vstr_sprintf_append(log, "%s %s: %s%s\n", g->domain, g->day,
				    VSTR_STR(why),
				    found == 0 ? ": dropped" : ": will retry");
		vstr_free(why);
		vstr_free(id);
		return found;
	}
	memset(&o, 0, sizeof(o));
	o.conf = conf;
	o.g = g;
	o.start = tlsrpt_day_start(g->day);
	o.end = o.start + 86399 < now ? o.start + 86399 : now;
	vstr_sprintf(id, "%s.%s.%lld@%s", g->day, g->domain, now,
		     conf->myhostname);
	o.report_id = VSTR_STR(id);
	o.json = vstr_alloc(4096);
	o.gz = vstr_alloc(1024);
	tlsrpt_store_report(st, g, conf, o.report_id, o.start, o.end, o.json);
	if (gzip_compress(VSTR_STR(o.json), VSTR_LEN(o.json), o.gz, why) < 0) {
		msg_warn("TLS-RPT: report for %s: %s", g->domain,
			 VSTR_STR(why));
		sent = -1;
		goto out;
	}
	for (size_t i = 0; i < rua.count; i++) {
		const char *uri = rua.uri[i];
		int	    r = strncasecmp(uri, "mailto:", 7) == 0
				    ? tlsrpt_send_mail(cfg, &o, uri, why)
				    : tlsrpt_send_https(dns, &o, uri, why);

		msg_info("TLS-RPT: report %s for %s on %s to %s: %s (%s)",
			 o.report_id, g->domain, g->day, uri,
			 r == 0 ? "sent" : "failed", VSTR_STR(why));
		vstr_sprintf_append(log, "%s %s: report %s to %s: %s (%s)\n",
				    g->domain, g->day, o.report_id, uri,
				    r == 0 ? "sent" : "failed", VSTR_STR(why));
		if (r == 0)
			sent = 1;
	}
	if (sent == 0)
		sent = -1;
out:
	tlsrpt_rua_reset(&rua);
	vstr_free(o.json);
	vstr_free(o.gz);
	vstr_free(why);
	vstr_free(id);
	return sent;
}

void
tlsrpt_send_all(TLSRPT_STORE *st, const CFG *cfg, DNS *dns,
		const struct tlsrpt_conf *conf, const char *last_day, VSTR *log)
{
	struct tlsrpt_group *g;
	size_t		     n = tlsrpt_store_groups(st, last_day, &g);
	char		     oldest[11];

	tlsrpt_day((long long)time(NULL) - TLSRPT_KEEP_DAYS * 86400LL, oldest);
	for (size_t i = 0; i < n; i++) {
		int r = tlsrpt_send_group(st, cfg, dns, conf, g + i, log);

		if (r >= 0) {
			tlsrpt_store_remove(st, g + i);
		} else if (strcmp(g[i].day, oldest) < 0) {
			msg_warn("TLS-RPT: report for %s on %s could not be "
				 "sent for %d days: dropped",
				 g[i].domain, g[i].day, TLSRPT_KEEP_DAYS);
			tlsrpt_store_remove(st, g + i);
		}
	}
	if (n == 0)
		vstr_strcat(log, "no TLS-RPT reports to send\n");
	myfree(g);
}
