/*
 * Unit tests for util/milter: the reply parser, the settings syntax, and
 * whole conversations against a scripted milter that a forked child plays
 * on a Unix socket (it answers each command from a table and records what
 * it received, so skipped stages can be seen not to arrive).
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/ipc.h"
#include "util/milter.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

/* ------------------------------------------------------------ helpers */

static void
pkt(VSTR *out, int cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)len + 1);
	char	 c = (char)cmd;

	vstr_memcat(out, &n, 4);
	vstr_memcat(out, &c, 1);
	if (len)
		vstr_memcat(out, data, len);
}

static void
pkt_optneg(VSTR *out, uint32_t ver, uint32_t act, uint32_t proto,
	   const char *macros_connect)
{
	VSTR	*d = vstr_alloc(32);
	uint32_t v[3] = { htonl(ver), htonl(act), htonl(proto) };

	vstr_memcat(d, v, sizeof(v));
	if (macros_connect) {
		uint32_t w = htonl(MILTER_STAGE_CONNECT);

		vstr_memcat(d, &w, 4);
		vstr_memcat(d, macros_connect, strlen(macros_connect) + 1);
	}
	pkt(out, SMFIC_OPTNEG, VSTR_STR(d), VSTR_LEN(d));
	vstr_free(d);
}

/* The scripted peer: replies[c] is sent after each command c. */
struct peer {
	char	    dir[64];
	char	    path[96];
	int	    lfd;
	int	    rec[2]; /* pipe: the child's record of what it got */
	pid_t	    pid;
	VSTR	   *replies[256];
	int	    hang_on; /* command after which the child goes silent */
	MILTER_CONF conf;
};

static void
peer_child(struct peer *p)
{
	int   fd = ipc_accept(p->lfd);
	VSTR *rec = vstr_alloc(64);

	for (;;) {
		unsigned char h[5];
		uint32_t      n;
		char	     *buf;

		if (read_full(fd, h, 5, 10000) != 5)
			break;
		memcpy(&n, h, 4);
		n = ntohl(n);
		buf = mymalloc(n);
		if (n > 1 && read_full(fd, buf, n - 1, 10000) != (ssize_t)n - 1)
			break;
		vstr_addch(rec, h[4]);
		if (h[4] == SMFIC_MACRO && n > 1) {
			vstr_addch(rec, '(');
			/* stage byte, then the names (not the values) */
			vstr_addch(rec, buf[0]);
			for (size_t i = 1; i < n - 1;) {
				size_t l = strnlen(buf + i, n - 1 - i);

				vstr_addch(rec, ' ');
				vstr_memcat(rec, buf + i, l);
				i += l + 1;
				i += strnlen(buf + i, n - 1 - i) + 1;
			}
			vstr_addch(rec, ')');
		}
		if (h[4] == SMFIC_HEADER) {
			vstr_addch(rec, '[');
			vstr_memcat(rec, buf, strlen(buf));
			vstr_addch(rec, '=');
			vstr_memcat(rec, buf + strlen(buf) + 1,
				    strlen(buf + strlen(buf) + 1));
			vstr_addch(rec, ']');
		}
		myfree(buf);
		if (p->hang_on == h[4]) {
			sleep(2);
			break;
		}
		if (p->replies[h[4]])
			write_full(fd, VSTR_STR(p->replies[h[4]]),
				   VSTR_LEN(p->replies[h[4]]), 10000);
		if (h[4] == SMFIC_QUIT)
			break;
	}
	write_full(p->rec[1], VSTR_STR(rec), VSTR_LEN(rec), 10000);
	_exit(0);
}

static void
peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/test_milter.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/m.sock", p->dir);
	p->lfd = ipc_listen_unix(p->path, 0600, 5);
	assert_true(p->lfd >= 0);
	for (int i = 0; i < 256; i++)
		p->replies[i] = NULL;
	p->conf.name = NULL;
	p->conf.connect_timeout = 2;
	p->conf.command_timeout = 2;
	p->conf.content_timeout = 2;
	p->conf.default_action = MILTER_DEF_TEMPFAIL;
	p->conf.protocol = 6;
}

static VSTR *
peer_reply(struct peer *p, int cmd)
{
	if (p->replies[cmd] == NULL)
		p->replies[cmd] = vstr_alloc(32);
	return p->replies[cmd];
}

