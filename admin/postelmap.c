/*
 * postelmap - build, query and update lookup tables, like postmap(1).
 * The work is in admin/admin_alias_map.c; postelmap(1) documents it.
 *
 * SPDX-License-Identifier: ISC
 */
#include "admin/admin_alias_map.h"

int
main(int argc, char **argv)
{
	return admin_alias_map_main(argc, argv, ADMIN_MAP_POSTMAP);
}
