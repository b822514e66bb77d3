/*
 * qwrite - write a queue file for tests (util/rec layout).
 *
 *   qwrite FILE -f SENDER [-V ENVID] [-K FULL|HDRS]
 *          ([-O ORIG] [-P TYPE;ADDR] [-N BITS] -r RCPT)... [-H FIELD]...
 *          < content
 *
 * The content is read from standard input; bare LF line ends become
 * CRLF, as cleanup stores them.  Each -H FIELD is written as it is (CRLF
 * and final CRLF included) as an H record after X, in the order given,
 * the way cleanup_prepend_header leaves them.  The file is created exclusively (mode
 * 0600), fsynced, and prints nothing.  Exit 0, or 1 with a message.
 *
 * SPDX-License-Identifier: ISC
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/rec.h"

static void
usage(void)
{
	fprintf(stderr,
		"usage: qwrite FILE -f SENDER [-V ENVID] [-K RET] "
		"([-O ORIG] [-P ORCPT] [-N BITS] -r RCPT)... [-H FIELD]... "
		"< content\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	REC_WRITER    *w;
	struct timeval tv;
	char	       buf[8192];
	char	       prev = 0;
	ssize_t	       n;
	int	       fd;
	int	       ch;
	const char    *prepend[16];
	int	       nprepend = 0;

	if (argc < 2)
		usage();
	if ((fd = open(argv[1], O_RDWR | O_CREAT | O_EXCL, 0600)) < 0) {
		perror(argv[1]);
		return 1;
	}
	w = rec_writer_create(fd);
	gettimeofday(&tv, NULL);
	rec_putf(w, REC_TYPE_TIME, "%lld %ld", (long long)tv.tv_sec,
		 (long)tv.tv_usec);
	optind = 2;
	while ((ch = getopt(argc, argv, "f:V:K:O:P:N:r:H:")) != -1) {
		int type = ch == 'f'   ? REC_TYPE_FROM
			   : ch == 'V' ? REC_TYPE_ENVID
			   : ch == 'K' ? REC_TYPE_RET
			   : ch == 'O' ? REC_TYPE_ORIG
			   : ch == 'P' ? REC_TYPE_ORCPT
			   : ch == 'N' ? REC_TYPE_NOTIFY
			   : ch == 'r' ? REC_TYPE_RCPT
				       : 0;

		if (ch == 'H') {
			if (nprepend == sizeof(prepend) / sizeof(prepend[0]))
				usage();
			prepend[nprepend++] = optarg;
			continue;
		}
		if (type == 0)
			usage();
		rec_put(w, type, optarg, strlen(optarg));
	}
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				rec_put_content(w, "\r", 1);
			rec_put_content(w, buf + i, 1);
			prev = buf[i];
		}
	}
	rec_put_content(w, "", 0); /* M, when there was no content */
	rec_put(w, REC_TYPE_XTRA, "", 0);
	for (int i = 0; i < nprepend; i++)
		rec_put(w, REC_TYPE_PREPEND, prepend[i], strlen(prepend[i]));
	if (rec_writer_finish(w) < 0 || fsync(fd) < 0) {
		perror("qwrite");
		return 1;
	}
	rec_writer_free(w);
	close(fd);
	return 0;
}
