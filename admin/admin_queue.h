/*
 * admin_queue - the queue folder layout and its repair (postel check,
 * postel set-permissions, postel start).
 *
 * admin_queue_setup() makes queue_directory and every folder under it
 * exist with the documented owner and mode (docs/MASTER.md, postel(1)):
 *
 *   queue_directory	created root 0755 when missing; else left alone
 *   maildrop		mail_owner:setgid_group 0730
 *   public		mail_owner:setgid_group 0710
 *   private incoming active deferred hold corrupt bounce defer trace
 *			mail_owner 0700
 *   pid (process_id_directory)	root 0755
 *   etc		root 0755, with copies of the system files that
 *			chrooted daemons read (localtime, services,
 *			resolv.conf, hosts, nsswitch.conf, host.conf);
 *			only when run as root
 *   data_directory	mail_owner 0700 (the metrics table and the
 *			daemons' caches live there)
 *
 * Run by someone other than root, everything belongs to that user (and
 * their primary group).  Each change is logged ("created", "fixed").  A
 * symbolic link or non-folder in place of a folder is refused.
 *
 * admin_queue_ids() resolves mail_owner and setgid_group as the layout
 * needs them.
 *
 * Errors: -1 with `why` naming the folder or the account; nothing exits.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef ADMIN_ADMIN_QUEUE_H
#define ADMIN_ADMIN_QUEUE_H

#include <sys/types.h>

#include "util/cfg.h"
#include "util/vstr.h"

struct admin_ids {
	uid_t owner_uid; /* mail_owner (or the invoking user) */
	gid_t owner_gid;
	gid_t setgid_gid; /* setgid_group (or the user's group) */
};

int admin_queue_ids(const CFG *cfg, struct admin_ids *ids, VSTR *why);
int admin_queue_setup(const CFG *cfg, VSTR *why);

#endif
