/*
 * metrics - the Prometheus endpoint: GET /metrics in the text format
 * (0.0.4) on the inet service master.cf gives it, usually
 *
 *   127.0.0.1:9154 inet n - y - 1 metrics
 *
 * The counters themselves are in the shared table every Postel process
 * writes (util/metrics.h); this daemon only reads it, plus the queue
 * folders for the queue gauges, at each scrape.  It is a multiplexing
 * daemon: the skeleton accepts each client (so master's busy/idle
 * accounting, max_use and max_idle work as for every other daemon) and
 * hands the descriptor to libmicrohttpd, which parses HTTP; MHD runs in
 * the skeleton's event loop through its epoll descriptor and timeout,
 * with a bound on connections and a timeout for each, so a scraper that
 * sends half a request or reads nothing only ever holds one connection
 * until the timeout.  Mail is never slowed by it: writers add to the
 * shared table without talking to this process.
 *
 * Other paths are answered 404, other methods than GET and HEAD 405.
 *
 * Deviation from "MHD_OPTION_LISTEN_SOCKET": with the listener in MHD's
 * hands the skeleton could not see clients come and go, and master's
 * busy/idle protocol would need a second implementation here.
 *
 * Errors: set-up failures are fatal; a failed scrape is a 500.
 *
 * SPDX-License-Identifier: ISC
 */
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/events.h"
#include "util/metrics.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/qid.h"
#include "util/skel.h"
#include "util/vstr.h"

#define METRICS_CONN_LIMIT   16	     /* HTTP clients at once */
#define METRICS_CONN_TIMEOUT 10	     /* seconds a client may be idle */
#define METRICS_CONN_MEMORY  (32768) /* MHD's buffer per connection */

struct metrics_app {
	struct skel_ctx	  *ctx;
	struct MHD_Daemon *mhd;
	int		   epoll_fd; /* MHD's */
	bool		   watched;  /* epoll_fd is in ctx->events */
	unsigned long	   started;  /* connections MHD took on */
};

/* Per queue: how many files, and the oldest queue ID's arrival time. */
struct metrics_queue_stat {
	unsigned long long count;
	double		   oldest; /* 0 = none */
};

static void
metrics_scan_dir(const char *dir, struct metrics_queue_stat *qs)
{
	DIR	      *dp;
	struct dirent *de;
	struct timeval tv;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		/* The name carries the time: no stat per file. */
		if (!qid_valid(de->d_name))
			continue;
		qs->count++;
		if (qid_time(de->d_name, &tv) == 0) {
			double t = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;

			if (qs->oldest == 0 || t < qs->oldest)
				qs->oldest = t;
		}
	}
	closedir(dp);
}

/* deferred/ is hashed one level deep by a one-character folder. */
static void
metrics_scan_queue(const char *queue, bool hashed,
		   struct metrics_queue_stat *qs)
{
	DIR	      *dp;
	struct dirent *de;
	VSTR	      *path;

	memset(qs, 0, sizeof(*qs));
	if (!hashed) {
		metrics_scan_dir(queue, qs);
		return;
	}
	if ((dp = opendir(queue)) == NULL)
		return;
	path = vstr_alloc(32);
	while ((de = readdir(dp)) != NULL) {
		if (strlen(de->d_name) != QID_HASH_LEN || de->d_name[0] == '.')
			continue;
		vstr_sprintf(path, "%s/%s", queue, de->d_name);
		metrics_scan_dir(VSTR_STR(path), qs);
	}
	vstr_free(path);
	closedir(dp);
}

static void
metrics_queues(VSTR *out)
{
	static const char *const  queues[] = { "incoming", "active", "deferred",
					       "hold", "corrupt" };
	struct metrics_queue_stat qs[5];
	struct timeval		  now;

	gettimeofday(&now, NULL);
	for (size_t i = 0; i < 5; i++)
		metrics_scan_queue(queues[i],
				   strcmp(queues[i], "deferred") == 0, &qs[i]);
	vstr_strcat(out, "# HELP postel_queue_messages Messages in each queue "
			 "folder at the time of the scrape.\n"
			 "# TYPE postel_queue_messages gauge\n");
	for (size_t i = 0; i < 5; i++)
		vstr_sprintf_append(out,
				    "postel_queue_messages{queue=\"%s\"} %llu\n",
				    queues[i], qs[i].count);
	vstr_strcat(out,
		    "# HELP postel_queue_oldest_age_seconds Age of the oldest "
		    "message in each queue folder (by its queue ID's arrival "
		    "time), 0 when it is empty.\n"
		    "# TYPE postel_queue_oldest_age_seconds gauge\n");
	for (size_t i = 0; i < 5; i++) {
		double age = qs[i].oldest > 0 ? (double)now.tv_sec
						    + (double)now.tv_usec / 1e6
						    - qs[i].oldest
					      : 0;

		vstr_sprintf_append(out,
				    "postel_queue_oldest_age_seconds{queue=\"%s\"} "
				    "%.3f\n",
				    queues[i], age > 0 ? age : 0);
	}
}

