/*
 * deliver_send - play qmgr for transport tests: send delivery requests
 * for queue files to a transport socket and print the replies.
 *
 *   deliver_send [-U] [-8] [-w MS] [-q QUEUE] [-T TRANSPORT] SOCKET
 *		  QUEUE_DIR NEXTHOP ID...
 *
 * Each ID names QUEUE_DIR/QUEUE/ID (written by qwrite; QUEUE is active
 * unless -q names another, which qmgr never does); the request is
 * built from the file's records (sender, ENVID, RET, recipients with
 * their original address, ORCPT and NOTIFY, content offset, size).  All
 * requests go over ONE connection, one after the other, with -w MS of
 * sleep between them (to test the transport's session cache).  -U sets
 * smtputf8, -8 body_type 8BITMIME, -T the transport name (smtp).
 *
 * Output, one line per recipient:
 *   ID <TAB> addr <TAB> action <TAB> dsn <TAB> relay <TAB> diag_type
 *   <TAB> remote_mta <TAB> reply
 * Exit 0, or 1 with a message on standard error.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/addr.h"
#include "util/deliver_proto.h"
#include "util/ipc.h"
#include "util/mymalloc.h"
#include "util/rec.h"

#define MAX_RCPT DELIVER_RCPT_MAX

struct qfile {
	VSTR		   *rec[MAX_RCPT * 4 + 8]; /* storage for the strings */
	int		    nrec;
	struct deliver_rcpt rcpt[MAX_RCPT];
};

static const char *
keep(struct qfile *q, const VSTR *v)
{
	VSTR *copy = vstr_alloc(VSTR_LEN(v) + 1);

	vstr_memcpy(copy, VSTR_STR(v), VSTR_LEN(v));
	q->rec[q->nrec++] = copy;
	return VSTR_STR(copy);
}

static int
load(const char *path, struct deliver_request *req, struct qfile *q)
{
	int		fd = open(path, O_RDONLY);
	REC_READER     *r;
	VSTR	       *data = vstr_alloc(256);
	struct rec_size size;
	const char     *orig = NULL;
	const char     *orcpt = NULL;
	int		notify = 0;
	int		type;

	if (fd < 0) {
		perror(path);
		return -1;
	}
	r = rec_reader_create(fd, 0);
	while (rec_get(r, &type, data, REC_LEN_MAX) > 0
	       && type != REC_TYPE_MESG) {
		switch (type) {
		case REC_TYPE_SIZE:
			rec_size_parse(VSTR_STR(data), VSTR_LEN(data), &size);
			req->content_offset = size.content_offset;
			req->message_size = size.message_size;
			break;
		case REC_TYPE_TIME:
			sscanf(VSTR_STR(data), "%lld %lld", &req->arrival_sec,
			       &req->arrival_usec);
			break;
		case REC_TYPE_FROM:
			req->sender = keep(q, data);
			break;
		case REC_TYPE_ENVID:
			req->envid = keep(q, data);
			break;
		case REC_TYPE_RET:
			req->ret = strcmp(VSTR_STR(data), "FULL") == 0
				       ? ADDR_RET_FULL
				       : ADDR_RET_HDRS;
			break;
		case REC_TYPE_ORIG:
			orig = keep(q, data);
			break;
		case REC_TYPE_ORCPT:
			orcpt = keep(q, data);
			break;
		case REC_TYPE_NOTIFY:
			notify = atoi(VSTR_STR(data));
			break;
		case REC_TYPE_RCPT:
			if (req->nrcpt == MAX_RCPT)
				break;
			q->rcpt[req->nrcpt] = (struct deliver_rcpt){
				.addr = keep(q, data),
				.orig = orig,
				.orcpt = orcpt,
				.notify = notify,
				.offset = rec_reader_offset(r),
			};
			req->nrcpt++;
			orig = orcpt = NULL;
			notify = 0;
			break;
		}
	}
	req->rcpts = q->rcpt;
	rec_reader_free(r);
	vstr_free(data);
	close(fd);
	return 0;
}

/* Print with control characters as '?', so one recipient is one line. */
static void
print_safe(const char *str)
{
	for (; *str; str++)
		putchar((unsigned char)*str < 0x20 ? '?' : *str);
}

int
main(int argc, char **argv)
{
	bool	    utf8 = false;
	bool	    eight = false;
	bool	    requiretls = false;
	int	    wait_ms = 0;
	const char *queue = "active";
	const char *transport = "smtp";
	int	    ch;
	int	    fd;
	IPC_STREAM *ipc;
	ATTR	   *a = attr_alloc();
	VSTR	   *why = vstr_alloc(100);

	while ((ch = getopt(argc, argv, "U8Rw:q:T:")) != -1) {
		if (ch == 'U')
			utf8 = true;
		else if (ch == 'R')
			requiretls = true;
		else if (ch == '8')
			eight = true;
		else if (ch == 'w')
			wait_ms = atoi(optarg);
		else if (ch == 'q')
			queue = optarg;
		else if (ch == 'T')
			transport = optarg;
		else
			return 1;
	}
	if (argc - optind < 4) {
		fprintf(stderr,
			"usage: deliver_send [-U] [-8] [-R] [-w MS] [-q QUEUE] "
			"[-T TRANSPORT] SOCKET QUEUE_DIR NEXTHOP ID...\n");
		return 1;
	}
	if ((fd = ipc_connect_unix(argv[optind], 10000)) < 0) {
		perror(argv[optind]);
		return 1;
	}
	ipc = ipc_stream_open(fd);
	for (int i = optind + 3; i < argc; i++) {
		struct deliver_request req;
		struct qfile	       q;
		struct deliver_status  st[MAX_RCPT];
		char		       path[4096];

		memset(&req, 0, sizeof(req));
		memset(&q, 0, sizeof(q));
		snprintf(path, sizeof(path), "%s/%s/%s", argv[optind + 1],
			 queue, argv[i]);
		if (load(path, &req, &q) < 0)
			return 1;
		req.queue_name = queue;
		req.queue_id = argv[i];
		req.transport = transport;
		req.nexthop = argv[optind + 2];
		req.smtputf8 = utf8;
		req.requiretls = requiretls;
		req.body_type = eight ? ADDR_BODY_8BITMIME : ADDR_BODY_NONE;
		req.qmgr_time = (long long)time(NULL);
		if (req.sender == NULL)
			req.sender = "";
		if (deliver_request_encode(&req, a) < 0
		    || ipc_stream_send(ipc, a, 10000) < 0
		    || ipc_stream_recv(ipc, a, 600000, why) < 0
		    || deliver_reply_decode(a, st, req.nrcpt, why) < 0) {
			fprintf(stderr, "deliver_send: %s: %s\n", argv[i],
				VSTR_STR(why));
			return 1;
		}
		for (size_t k = 0; k < req.nrcpt; k++) {
			printf("%s\t", argv[i]);
			print_safe(req.rcpts[k].addr);
			printf("\t%s\t%s\t%s\t%s\t%s\t%s\n",
			       deliver_action_name(st[k].action), st[k].dsn,
			       st[k].relay ? st[k].relay : "none",
			       st[k].diag_type ? st[k].diag_type : "",
			       st[k].remote_mta ? st[k].remote_mta : "",
			       st[k].reply ? st[k].reply : "");
		}
		fflush(stdout);
		for (int k = 0; k < q.nrec; k++)
			vstr_free(q.rec[k]);
		if (wait_ms > 0 && i + 1 < argc)
			usleep((useconds_t)wait_ms * 1000);
	}
	ipc_stream_close(ipc);
	attr_free(a);
	vstr_free(why);
	return 0;
}