static MILTER *
peer_start(struct peer *p)
{
	VSTR   *name = vstr_alloc(64);
	MILTER *m;

	assert_int_equal(pipe(p->rec), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0)
		peer_child(p);
	close(p->rec[1]);
	vstr_sprintf(name, "unix:%s", p->path);
	p->conf.name = VSTR_STR(name);
	m = milter_alloc(&p->conf);
	p->conf.name = NULL;
	vstr_free(name);
	return m;
}

/* Wait for the child and return what it recorded (caller frees). */
static char *
peer_finish(struct peer *p)
{
	VSTR *rec = vstr_alloc(64);
	char  buf[512];
	int   status;

	for (;;) {
		ssize_t n = read(p->rec[0], buf, sizeof(buf));

		if (n <= 0)
			break;
		vstr_memcat(rec, buf, (size_t)n);
	}
	close(p->rec[0]);
	waitpid(p->pid, &status, 0);
	close(p->lfd);
	unlink(p->path);
	rmdir(p->dir);
	for (int i = 0; i < 256; i++)
		vstr_free(p->replies[i]);
	return vstr_export(rec);
}

static const char *
macro_value(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "j") == 0)
		return "mx.example";
	if (strcmp(name, "{client_addr}") == 0)
		return "192.0.2.1";
	if (strcmp(name, "i") == 0)
		return "QID123";
	return NULL;
}

/* ------------------------------------------------------- parser tests */

static void
test_milter_reply_parse_replycode_multiline(void **state)
{
	MILTER_REPLY *r = milter_reply_alloc();
	VSTR	     *why = vstr_alloc(16);
	const char    ok[] = "550-5.7.1 first\r\n550 5.7.1 second";
	const char    mixed[] = "550-5.7.1 first\r\n451 4.7.1 second";
	const char    two[] = "250 2.0.0 fine";
	const char    dash[] = "451-4.7.1 only";

	(void)state;
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_RCPT, 0, 0,
					    SMFIR_REPLYCODE, ok, sizeof(ok),
					    why),
			 1);
	assert_int_equal(r->verdict, MILTER_REJECT);
	assert_string_equal(VSTR_STR(r->text), ok);
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_RCPT, 0, 0,
					    SMFIR_REPLYCODE, mixed,
					    sizeof(mixed), why),
			 -1);
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_RCPT, 0, 0,
					    SMFIR_REPLYCODE, two, sizeof(two),
					    why),
			 -1);
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_RCPT, 0, 0,
					    SMFIR_REPLYCODE, dash, sizeof(dash),
					    why),
			 -1);
	/* no NUL terminator: malformed, never read past the packet */
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_RCPT, 0, 0,
					    SMFIR_REPLYCODE, ok, 5, why),
			 -1);
	milter_reply_free(r);
	vstr_free(why);
}

static void
test_milter_reply_parse_mods_need_eom_and_negotiation(void **state)
{
	MILTER_REPLY *r = milter_reply_alloc();
	VSTR	     *why = vstr_alloc(16);
	const char    hdr[] = "X-A\0v";
	char	      chg[4 + sizeof(hdr)];
	uint32_t      one = htonl(1);

	(void)state;
	/* header add before end of message: error */
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_RCPT, SMFIF_ADDHDRS,
					    0, SMFIR_ADDHEADER, hdr,
					    sizeof(hdr), why),
			 -1);
	/* not negotiated: error */
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_EOM, 0, 0,
					    SMFIR_ADDHEADER, hdr, sizeof(hdr),
					    why),
			 -1);
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_EOM, SMFIF_ADDHDRS,
					    0, SMFIR_ADDHEADER, hdr,
					    sizeof(hdr), why),
			 0);
	memcpy(chg, &one, 4);
	memcpy(chg + 4, hdr, sizeof(hdr));
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_EOM, SMFIF_CHGHDRS,
					    0, SMFIR_CHGHEADER, chg,
					    sizeof(chg), why),
			 0);
	/* a header name with a colon is refused */
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_EOM, SMFIF_ADDHDRS,
					    0, SMFIR_ADDHEADER, "X:\0v", 5,
					    why),
			 -1);
	assert_int_equal(r->nmods, 2);
	assert_int_equal(r->mods[0].type, SMFIR_ADDHEADER);
	assert_string_equal(r->mods[0].name, "X-A");
	assert_string_equal(r->mods[0].value, "v");
	assert_int_equal(r->mods[1].type, SMFIR_CHGHEADER);
	assert_int_equal(r->mods[1].index, 1);
	/* SKIP only in the body stage, and only when negotiated */
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_BODY, 0, 0,
					    SMFIR_SKIP, NULL, 0, why),
			 -1);
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_BODY, 0, SMFIP_SKIP,
					    SMFIR_SKIP, NULL, 0, why),
			 1);
	assert_int_equal(r->verdict, MILTER_SKIP);
	/* replacement body over the limit */
	milter_reply_reset(r);
	r->body_limit = 4;
	assert_int_equal(milter_reply_parse(r, MILTER_STAGE_EOM, SMFIF_CHGBODY,
					    0, SMFIR_REPLBODY, "abcdef", 6,
					    why),
			 -1);
	milter_reply_free(r);
	vstr_free(why);
}