static enum MHD_Result
metrics_reply(struct MHD_Connection *conn, unsigned int status,
	      const char *type, const char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result	     ret;

	resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
					       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					      "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
metrics_answer(void *cls, struct MHD_Connection *conn, const char *url,
	       const char *method, const char *version, const char *upload_data,
	       size_t *upload_data_size, void **con_cls)
{
	static const char text[] = "text/plain; charset=utf-8";
	const void	 *image;
	size_t		  len;
	VSTR		 *out;
	enum MHD_Result	  ret;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
	    && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		*upload_data_size = 0;
		return metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text,
				     "method not allowed\n", 19);
	}
	if (strcmp(url, "/metrics") != 0)
		return metrics_reply(conn, MHD_HTTP_NOT_FOUND, text,
				     "not found: try /metrics\n", 24);
	out = vstr_alloc(8192);
	metrics_queues(out);
	image = metrics_image(&len);
	if (image != NULL && metrics_render(image, len, out, NULL) < 0)
		msg_warn("the metrics table has a bad header");
	ret = metrics_reply(conn, MHD_HTTP_OK,
			    "text/plain; version=0.0.4; charset=utf-8",
			    VSTR_STR(out), VSTR_LEN(out));
	vstr_free(out);
	return ret;
}

static void metrics_run(EVENTS *ev, void *context);

/* Let MHD work, then wake up again when it wants to. */
static void
metrics_pump(struct metrics_app *app)
{
	MHD_UNSIGNED_LONG_LONG ms;

	(void)MHD_run(app->mhd);
	if (MHD_get_timeout(app->mhd, &ms) == MHD_YES)
		events_timer(app->ctx->events, metrics_run, app,
			     ms > 60000 ? 60000 : (long)ms);
	else
		events_timer_cancel(app->ctx->events, metrics_run, app);
}

static void
metrics_run(EVENTS *ev, void *context)
{
	(void)ev;
	metrics_pump(context);
}

static void
metrics_epoll_ready(EVENTS *ev, int fd, int what, void *context)
{
	(void)ev;
	(void)fd;
	(void)what;
	metrics_pump(context);
}

static void
metrics_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
	       enum MHD_ConnectionNotificationCode toe)
{
	struct metrics_app *app = cls;

	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = app;
		app->started++;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
		*socket_context = NULL;
		skel_multi_release(app->ctx);
	}
}

static void
metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	VSTR *line = vstr_alloc(100);

	(void)cls;
	vstr_vsprintf_append(line, fmt, ap);
	while (VSTR_LEN(line) > 0 && VSTR_STR(line)[VSTR_LEN(line) - 1] == '\n')
		vstr_truncate(line, VSTR_LEN(line) - 1);
	msg_warn("libmicrohttpd: %s", VSTR_STR(line));
	vstr_free(line);
}

static void
metrics_accept(struct skel_ctx *ctx, int fd)
{
	struct metrics_app     *app = ctx->app;
	struct sockaddr_storage ss;
	socklen_t		sslen = sizeof(ss);
	unsigned long		before = app->started;

	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) < 0 || sslen == 0) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = AF_UNIX;
		sslen = sizeof(sa_family_t);
	}
	/* MHD owns fd from here on, and closes it even on failure. */
	if (MHD_add_connection(app->mhd, fd, (struct sockaddr *)&ss, sslen)
		!= MHD_YES
	    && app->started == before)
		skel_multi_release(ctx);
	metrics_pump(app);
}

static void
metrics_post_jail(struct skel_ctx *ctx)
{
	struct metrics_app	   *app = mycalloc(1, sizeof(*app));
	const union MHD_DaemonInfo *info;

	app->ctx = ctx;
	ctx->app = app;
	/* The logger first, so that MHD reports nothing on stderr. */
	app->mhd = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL
					| MHD_USE_ERROR_LOG,
				    0, NULL, NULL, metrics_answer, app,
				    MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log,
				    app, MHD_OPTION_CONNECTION_LIMIT,
				    (unsigned int)METRICS_CONN_LIMIT,
				    MHD_OPTION_CONNECTION_TIMEOUT,
				    (unsigned int)METRICS_CONN_TIMEOUT,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				    (size_t)METRICS_CONN_MEMORY,
				    MHD_OPTION_NOTIFY_CONNECTION,
				    metrics_notify, app, MHD_OPTION_END);
	if (app->mhd == NULL)
		msg_fatal("libmicrohttpd: cannot start");
	info = MHD_get_daemon_info(app->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0)
		msg_fatal("libmicrohttpd: no epoll descriptor");
	app->epoll_fd = info->epoll_fd;
	if (metrics_image(&(size_t){ 0 }) == NULL)
		msg_warn("no metrics table (master makes %s/metrics.shm at "
			 "start): only the queue gauges are served",
			 cfg_get_str(ctx->cfg, "data_directory"));
}

/* The event loop exists only after post_jail: watch MHD on first use. */
static void
metrics_accept_first(struct skel_ctx *ctx, int fd)
{
	struct metrics_app *app = ctx->app;

	if (!app->watched) {
		if (events_watch(ctx->events, app->epoll_fd, EVENTS_READ,
				 metrics_epoll_ready, app)
		    < 0)
			msg_fatal("events_watch: %m");
		app->watched = true;
	}
	metrics_accept(ctx, fd);
}

static void
metrics_pre_exit(struct skel_ctx *ctx)
{
	struct metrics_app *app = ctx->app;

	if (app == NULL)
		return;
	if (ctx->events) {
		events_timer_cancel(ctx->events, metrics_run, app);
		if (app->watched)
			events_unwatch(ctx->events, app->epoll_fd);
	}
	MHD_stop_daemon(app->mhd);
	myfree(app);
	ctx->app = NULL;
}

int
main(int argc, char **argv)
{
	return skel_multi_main(argc, argv,
			       &(const struct skel_ops){
				   .post_jail = metrics_post_jail,
				   .accept = metrics_accept_first,
				   .pre_exit = metrics_pre_exit,
			       });
}
