/*
 * postelalias - build, query and update alias tables, like postalias(1);
 * invoked as "newaliases" it rebuilds every table in $alias_database.
 * The work is in admin/admin_alias_map.c; postelalias(1) documents it.
 *
 * SPDX-License-Identifier: ISC
 */
#include <libgen.h>
#include <string.h>

#include "admin/admin_alias_map.h"

int
main(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');

	base = base ? base + 1 : argv[0];
	return admin_alias_map_main(argc, argv,
				    strcmp(base, "newaliases") == 0
					? ADMIN_MAP_NEWALIASES
					: ADMIN_MAP_ALIAS);
}
