/*
 * maillog - route a process's diagnostics where main.cf says.  See
 * maillog.h.
 *
 * With maillog_file set, each line is formatted here, syslog-style
 * ("Mon DD HH:MM:SS host program[pid]: text"), and sent as one datagram to
 * the postlog service socket, queue_directory/public/$postlog_service_name
 * ("postlog").  A process chrooted into queue_directory reaches the same
 * socket as /public/$postlog_service_name.
 * The postlogd daemon appends each datagram as one line.  When its queue
 * is full the sender waits (at most MAILLOG_SEND_WAIT seconds) rather
 * than drop the line.  When the service cannot be reached (not started yet, stopped) the line goes to syslog so it
 * is never silently lost; the failure itself is reported once per process.
 *
 * Errors: none returned; a logging failure must not stop mail.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/maillog.h"
#include "util/msg.h"

#define MAILLOG_SERVICE	  "postlog" /* postlog_service_name default */
#define MAILLOG_DGRAM_MAX 8192
#define MAILLOG_SEND_WAIT 2 /* seconds a full queue may delay a line */

static int		  maillog_sock = -1;
static struct sockaddr_un maillog_addr[2]; /* absolute, in-chroot */
static char		  maillog_host[256];
static char		  maillog_facility[32] = "mail";
static int		  maillog_complained;

static void
maillog_fallback(enum msg_level level, const char *line)
{
	static const int prio[] = { LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT,
				    LOG_CRIT };

	if (!maillog_complained) {
		maillog_complained = 1;
		syslog(LOG_MAIL | LOG_WARNING,
		       "warning: postlog service unavailable (%m); "
		       "logging to syslog instead");
	}
	syslog(LOG_MAIL | prio[level], "%s", line);
}

/* msg output: one datagram per line. */
static void
maillog_send(enum msg_level level, const char *text)
{
	char	  line[MAILLOG_DGRAM_MAX];
	char	  stamp[32];
	struct tm tm;
	time_t	  now = time(NULL);
	int	  n;
	int	  i;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s%s", stamp,
		     maillog_host, msg_progname(), (long)getpid(),
		     msg_level_prefix(level), text);
	if (n < 0)
		return;
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	for (i = 0; i < 2; i++) {
		if (maillog_addr[i].sun_path[0] == 0)
			continue;
		if (sendto(maillog_sock, line, (size_t)n, 0,
			   (struct sockaddr *)&maillog_addr[i],
			   sizeof(maillog_addr[i]))
		    == n)
			return;
		if (errno != ENOENT && errno != ECONNREFUSED)
			break;
	}
	maillog_fallback(level, line);
}

static void
maillog_set_addr(struct sockaddr_un *sun, const char *dir, const char *name)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", dir, name)
	    >= (int)sizeof(sun->sun_path))
		sun->sun_path[0] = 0; /* too long: never used */
}

/*
 * public/<postlog_service_name>: master makes a service's socket under
 * public/ (private = n) with the service's name.  A name that is not a
 * plain master.cf service name could leave public/: the default is used.
 */
static void
maillog_service_path(const CFG *cfg, char *buf, size_t len)
{
	const char *svc = cfg_get_str(cfg, "postlog_service_name");
	size_t n = strspn(svc, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
			       "UVWXYZ0123456789._-");

	if (*svc == 0 || *svc == '.' || svc[n] != 0) {
		msg_warn("bad postlog_service_name \"%s\": using \"%s\"", svc,
			 MAILLOG_SERVICE);
		svc = MAILLOG_SERVICE;
	}
	snprintf(buf, len, "public/%s", svc);
}

void
maillog_init(const CFG *cfg, const char *progname, int flags)
{
	char	    name[128];
	char	    socket_name[128];
	const char *file = cfg_get_str(cfg, "maillog_file");

	snprintf(name, sizeof(name), "%s/%s", cfg_get_str(cfg, "syslog_name"),
		 progname);
	msg_output_reset();
	msg_set_progname(name);
	snprintf(maillog_facility, sizeof(maillog_facility), "%s",
		 cfg_get_str(cfg, "syslog_facility"));
	if (flags & (MAILLOG_STDERR | MAILLOG_STDERR_ONLY))
		msg_stderr_enable(true);
	if (flags & MAILLOG_STDERR_ONLY)
		return;
	if (*file == 0) {
		msg_syslog_enable(maillog_facility);
		return;
	}
	snprintf(maillog_host, sizeof(maillog_host), "%s",
		 cfg_get_str(cfg, "myhostname"));
	if (maillog_sock < 0) {
		struct timeval tv = { .tv_sec = MAILLOG_SEND_WAIT };

		maillog_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (maillog_sock < 0) {
			msg_syslog_enable(maillog_facility);
			msg_warn("socket for postlog service: %m");
			return;
		}
		/*
		 * Under load postlogd's queue fills up: wait for it, boundedly,
		 * rather than dropping lines into a fallback.
		 */
		(void)setsockopt(maillog_sock, SOL_SOCKET, SO_SNDTIMEO, &tv,
				 sizeof(tv));
	}
	maillog_service_path(cfg, socket_name, sizeof(socket_name));
	maillog_set_addr(&maillog_addr[0], cfg_get_str(cfg, "queue_directory"),
			 socket_name);
	maillog_set_addr(&maillog_addr[1], "", socket_name);
	/* syslog stays open as the fallback, identified like our lines. */
	openlog(msg_progname(), LOG_PID | LOG_NDELAY, LOG_MAIL);
	msg_output_add(maillog_send);
}
