/*
 * mastercf_edit - one master.cf entry as editable words, and the
 * "service/type/name[=value]" arguments of postelconf -F and -P.
 *
 * mastercf_edit_parse() splits one logical master.cf line (continuation
 * lines already joined) into its seven fixed fields and the command
 * field's words, kept as written ("{ ... }" groups with their braces),
 * except that each "-o name=value" (or "-o { name = value }", "-oname=v")
 * in the option part of the command becomes an item with a name and a
 * value.  The option part ends, as in util/mastercf.c and the daemons'
 * getopt, at the first word after the command name that is not an option;
 * -n, -t and -s take an argument.
 *
 * mastercf_edit_render() writes the entry back in master.cf layout: the
 * fields and the command words up to the first -o on one line, then each
 * -o on a continuation line indented by two spaces, followed by the plain
 * words that came after it.
 * A value with white space or nothing in it is written in the
 * "-o { name = value }" form.
 *
 * Field names are Postfix's: service, type, private, unprivileged, chroot,
 * wakeup, process_limit, command.  The command field is the command name
 * and its arguments without the -o items.
 *
 * Errors: the parse and set functions return -1 with a reason in `why`
 * (no file or line: the caller adds them).
 *
 * Ownership: an entry's strings are its own, released with
 * mastercf_edit_free(); an argument's with mastercf_arg_free().
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_MASTERCF_EDIT_H
#define UTIL_MASTERCF_EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/vstr.h"

#define MASTERCF_EDIT_FIELDS  8 /* seven fixed fields plus the command */
#define MASTERCF_EDIT_COMMAND 7

struct mastercf_edit_item {
	char *word;  /* a command word as written, or NULL for a -o item */
	char *name;  /* -o name */
	char *value; /* -o value, trimmed */
};

struct mastercf_edit {
	char			  *field[7]; /* service ... process_limit */
	struct mastercf_edit_item *item;     /* command name first */
	size_t			   count;
};

int  mastercf_edit_parse(const char *line, struct mastercf_edit *e, VSTR *why);
void mastercf_edit_free(struct mastercf_edit *e);
void mastercf_edit_render(const struct mastercf_edit *e, VSTR *out);
/* Append one -o item as "-o name=value" or "-o { name = value }". */
void
mastercf_edit_render_option(const struct mastercf_edit_item *it, VSTR *out);

/* A parameter name: letters, digits, '_', '-', '.'; at least one. */
bool mastercf_edit_name_ok(const char *name, size_t len);

/* Field number for a Postfix field name, or -1. */
int	    mastercf_edit_field_index(const char *name);
const char *mastercf_edit_field_name(int index);
/* A field's text; the command is its words joined by single spaces. */
void mastercf_edit_field(const struct mastercf_edit *e, int index, VSTR *out);
/* Replace a field after checking the value; -1 with why if it is bad. */
int mastercf_edit_set_field(struct mastercf_edit *e, int index,
			    const char *value, VSTR *why);

/* The value of the last -o name, or NULL. Borrowed from e. */
const char *
mastercf_edit_get_param(const struct mastercf_edit *e, const char *name);
/* Set -o name=value: the last one is replaced, earlier ones go; a new one
 * goes after the last -o (or right after the command name).  -1 with why for a bad name/value. */
int mastercf_edit_set_param(struct mastercf_edit *e, const char *name,
			    const char *value, VSTR *why);
/* Remove every -o name; returns how many there were. */
size_t mastercf_edit_del_param(struct mastercf_edit *e, const char *name);

/* "service/type/name[=value]" as postelconf -F and -P take it. */
struct mastercf_arg {
	char *service;
	char *type;
	char *name;
	char *value; /* NULL without '=' */
};

/*
 * The key is split at its last two '/' (a service may hold '/'); around
 * '=' white space is dropped, as postconf does.  `wild` allows '*' as a
 * whole service, type or name (a pattern for printing).
 */
int  mastercf_arg_parse(const char *text, bool wild, struct mastercf_arg *a,
			VSTR *why);
void mastercf_arg_free(struct mastercf_arg *a);
/* Pattern part matches text: "*" matches anything, else equal. */
bool mastercf_arg_match(const char *pattern, const char *text);

#endif
