/*
 * master_listen - open the endpoints of a master.cf service.
 *
 * inet: the service field is "port", "host:port" or "[v6addr]:port"; a
 * port may be a name from /etc/services ("smtp").  Without a host, one
 * listener per inet_interfaces address: "all" (one dual-stack socket, or
 * the one wildcard of inet_protocols), "loopback-only", or a list.
 * unix, pass, unix-dgram, fifo: queue_directory/private/NAME, or
 * public/NAME when master.cf says private=n (a pass service's socket is
 * a stream socket like unix's: what travels on it is the skeleton's
 * business, util/pass_proto.h).  Every listener is non-blocking (children
 * race for connections and the loser must not block) and close-on-exec
 * (a child gets only its own service's descriptors, dup'ed to 3, 5...).
 *
 * private/ and public/ belong to mail_owner, so a root master never
 * operates on a name inside them: a stale endpoint is removed and the new
 * one created with mail_owner's effective ids (as Postfix's master does),
 * which also makes the endpoint mail_owner's.  The mode comes from the
 * umask in force at bind()/mkfifo() time (and fchmod of the open fifo),
 * never from a chmod by path that a swapped-in symlink could redirect.
 *
 * Errors: master_listen_open returns -1 with `why` naming the endpoint;
 * whatever was opened is closed again.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master/master.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/user.h"

#define MASTER_BACKLOG 128

int
master_listen_split(const char *field, VSTR *host, VSTR *port)
{
	const char *colon;
	const char *close;

	vstr_reset(host);
	vstr_reset(port);
	if (field[0] == '[') {
		if ((close = strchr(field, ']')) == NULL || close == field + 1
		    || close[1] != ':')
			return -1;
		vstr_memcpy(host, field + 1, (size_t)(close - field - 1));
		colon = close + 1;
	} else if ((colon = strchr(field, ':')) != NULL) {
		vstr_memcpy(host, field, (size_t)(colon - field));
	} else {
		colon = field - 1;
	}
	/* A bare IPv6 address needs brackets: one ':' at most, no '[' ']'. */
	if (colon[1] == 0 || strpbrk(colon + 1, ":[]") != NULL
	    || strpbrk(VSTR_STR(host), "[]") != NULL)
		return -1;
	vstr_strcpy(port, colon + 1);
	return 0;
}

/* Space-separated list of hosts to bind ("*" = the dual-stack wildcard). */
static int
master_listen_hosts(const CFG *cfg, const char *host, VSTR *out, VSTR *why)
{
	const char *proto = cfg_get_str(cfg, "inet_protocols");
	bool	    v4 = strstr(proto, "all") || strstr(proto, "ipv4");
	bool	    v6 = strstr(proto, "all") || strstr(proto, "ipv6");
	char	   *list;
	char	   *cp;
	char	   *word;

	vstr_reset(out);
	if (!v4 && !v6) {
		vstr_sprintf(why, "inet_protocols: no known protocol in \"%s\"",
			     proto);
		return -1;
	}
	if (*host) {
		vstr_strcpy(out, host);
		return 0;
	}
	cp = list = mystrdup(cfg_get_str(cfg, "inet_interfaces"));
	while ((word = str_token(&cp, STR_SEP_LIST)) != NULL) {
		if (VSTR_LEN(out))
			vstr_addch(out, ' ');
		if (strcmp(word, "all") == 0)
			vstr_strcat(out, v4 && v6 ? "*"
					 : v4	  ? "0.0.0.0"
						  : "::");
		else if (strcmp(word, "loopback-only") == 0)
			vstr_strcat(out, v4 && v6 ? "127.0.0.1 ::1"
					 : v4	  ? "127.0.0.1"
						  : "::1");
		else
			vstr_strcat(out, word);
	}
	myfree(list);
	if (VSTR_LEN(out) == 0) {
		vstr_strcpy(why, "inet_interfaces is empty");
		return -1;
	}
	return 0;
}

void
master_listen_endpoint(const CFG *cfg, const struct mastercf_service *e,
		       VSTR *out)
{
	if (e->type == MASTERCF_INET) {
		vstr_sprintf(out, "inet %s interfaces=%s protocols=%s", e->name,
			     cfg_get_str(cfg, "inet_interfaces"),
			     cfg_get_str(cfg, "inet_protocols"));
	} else {
		vstr_sprintf(out, "%s %s/%s/%s", mastercf_type_name(e->type),
			     cfg_get_str(cfg, "queue_directory"),
			     e->private_ ? "private" : "public", e->name);
	}
}