static void
test_milter_conf_parse_list_braces(void **state)
{
	MILTER_CONF def, *list;
	size_t	    n;
	VSTR	   *why = vstr_alloc(16);

	(void)state;
	memset(&def, 0, sizeof(def));
	def.connect_timeout = 30;
	def.command_timeout = 30;
	def.content_timeout = 300;
	def.protocol = 6;
	def.macros[MILTER_STAGE_DATA] = mystrdup("i");
	assert_int_equal(
	    milter_conf_parse_list(
		"inet:127.0.0.1:8891, { unix:private/m, connect_timeout=5s,"
		" command_timeout = 1m, default_action=accept, protocol=4 }"
		" unix:/x",
		&def, &list, &n, why),
	    0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].name, "inet:127.0.0.1:8891");
	assert_int_equal(list[0].connect_timeout, 30);
	assert_string_equal(list[1].name, "unix:private/m");
	assert_int_equal(list[1].connect_timeout, 5);
	assert_int_equal(list[1].command_timeout, 60);
	assert_int_equal(list[1].content_timeout, 300);
	assert_int_equal(list[1].default_action, MILTER_DEF_ACCEPT);
	assert_int_equal(list[1].protocol, 4);
	assert_string_equal(list[1].macros[MILTER_STAGE_DATA], "i");
	assert_string_equal(list[2].name, "unix:/x");
	milter_conf_free_list(list, n);
	assert_int_equal(milter_conf_parse_list("{ unix:/a, bogus=1 }", &def,
						&list, &n, why),
			 -1);
	assert_non_null(strstr(VSTR_STR(why), "bogus"));
	assert_int_equal(milter_conf_parse_list("tcp:1.2.3.4:5", &def, &list,
						&n, why),
			 -1);
	assert_int_equal(milter_conf_parse_list("{ unix:/a, default_action="
						"maybe }",
						&def, &list, &n, why),
			 -1);
	assert_int_equal(milter_conf_parse_list("{ unix:/a", &def, &list, &n,
						why),
			 -1);
	milter_conf_clear(&def);
	vstr_free(why);
}

/* ------------------------------------------------- conversation tests */

