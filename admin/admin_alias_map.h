/*
 * admin_alias_map - the common body of postelmap and postelalias /
 * newaliases: build, query, delete, dump and incrementally update lookup
 * tables made from a postmap(1)-format or aliases(5) source file.
 *
 * admin_alias_map_main() parses the command line itself and returns the
 * process exit status: 0 success (or found), 1 not found (-q, -d), or a
 * sysexits code after a "fatal:" message (EX_USAGE, EX_NOINPUT, EX_CONFIG,
 * EX_IOERR, EX_TEMPFAIL for a table that could not be read).
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef ADMIN_ADMIN_ALIAS_MAP_H
#define ADMIN_ADMIN_ALIAS_MAP_H

enum admin_map_kind {
	ADMIN_MAP_POSTMAP,    /* "key value" sources */
	ADMIN_MAP_ALIAS,      /* "name: value, value" sources */
	ADMIN_MAP_NEWALIASES, /* postelalias on $alias_database */
};

int admin_alias_map_main(int argc, char **argv, enum admin_map_kind kind);

#endif
