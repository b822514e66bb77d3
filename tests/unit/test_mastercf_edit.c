/*
 * Unit tests for util/mastercf_edit: one master.cf entry as words (parse,
 * fields, -o items, render) and postelconf's service/type/name arguments.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>

#include "tests/unit/harness.h"
#include "util/mastercf.h"
#include "util/mastercf_edit.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

static void
parse_ok(const char *line, struct mastercf_edit *e)
{
	VSTR *why = vstr_alloc(64);

	if (mastercf_edit_parse(line, e, why) < 0)
		fail_msg("parse \"%s\": %s", line, VSTR_STR(why));
	vstr_free(why);
}

static char *
render(const struct mastercf_edit *e)
{
	VSTR *out = vstr_alloc(64);

	mastercf_edit_render(e, out);
	return vstr_export(out);
}

static void
test_parse_fields_options_and_words(void **state)
{
	struct mastercf_edit e;
	VSTR		    *v = vstr_alloc(64);
	char		    *text;

	(void)state;
	parse_ok("submission inet n - y 60? 10 smtpd -v -o a=1 "
		 "-o { b = x y } -oc=3 -n name -o d=4 arg -o notopt=1",
		 &e);
	assert_string_equal(e.field[0], "submission");
	assert_string_equal(e.field[5], "60?");
	assert_string_equal(e.field[6], "10");
	assert_string_equal(mastercf_edit_get_param(&e, "a"), "1");
	assert_string_equal(mastercf_edit_get_param(&e, "b"), "x y");
	assert_string_equal(mastercf_edit_get_param(&e, "c"), "3");
	assert_string_equal(mastercf_edit_get_param(&e, "d"), "4");
	/* after the first non-option word, -o is an argument */
	assert_null(mastercf_edit_get_param(&e, "notopt"));
	mastercf_edit_field(&e, MASTERCF_EDIT_COMMAND, v);
	assert_string_equal(VSTR_STR(v), "smtpd -v -n name arg -o notopt=1");
	mastercf_edit_field(&e, 4, v);
	assert_string_equal(VSTR_STR(v), "y");
	text = render(&e);
	assert_string_equal(text, "submission inet n - y 60? 10 smtpd -v\n"
				  "  -o a=1\n"
				  "  -o { b = x y }\n"
				  "  -o c=3 -n name\n"
				  "  -o d=4 arg -o notopt=1");
	myfree(text);
	mastercf_edit_free(&e);
	vstr_free(v);
}

/* What render writes, master.cf reads as the same service. */
static void
test_render_reads_back(void **state)
{
	struct mastercf_edit	       e;
	VSTR			      *why = vstr_alloc(64);
	MASTERCF		      *m;
	char			      *text;
	const struct mastercf_service *s;

	(void)state;
	parse_ok("relay unix - - n - - smtp -o { x = } -o { y = {a b} } arg",
		 &e);
	assert_string_equal(mastercf_edit_get_param(&e, "x"), "");
	assert_string_equal(mastercf_edit_get_param(&e, "y"), "{a b}");
	text = render(&e);
	m = mastercf_open_buffer("t", text, strlen(text), NULL, why);
	assert_non_null(m);
	s = mastercf_at(m, 0);
	assert_int_equal(s->noverrides, 2);
	assert_string_equal(s->overrides[0], "x=");
	assert_string_equal(s->overrides[1], "y={a b}");
	assert_int_equal(s->argc, 2);
	mastercf_free(m);
	myfree(text);
	mastercf_edit_free(&e);
	vstr_free(why);
}

static void
test_parse_errors(void **state)
{
	struct mastercf_edit e;
	VSTR		    *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(mastercf_edit_parse("smtp inet n - n -", &e, why), -1);
	assert_string_equal(VSTR_STR(why),
			    "missing process_limit field (need 8 fields)");
	assert_int_equal(mastercf_edit_parse("a unix - - - - -", &e, why), -1);
	assert_string_equal(VSTR_STR(why), "missing command name");
	assert_int_equal(mastercf_edit_parse("a unix - - - - - x -o", &e, why),
			 -1);
	assert_string_equal(VSTR_STR(why), "-o without name=value");
	assert_int_equal(mastercf_edit_parse("a unix - - - - - x -o {a=b", &e,
					     why),
			 -1);
	assert_string_equal(VSTR_STR(why), "missing '}' in command arguments");
	assert_int_equal(mastercf_edit_parse("a unix - - - - - x -o =b", &e,
					     why),
			 -1);
	assert_string_equal(VSTR_STR(why),
			    "bad -o argument \"=b\" (need name=value)");
	vstr_free(why);
}

static void
test_set_and_delete_params(void **state)
{
	struct mastercf_edit e;
	VSTR		    *why = vstr_alloc(64);
	char		    *text;

	(void)state;
	parse_ok("s unix - - n - - cmd -o a=1 -o b=2 -o a=3 arg", &e);
	assert_string_equal(mastercf_edit_get_param(&e, "a"), "3");
	/* the last one is replaced, earlier duplicates go */
	assert_int_equal(mastercf_edit_set_param(&e, "a", " new value ", why),
			 0);
	assert_int_equal(mastercf_edit_set_param(&e, "c", "4", why), 0);
	text = render(&e);
	assert_string_equal(text, "s unix - - n - - cmd\n"
				  "  -o b=2\n"
				  "  -o { a = new value }\n"
				  "  -o c=4 arg");
	myfree(text);
	assert_int_equal(mastercf_edit_set_param(&e, "bad name", "x", why), -1);
	assert_string_equal(VSTR_STR(why), "bad parameter name \"bad name\"");
	assert_int_equal(mastercf_edit_set_param(&e, "d", "a}b{", why), -1);
	assert_int_equal(mastercf_edit_set_param(&e, "d", "a\nb", why), -1);
	assert_int_equal(mastercf_edit_del_param(&e, "b"), 1);
	assert_int_equal(mastercf_edit_del_param(&e, "b"), 0);
	text = render(&e);
	assert_string_equal(text, "s unix - - n - - cmd\n"
				  "  -o { a = new value }\n"
				  "  -o c=4 arg");
	myfree(text);
	mastercf_edit_free(&e);
	/* a service without -o gets the new one right after the command */
	parse_ok("t unix - - n - - cmd arg", &e);
	assert_int_equal(mastercf_edit_set_param(&e, "x", "1", why), 0);
	text = render(&e);
	assert_string_equal(text, "t unix - - n - - cmd\n  -o x=1 arg");
	myfree(text);
	mastercf_edit_free(&e);
	vstr_free(why);
}