static void
test_milter_negotiated_skips_and_noreply_are_honoured(void **state)
{
	struct peer   p;
	MILTER	     *m;
	MILTER_REPLY *r = milter_reply_alloc();
	const char   *mail[] = { "<a@example>", "SIZE=10", NULL };
	const char   *rcpt[] = { "<b@example>", NULL };
	char	     *rec;

	(void)state;
	peer_init(&p);
	p.conf.macros[MILTER_STAGE_CONNECT] = mystrdup("j {daemon_name}");
	p.conf.macros[MILTER_STAGE_MAIL] = mystrdup("i");
	/* milter: no HELO, no reply to CONNECT, headers without reply, its
	 * own connect macro list, leading space kept */
	pkt_optneg(peer_reply(&p, SMFIC_OPTNEG), 6, SMFIF_ADDHDRS,
		   SMFIP_NOHELO | SMFIP_NR_CONN | SMFIP_NR_HDR | SMFIP_NOBODY
		       | SMFIP_HDR_LEADSPC,
		   "{client_addr} j");
	pkt(peer_reply(&p, SMFIC_MAIL), SMFIR_CONTINUE, NULL, 0);
	pkt(peer_reply(&p, SMFIC_RCPT), SMFIR_CONTINUE, NULL, 0);
	pkt(peer_reply(&p, SMFIC_DATA), SMFIR_CONTINUE, NULL, 0);
	pkt(peer_reply(&p, SMFIC_EOH), SMFIR_CONTINUE, NULL, 0);
	pkt(peer_reply(&p, SMFIC_BODYEOB), SMFIR_ADDHEADER, "X-Seen\0 yes", 12);
	pkt(peer_reply(&p, SMFIC_BODYEOB), SMFIR_ACCEPT, NULL, 0);
	m = peer_start(&p);
	milter_set_macros(m, macro_value, NULL);
	assert_int_equal(milter_open(m), 0);
	assert_int_equal(milter_version(m), 6);
	assert_int_equal(milter_connect(m, "localhost", '4', "127.0.0.1", 0, r),
			 MILTER_CONTINUE);
	assert_int_equal(milter_helo(m, "client.example", r), MILTER_CONTINUE);
	assert_int_equal(milter_mail(m, mail, r), MILTER_CONTINUE);
	assert_int_equal(milter_rcpt(m, rcpt, r), MILTER_CONTINUE);
	assert_int_equal(milter_data(m, r), MILTER_CONTINUE);
	assert_int_equal(milter_header(m, "Subject", " hi\r\n there", r),
			 MILTER_CONTINUE);
	assert_int_equal(milter_eoh(m, r), MILTER_CONTINUE);
	assert_int_equal(milter_body(m, "body\r\n", 6, r), MILTER_CONTINUE);
	assert_int_equal(milter_eom(m, r), MILTER_ACCEPT);
	assert_int_equal(r->nmods, 1);
	assert_string_equal(r->mods[0].name, "X-Seen");
	assert_string_equal(r->mods[0].value, " yes");
	m = milter_free(m);
	rec = peer_finish(&p);
	/* no H (skipped), no B (skipped); macros from the milter's own
	 * list, {client_addr} first; the header value keeps its space */
	assert_string_equal(rec, "OD(C {client_addr} j)CD(M i)MRT"
				 "L[Subject= hi\n there]NEQ");
	myfree(rec);
	milter_conf_clear(&p.conf);
	milter_reply_free(r);
}

