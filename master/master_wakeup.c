/*
 * master_wakeup - periodic wakeup triggers ("wakeup" column of master.cf).
 *
 * Every `wakeup` seconds master writes MASTER_TRIG_WAKEUP to the service's
 * own endpoint, exactly as any client would, so the service is spawned on
 * demand like for any other request.  With "N?" the trigger is sent only
 * once the service has been used (a child reported busy).  The first
 * unconditional wakeup is sent as soon as the service starts.  inet services
 * get no wakeup.  Every step is non-blocking: when the endpoint is busy
 * (full backlog or pipe) the trigger is skipped, the service has work to
 * do anyway.
 *
 * Errors: logged with msg_verbose only; a missed trigger costs a delay.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/master.h"
#include "util/msg.h"

static int
master_wakeup_send(struct master_serv *serv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char	   byte = MASTER_TRIG_WAKEUP;
	int		   sock_type = SOCK_STREAM;
	int		   fd;
	int		   ret;

	if (serv->type == MASTERCF_FIFO) {
		fd = open(serv->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -1;
		ret = write(fd, &byte, 1) == 1 ? 0 : -1;
		close(fd);
		return ret;
	}
	if (strlen(serv->path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, serv->path, strlen(serv->path) + 1);
	if (serv->type == MASTERCF_UNIX_DGRAM)
		sock_type = SOCK_DGRAM;
	fd = socket(AF_UNIX, sock_type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	ret = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0
		      && send(fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1
		  ? 0
		  : -1;
	close(fd);
	return ret;
}

static void
master_wakeup_event(EVENTS *ev, void *ctx)
{
	struct master_serv *serv = ctx;

	if (!serv->wakeup_conditional || serv->used) {
		if (master_wakeup_send(serv) < 0 && msg_verbose)
			msg_info("service %s: wakeup: %m", serv->name);
	}
	events_timer(ev, master_wakeup_event, serv, serv->wakeup * 1000L);
}

void
master_wakeup_start(struct master_serv *serv)
{
	if (serv->wakeup <= 0)
		return;
	/* A pass service takes descriptors, not trigger bytes. */
	if (serv->type == MASTERCF_INET || serv->type == MASTERCF_PASS) {
		msg_warn("service %s/%s: wakeup is not supported for %s "
			 "services; ignored",
			 serv->name, mastercf_type_name(serv->type),
			 mastercf_type_name(serv->type));
		return;
	}
	/*
	 * The first wakeup goes out at once, so that qmgr and pickup start
	 * with master and find mail left from before; "N?" services still
	 * wait until they were used.
	 */
	events_timer(serv->master->events, master_wakeup_event, serv,
		     serv->wakeup_conditional ? serv->wakeup * 1000L : 0);
}

void
master_wakeup_stop(struct master_serv *serv)
{
	events_timer_cancel(serv->master->events, master_wakeup_event, serv);
}
