/*
 * admin_dkim - what `postel check` says about the DKIM signing keys.
 *
 * Every entry of dkim_key_table that can be listed (hash:, btree:,
 * texthash: and inline: tables; regexp:, cidr:, static:, unix: and
 * proxy: tables cannot be enumerated and are skipped with a note under
 * -v) is parsed as cleanup parses it, and its key file is looked at: a
 * malformed entry, a missing file, a private key that others may read
 * (world-readable) or that the group may change (group-writable), and,
 * when master.cf runs cleanup chrooted, a file outside queue_directory
 * (cleanup could not open it) each get a warning naming the table, key
 * name and file.  Warnings only: the system still starts, as for
 * Postfix's own checks.
 *
 * Errors: none returned; everything is a msg_warn.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef ADMIN_ADMIN_DKIM_H
#define ADMIN_ADMIN_DKIM_H

#include "util/cfg.h"
#include "util/mastercf.h"

void admin_dkim_check(const CFG *cfg, const MASTERCF *mcf);

#endif