static void
test_milter_eom_collects_every_modification(void **state)
{
	struct peer   p;
	MILTER	     *m;
	MILTER_REPLY *r = milter_reply_alloc();
	const char   *mail[] = { "<a@example>", NULL };
	VSTR	     *eom;
	VSTR	     *field = vstr_alloc(32);
	uint32_t      idx = htonl(2);
	char	      chg[64];
	char	     *rec;

	(void)state;
	peer_init(&p);
	pkt_optneg(peer_reply(&p, SMFIC_OPTNEG), 6, 0x1ff, 0, NULL);
	pkt(peer_reply(&p, SMFIC_MAIL), SMFIR_CONTINUE, NULL, 0);
	eom = peer_reply(&p, SMFIC_BODYEOB);
	pkt(eom, SMFIR_PROGRESS, NULL, 0);
	pkt(eom, SMFIR_ADDHEADER, "X-A\0one\n\ttwo", 13);
	memcpy(chg, &idx, 4);
	memcpy(chg + 4, "Subject\0", 9); /* name, then an empty value */
	pkt(eom, SMFIR_CHGHEADER, chg, 4 + 8 + 1); /* empty: delete */
	pkt(eom, SMFIR_INSHEADER, "\0\0\0\0X-Top\0t", 12);
	pkt(eom, SMFIR_REPLBODY, "new ", 4);
	pkt(eom, SMFIR_REPLBODY, "body\r\n", 6);
	pkt(eom, SMFIR_ADDRCPT, "<c@example>", 12);
	pkt(eom, SMFIR_ADDRCPT_PAR, "<d@example>\0NOTIFY=NEVER", 25);
	pkt(eom, SMFIR_DELRCPT, "<b@example>", 12);
	pkt(eom, SMFIR_CHGFROM, "<new@example>", 14);
	pkt(eom, SMFIR_QUARANTINE, "looks odd", 10);
	pkt(eom, SMFIR_REPLYCODE, "550-5.7.0 no\r\n550 5.7.0 way", 28);
	m = peer_start(&p);
	assert_int_equal(milter_open(m), 0);
	assert_int_equal(milter_actions(m), 0x1ff);
	assert_int_equal(milter_mail(m, mail, r), MILTER_CONTINUE);
	assert_int_equal(milter_eom(m, r), MILTER_REJECT);
	assert_string_equal(VSTR_STR(r->text), "550-5.7.0 no\r\n550 5.7.0 way");
	assert_int_equal(r->nmods, 7);
	assert_int_equal(r->mods[0].type, SMFIR_ADDHEADER);
	milter_mod_field(m, r->mods[0].name, r->mods[0].value, field);
	assert_string_equal(VSTR_STR(field), "X-A: one\r\n\ttwo");
	assert_int_equal(r->mods[1].type, SMFIR_CHGHEADER);
	assert_int_equal(r->mods[1].index, 2);
	assert_string_equal(r->mods[1].value, "");
	assert_int_equal(r->mods[2].type, SMFIR_INSHEADER);
	assert_int_equal(r->mods[2].index, 0);
	assert_int_equal(r->mods[3].type, SMFIR_ADDRCPT);
	assert_null(r->mods[3].value);
	assert_int_equal(r->mods[4].type, SMFIR_ADDRCPT_PAR);
	assert_string_equal(r->mods[4].value, "NOTIFY=NEVER");
	assert_int_equal(r->mods[5].type, SMFIR_DELRCPT);
	assert_int_equal(r->mods[6].type, SMFIR_CHGFROM);
	assert_string_equal(r->mods[6].name, "<new@example>");
	assert_true(r->body_replaced);
	assert_string_equal(VSTR_STR(r->body), "new body\r\n");
	assert_true(r->has_quarantine);
	assert_string_equal(VSTR_STR(r->quarantine), "looks odd");
	m = milter_free(m);
	rec = peer_finish(&p);
	/* version 6 sends DATA only when asked: the caller did not */
	assert_string_equal(rec, "OMEQ");
	myfree(rec);
	milter_reply_free(r);
	vstr_free(field);
}

static void
test_milter_garbage_gets_default_action(void **state)
{
	struct peer   p;
	MILTER	     *m;
	MILTER_REPLY *r = milter_reply_alloc();
	const char   *mail[] = { "<a@example>", NULL };
	char	     *rec;

	(void)state;
	peer_init(&p);
	p.conf.default_action = MILTER_DEF_REJECT;
	pkt_optneg(peer_reply(&p, SMFIC_OPTNEG), 6, 0, 0, NULL);
	/* a length of 0x7fffffff: garbage */
	vstr_memcat(peer_reply(&p, SMFIC_MAIL),
		    "\x7f\xff\xff\xff"
		    "c",
		    5);
	m = peer_start(&p);
	assert_int_equal(milter_open(m), 0);
	assert_int_equal(milter_mail(m, mail, r), MILTER_REJECT);
	assert_string_equal(VSTR_STR(r->text), "550 5.7.1 Command rejected");
	assert_true(milter_failed(m));
	/* and from then on, without talking to it */
	assert_int_equal(milter_eom(m, r), MILTER_REJECT);
	m = milter_free(m);
	rec = peer_finish(&p);
	assert_string_equal(rec, "OM");
	myfree(rec);
	milter_reply_free(r);
}

static void
test_milter_hung_milter_times_out_to_quarantine(void **state)
{
	struct peer   p;
	MILTER	     *m;
	MILTER_REPLY *r = milter_reply_alloc();
	const char   *mail[] = { "<a@example>", NULL };
	time_t	      t0;
	char	     *rec;

	(void)state;
	peer_init(&p);
	p.conf.default_action = MILTER_DEF_QUARANTINE;
	p.conf.command_timeout = 1;
	pkt_optneg(peer_reply(&p, SMFIC_OPTNEG), 6, 0, 0, NULL);
	p.hang_on = SMFIC_MAIL;
	m = peer_start(&p);
	assert_int_equal(milter_open(m), 0);
	t0 = time(NULL);
	assert_int_equal(milter_mail(m, mail, r), MILTER_CONTINUE);
	assert_true(time(NULL) - t0 <= 3);
	assert_false(r->has_quarantine);
	assert_int_equal(milter_eom(m, r), MILTER_CONTINUE);
	assert_true(r->has_quarantine);
	assert_non_null(strstr(VSTR_STR(r->quarantine), "timeout"));
	m = milter_free(m);
	rec = peer_finish(&p);
	assert_string_equal(rec, "OM");
	myfree(rec);
	milter_reply_free(r);
}