static void
test_set_fields(void **state)
{
	struct mastercf_edit e;
	VSTR		    *why = vstr_alloc(64);
	VSTR		    *v = vstr_alloc(64);
	char		    *text;

	(void)state;
	parse_ok("s unix - - n - - cmd -o a=1 old", &e);
	assert_int_equal(mastercf_edit_field_index("process_limit"), 6);
	assert_int_equal(mastercf_edit_field_index("maxproc"), -1);
	assert_string_equal(mastercf_edit_field_name(3), "unprivileged");
	assert_null(mastercf_edit_field_name(8));
	assert_int_equal(mastercf_edit_set_field(&e, 4, "y", why), 0);
	assert_int_equal(mastercf_edit_set_field(&e, 5, "300?", why), 0);
	assert_int_equal(mastercf_edit_set_field(&e, 6, "0", why), 0);
	assert_int_equal(mastercf_edit_set_field(&e, 1, "fifo", why), 0);
	assert_int_equal(mastercf_edit_set_field(&e, 7, "new -v x", why), 0);
	mastercf_edit_field(&e, 7, v);
	assert_string_equal(VSTR_STR(v), "new -v x");
	assert_string_equal(mastercf_edit_get_param(&e, "a"), "1");
	text = render(&e);
	assert_string_equal(text, "s fifo - - y 300? 0 new\n  -o a=1 -v x");
	myfree(text);
	assert_int_equal(mastercf_edit_set_field(&e, 2, "yes", why), -1);
	assert_string_equal(VSTR_STR(why),
			    "bad private value \"yes\" (y, n, -)");
	assert_int_equal(mastercf_edit_set_field(&e, 5, "?", why), -1);
	assert_int_equal(mastercf_edit_set_field(&e, 6, "10?", why), -1);
	assert_int_equal(mastercf_edit_set_field(&e, 6, "99999999999", why),
			 -1);
	assert_int_equal(mastercf_edit_set_field(&e, 1, "tcp", why), -1);
	assert_int_equal(mastercf_edit_set_field(&e, 0, "a b", why), -1);
	assert_int_equal(mastercf_edit_set_field(&e, 0, "#x", why), -1);
	assert_int_equal(mastercf_edit_set_field(&e, 7, "-v", why), -1);
	assert_int_equal(mastercf_edit_set_field(&e, 7, "x -o a=b", why), -1);
	assert_string_equal(VSTR_STR(why), "the command field takes no -o "
					   "options; set them with -P");
	assert_int_equal(mastercf_edit_set_field(&e, 7, "", why), -1);
	assert_int_equal(mastercf_edit_set_field(&e, 8, "x", why), -1);
	mastercf_edit_free(&e);
	vstr_free(why);
	vstr_free(v);
}

static void
test_arg_parse(void **state)
{
	struct mastercf_arg a;
	VSTR		   *why = vstr_alloc(64);

	(void)state;
	assert_int_equal(mastercf_arg_parse(" smtp/inet/chroot = y ", false, &a,
					    why),
			 0);
	assert_string_equal(a.service, "smtp");
	assert_string_equal(a.type, "inet");
	assert_string_equal(a.name, "chroot");
	assert_string_equal(a.value, "y");
	mastercf_arg_free(&a);
	/* a service holding '/', a value holding '=' */
	assert_int_equal(mastercf_arg_parse("a/b/unix/x=k=v", false, &a, why),
			 0);
	assert_string_equal(a.service, "a/b");
	assert_string_equal(a.value, "k=v");
	mastercf_arg_free(&a);
	assert_int_equal(mastercf_arg_parse("*/*/chroot", true, &a, why), 0);
	assert_null(a.value);
	assert_true(mastercf_arg_match(a.service, "anything"));
	assert_true(mastercf_arg_match(a.name, "chroot"));
	assert_false(mastercf_arg_match("smtp", "smtpd"));
	mastercf_arg_free(&a);
	assert_int_equal(mastercf_arg_parse("*/*/chroot", false, &a, why), -1);
	assert_int_equal(mastercf_arg_parse("smtp/inet", false, &a, why), -1);
	assert_string_equal(VSTR_STR(why),
			    "bad argument \"smtp/inet\": use service/type/name");
	assert_int_equal(mastercf_arg_parse("smtp//x", false, &a, why), -1);
	assert_int_equal(mastercf_arg_parse("s p/inet/x", false, &a, why), -1);
	assert_int_equal(mastercf_arg_parse("a/b/c=x\ny", false, &a, why), -1);
	assert_int_equal(mastercf_arg_parse("", false, &a, why), -1);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fields_options_and_words),
		cmocka_unit_test(test_render_reads_back),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_set_and_delete_params),
		cmocka_unit_test(test_set_fields),
		cmocka_unit_test(test_arg_parse),
	};

	return cmocka_run_group_tests_name("mastercf_edit", tests, NULL, NULL);
}