static int
master_listen_add(struct master_serv *serv, int fd, VSTR *why)
{
	if (serv->nlisten >= MASTER_MAX_LISTEN) {
		close(fd);
		vstr_sprintf(why, "more than %d listeners", MASTER_MAX_LISTEN);
		return -1;
	}
	if (fd_set_nonblock(fd, true) < 0 || fd_set_cloexec(fd, true) < 0) {
		vstr_sprintf(why, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	serv->listen_fds[serv->nlisten++] = fd;
	return 0;
}

static int
master_listen_inet(struct master *m, struct master_serv *serv, VSTR *why)
{
	VSTR *host = vstr_alloc(64);
	VSTR *port = vstr_alloc(16);
	VSTR *hosts = vstr_alloc(64);
	char *cp;
	char *word;
	int   ret = -1;

	if (master_listen_split(serv->name, host, port) < 0) {
		vstr_sprintf(why,
			     "bad inet service \"%s\": expected port, "
			     "host:port or [address]:port",
			     serv->name);
		goto out;
	}
	if (master_listen_hosts(m->cfg, VSTR_STR(host), hosts, why) < 0)
		goto out;
	cp = VSTR_STR(hosts);
	while ((word = str_token(&cp, " ")) != NULL) {
		const char *bind_host = strcmp(word, "*") == 0 ? NULL : word;
		int	    fd;

		fd = ipc_listen_inet(bind_host, VSTR_STR(port), MASTER_BACKLOG);
		if (fd < 0) {
			vstr_sprintf(why, "listen on %s port %s: %s",
				     bind_host ? bind_host : "all addresses",
				     VSTR_STR(port), strerror(errno));
			goto out;
		}
		if (master_listen_add(serv, fd, why) < 0)
			goto out;
	}
	ret = 0;
out:
	vstr_free(host);
	vstr_free(port);
	vstr_free(hosts);
	return ret;
}

static int
master_listen_fifo(struct master_serv *serv, const char *name, VSTR *why)
{
	struct stat st;
	mode_t	    old_mask;
	int	    fd;
	int	    ret;

	if (lstat(name, &st) < 0) {
		old_mask = umask(0);
		ret = errno == ENOENT ? mkfifo(name, 0622) : -1;
		umask(old_mask);
		if (ret < 0) {
			vstr_sprintf(why, "mkfifo %s: %s", serv->path,
				     strerror(errno));
			return -1;
		}
	} else if (!S_ISFIFO(st.st_mode)) {
		vstr_sprintf(why, "%s exists and is not a fifo", serv->path);
		return -1;
	}
	/* Read-write: the fifo never reports end-of-file between writers. */
	fd = open(name, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fchmod(fd, 0622) < 0) {
		vstr_sprintf(why, "open fifo %s: %s", serv->path,
			     strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return master_listen_add(serv, fd, why);
}

static int
master_listen_dgram(struct master_serv *serv, const char *name, VSTR *why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat	   st;
	mode_t		   old_mask;
	int		   fd;
	int		   ret = -1;

	if (strlen(name) >= sizeof(sun.sun_path)) {
		vstr_sprintf(why, "socket path too long: %s", serv->path);
		return -1;
	}
	memcpy(sun.sun_path, name, strlen(name) + 1);
	if (lstat(name, &st) == 0) {
		/* A symlink is removed, never followed. */
		if (!S_ISSOCK(st.st_mode) && !S_ISLNK(st.st_mode)) {
			vstr_sprintf(why, "%s exists and is not a socket",
				     serv->path);
			return -1;
		}
		(void)unlink(name);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		old_mask = umask(0111);
		ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		umask(old_mask);
	}
	if (ret < 0) {
		vstr_sprintf(why, "bind %s: %s", serv->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return master_listen_add(serv, fd, why);
}

/* Saved identity of a root master while it acts as mail_owner. */
struct master_listen_ids {
	bool   switched;
	int    ngroups;
	gid_t *groups;
};

/*
 * Take mail_owner's effective uid and gid (and only its group) for the
 * endpoint operations; a master that is not root has nothing to switch.
 */
static int
master_listen_become_owner(const CFG *cfg, struct master_listen_ids *ids,
			   VSTR *why)
{
	const char *owner = cfg_get_str(cfg, "mail_owner");
	uid_t	    uid;
	gid_t	    gid;
	int	    n;

	ids->switched = false;
	ids->groups = NULL;
	ids->ngroups = 0;
	if (geteuid() != 0)
		return 0;
	if (user_lookup(owner, &uid, &gid) < 0 || uid == 0) {
		vstr_sprintf(why,
			     "mail_owner %s: unknown user or uid 0 (run "
			     "postel set-permissions)",
			     owner);
		return -1;
	}
	if ((n = getgroups(0, NULL)) < 0) {
		vstr_sprintf(why, "getgroups: %s", strerror(errno));
		return -1;
	}
	ids->groups = mymalloc(((size_t)n + 1) * sizeof(gid_t));
	if ((ids->ngroups = getgroups(n, ids->groups)) < 0) {
		vstr_sprintf(why, "getgroups: %s", strerror(errno));
		ids->groups = myfree(ids->groups);
		return -1;
	}
	if (setgroups(1, &gid) < 0 || setegid(gid) < 0 || seteuid(uid) < 0) {
		vstr_sprintf(why, "switch to mail_owner %s: %s", owner,
			     strerror(errno));
		if (seteuid(0) < 0 || setegid(0) < 0
		    || setgroups((size_t)ids->ngroups, ids->groups) < 0)
			msg_fatal("cannot return to root: %m");
		ids->groups = myfree(ids->groups);
		return -1;
	}
	ids->switched = true;
	return 0;
}

static void
master_listen_become_root(struct master_listen_ids *ids)
{
	int saved = errno;

	if (!ids->switched)
		return;
	if (seteuid(0) < 0 || setegid(0) < 0
	    || setgroups((size_t)ids->ngroups, ids->groups) < 0)
		msg_fatal("cannot return to root: %m");
	ids->groups = myfree(ids->groups);
	ids->switched = false;
	errno = saved;
}

/*
 * unix, pass, unix-dgram, fifo: created as mail_owner (see the file header),
 * by their bare name from inside their folder: root opens the folder (a
 * folder of the root-owned queue_directory), so mail_owner needs no
 * access to the folders above the queue (a clone under /root).
 */
static int
master_listen_local(struct master *m, struct master_serv *serv, VSTR *why)
{
	struct master_listen_ids ids;
	const char		*slash = strrchr(serv->path, '/');
	const char		*name = slash ? slash + 1 : serv->path;
	VSTR			*dir = vstr_alloc(100);
	int			 cwd_fd;
	int			 dir_fd = -1;
	int			 ret = -1;
	int			 fd;

	if ((cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		vstr_sprintf(why, "open current folder: %s", strerror(errno));
		goto out;
	}
	vstr_memcpy(dir, serv->path, slash ? (size_t)(slash - serv->path) : 0);
	if (VSTR_LEN(dir) == 0)
		vstr_strcpy(dir, slash ? "/" : ".");
	dir_fd = open(VSTR_STR(dir),
		      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0 || fchdir(dir_fd) < 0) {
		vstr_sprintf(why, "%s: %s", VSTR_STR(dir), strerror(errno));
		goto out;
	}
	if (master_listen_become_owner(m->cfg, &ids, why) < 0)
		goto back;
	switch (serv->type) {
	case MASTERCF_UNIX:
	case MASTERCF_PASS:
		fd = ipc_listen_unix(name, 0666, MASTER_BACKLOG);
		if (fd < 0) {
			vstr_sprintf(why, "listen on %s: %s", serv->path,
				     strerror(errno));
			ret = -1;
		} else {
			ret = master_listen_add(serv, fd, why);
		}
		break;
	case MASTERCF_FIFO:
		ret = master_listen_fifo(serv, name, why);
		break;
	default:
		ret = master_listen_dgram(serv, name, why);
		break;
	}
	master_listen_become_root(&ids);
back:
	if (fchdir(cwd_fd) < 0)
		msg_fatal("cannot return to the queue folder: %m");
out:
	if (cwd_fd >= 0)
		close(cwd_fd);
	if (dir_fd >= 0)
		close(dir_fd);
	vstr_free(dir);
	return ret;
}

int
master_listen_open(struct master *m, struct master_serv *serv, VSTR *why)
{
	int ret;

	switch (serv->type) {
	case MASTERCF_INET:
		ret = master_listen_inet(m, serv, why);
		break;
	case MASTERCF_UNIX:
	case MASTERCF_PASS:
	case MASTERCF_FIFO:
	case MASTERCF_UNIX_DGRAM:
		ret = master_listen_local(m, serv, why);
		break;
	default:
		vstr_sprintf(why, "service type %s is not supported",
			     mastercf_type_name(serv->type));
		ret = -1;
	}
	if (ret < 0)
		master_listen_close(serv);
	return ret;
}

void
master_listen_close(struct master_serv *serv)
{
	for (int i = 0; i < serv->nlisten; i++) {
		events_unwatch(serv->master->events, serv->listen_fds[i]);
		close(serv->listen_fds[i]);
	}
	serv->nlisten = 0;
	serv->watching = false;
}