static void
test_milter_down_gets_default_action(void **state)
{
	MILTER_CONF   c;
	MILTER	     *m;
	MILTER_REPLY *r = milter_reply_alloc();

	(void)state;
	memset(&c, 0, sizeof(c));
	c.name = (char *)"unix:/nonexistent/milter.sock";
	c.connect_timeout = 1;
	c.command_timeout = 1;
	c.content_timeout = 1;
	c.protocol = 6;
	c.default_action = MILTER_DEF_TEMPFAIL;
	m = milter_alloc(&c);
	assert_int_equal(milter_open(m), -1);
	assert_int_equal(milter_connect(m, "localhost", '4', "127.0.0.1", 0, r),
			 MILTER_TEMPFAIL);
	assert_string_equal(VSTR_STR(r->text),
			    "451 4.7.1 Service unavailable - try again later");
	m = milter_free(m);
	c.name = (char *)"inet:127.0.0.1:1";
	c.default_action = MILTER_DEF_ACCEPT;
	m = milter_alloc(&c);
	assert_int_equal(milter_open(m), -1);
	assert_int_equal(milter_helo(m, "x", r), MILTER_CONTINUE);
	milter_free(m);
	milter_reply_free(r);
}

static void
test_milter_export_import_keeps_state(void **state)
{
	struct peer   p;
	MILTER	     *m, *m2;
	MILTER_REPLY *r = milter_reply_alloc();
	ATTR	     *a = attr_alloc();
	VSTR	     *why = vstr_alloc(16);
	const char   *mail[] = { "<a@example>", NULL };
	int	      fd;
	char	     *rec;

	(void)state;
	peer_init(&p);
	pkt_optneg(peer_reply(&p, SMFIC_OPTNEG), 6, SMFIF_ADDHDRS, SMFIP_NOHDRS,
		   "j");
	pkt(peer_reply(&p, SMFIC_MAIL), SMFIR_CONTINUE, NULL, 0);
	pkt(peer_reply(&p, SMFIC_BODYEOB), SMFIR_CONTINUE, NULL, 0);
	m = peer_start(&p);
	assert_int_equal(milter_open(m), 0);
	assert_int_equal(milter_mail(m, mail, r), MILTER_CONTINUE);
	fd = milter_export(m, a);
	assert_true(fd >= 0);
	fd = dup(fd);
	milter_disown(m);
	m = milter_free(m);
	m2 = milter_import(a, fd, why);
	assert_non_null(m2);
	assert_int_equal(milter_protocol(m2), SMFIP_NOHDRS);
	assert_int_equal(milter_header(m2, "Subject", "x", r), MILTER_CONTINUE);
	assert_int_equal(milter_eom(m2, r), MILTER_CONTINUE);
	m2 = milter_free(m2);
	rec = peer_finish(&p);
	assert_string_equal(rec, "OMEQ");
	myfree(rec);
	attr_free(a);
	vstr_free(why);
	milter_reply_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_milter_reply_parse_replycode_multiline),
		cmocka_unit_test(
		    test_milter_reply_parse_mods_need_eom_and_negotiation),
		cmocka_unit_test(test_milter_conf_parse_list_braces),
		cmocka_unit_test(
		    test_milter_negotiated_skips_and_noreply_are_honoured),
		cmocka_unit_test(test_milter_eom_collects_every_modification),
		cmocka_unit_test(test_milter_garbage_gets_default_action),
		cmocka_unit_test(
		    test_milter_hung_milter_times_out_to_quarantine),
		cmocka_unit_test(test_milter_down_gets_default_action),
		cmocka_unit_test(test_milter_export_import_keeps_state),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
