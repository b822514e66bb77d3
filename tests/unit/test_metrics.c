/*
 * Unit tests for util/metrics: the shared table (create, attach, counts
 * across processes, a full table), the typed event helpers, and the
 * reader's Prometheus text and its checks of an untrusted image.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/metrics.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f = mycalloc(1, sizeof(*f));
	VSTR	       *why = vstr_alloc(64);

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_metrics.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/metrics.shm", f->dir);
	assert_int_equal(metrics_create(f->path, (uid_t)-1, (gid_t)-1, why), 0);
	vstr_free(why);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	metrics_detach();
	harness_rmtree(f->dir);
	myfree(f);
	return 0;
}

/* The rendered text of the mapped table. */
static char *
render(size_t *skipped)
{
	const void *image;
	size_t	    len;
	VSTR	   *out = vstr_alloc(4096);

	image = metrics_image(&len);
	assert_non_null(image);
	assert_true(metrics_render(image, len, out, skipped) >= 0);
	return vstr_export(out);
}

static void
assert_line(const char *text, const char *line)
{
	VSTR *want = vstr_alloc(100);

	vstr_sprintf(want, "\n%s\n", line);
	if (strstr(text, VSTR_STR(want)) == NULL)
		fail_msg("no line \"%s\" in:\n%s", line, text);
	vstr_free(want);
}

static void
test_metrics_events_render_as_prometheus_text(void **state)
{
	char  *text;
	size_t skipped;

	(void)state;
	metrics_smtpd_connection();
	metrics_smtpd_connection();
	metrics_smtpd_reject("RCPT", "554 5.7.1 <x@y>: Relay access denied");
	metrics_smtpd_reject("rcpt", "554 5.7.1 again");
	metrics_smtpd_reject("EHLO", "504 5.5.2 <x>: Helo command rejected");
	metrics_smtpd_reject("END-OF-MESSAGE", "451 4.3.0 milter said so");
	metrics_smtpd_reject("AUTH", "535");
	metrics_received("smtp", 1000);
	metrics_received("local", 5000);
	metrics_delivery("smtp", DELIVER_SENT, 0.25);
	metrics_delivery("smtp", DELIVER_SENT, 2);
	metrics_delivery("local", DELIVER_BOUNCED, 1);
	metrics_delivery("smtp", DELIVER_DEFERRED, 100);
	metrics_tls("in", "TLSv1.3");
	metrics_processes("smtp", 3);
	metrics_processes("smtp", 2);
	text = render(&skipped);
	assert_int_equal(skipped, 0);
	assert_non_null(strstr(text, "# HELP postel_smtpd_connections_total "));
	assert_line(text, "# TYPE postel_smtpd_connections_total counter");
	assert_line(text, "postel_smtpd_connections_total 2");
	assert_line(text,
		    "postel_smtpd_rejects_total{stage=\"rcpt\",code=\"554\"} 2");
	assert_line(text,
		    "postel_smtpd_rejects_total{stage=\"helo\",code=\"504\"} 1");
	assert_line(text, "postel_smtpd_rejects_total{stage=\"end_of_data\","
			  "code=\"451\"} 1");
	assert_line(text,
		    "postel_smtpd_rejects_total{stage=\"auth\",code=\"535\"} 1");
	assert_line(text, "postel_messages_received_total{origin=\"smtp\"} 1");
	assert_line(text, "postel_messages_received_total{origin=\"local\"} 1");
	assert_line(text, "postel_deliveries_total{transport=\"smtp\","
			  "status=\"sent\"} 2");
	assert_line(text, "postel_deliveries_total{transport=\"smtp\","
			  "status=\"deferred\"} 1");
	assert_line(text, "postel_deliveries_total{transport=\"local\","
			  "status=\"bounced\"} 1");
	assert_line(text, "# TYPE postel_delivery_delay_seconds histogram");
	assert_line(text, "postel_delivery_delay_seconds_bucket{transport="
			  "\"smtp\",le=\"0.1\"} 0");
	assert_line(text, "postel_delivery_delay_seconds_bucket{transport="
			  "\"smtp\",le=\"0.5\"} 1");
	assert_line(text, "postel_delivery_delay_seconds_bucket{transport="
			  "\"smtp\",le=\"5\"} 2");
	assert_line(text, "postel_delivery_delay_seconds_bucket{transport="
			  "\"smtp\",le=\"+Inf\"} 2");
	assert_line(text,
		    "postel_delivery_delay_seconds_sum{transport=\"smtp\"} "
		    "2.250");
	assert_line(text, "postel_delivery_delay_seconds_count{transport="
			  "\"smtp\"} 2");
	/* Only sent recipients have a delay. */
	assert_null(strstr(text, "delay_seconds_count{transport=\"local\""));
	assert_line(text, "postel_message_size_bytes_bucket{le=\"1024\"} 1");
	assert_line(text, "postel_message_size_bytes_bucket{le=\"4096\"} 1");
	assert_line(text, "postel_message_size_bytes_bucket{le=\"16384\"} 2");
	assert_line(text, "postel_message_size_bytes_bucket{le=\"1048576\"} 2");
	assert_line(text, "postel_message_size_bytes_sum 6000");
	assert_line(text, "postel_message_size_bytes_count 2");
	assert_line(text, "postel_tls_sessions_total{direction=\"in\","
			  "protocol=\"TLSv1.3\"} 1");
	assert_line(text, "postel_processes{service=\"smtp\"} 2");
	assert_line(text, "postel_metrics_overflow_total 0");
	myfree(text);
}

static void
test_metrics_rejects_count_only_known_stages_and_codes(void **state)
{
	char *text;

	(void)state;
	metrics_smtpd_reject("VRFY", "550 5.1.1 no");
	metrics_smtpd_reject("RCPT", "250 2.1.5 Ok");
	metrics_smtpd_reject("RCPT", "55");
	metrics_smtpd_reject("RCPT", "5x0 odd");
	metrics_smtpd_reject("MAIL", "452 4.3.1 Insufficient system storage");
	text = render(NULL);
	assert_null(strstr(text, "postel_smtpd_rejects_total{stage=\"rcpt\""));
	assert_line(text,
		    "postel_smtpd_rejects_total{stage=\"mail\",code=\"452\"} 1");
	/* No labels: reads 0 before the first event. */
	assert_line(text, "postel_smtpd_connections_total 0");
	myfree(text);
}

static void
test_metrics_labels_are_escaped_and_bounded(void **state)
{
	VSTR *out = vstr_alloc(16);
	char  longval[300];
	char *text;

	(void)state;
	assert_int_equal(metrics_labels(out,
					(const char *const[]){ "transport",
							       "a\"b\\c\nd" },
					1),
			 0);
	assert_string_equal(VSTR_STR(out), "transport=\"a\\\"b\\\\c\\nd\"");
	metrics_delivery("a\"b\\c\nd", DELIVER_SENT, 0);
	memset(longval, 'x', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = 0;
	assert_int_equal(metrics_labels(out,
					(const char *const[]){ "transport",
							       longval },
					1),
			 -1);
	/* Too long for the table: counted as overflow, not truncated. */
	metrics_delivery(longval, DELIVER_SENT, 0);
	text = render(NULL);
	assert_line(text,
		    "postel_deliveries_total{transport=\"a\\\"b\\\\c\\nd\","
		    "status=\"sent\"} 1");
	assert_null(strstr(text, "xxxxxxxx"));
	assert_line(text, "postel_metrics_overflow_total 2");
	myfree(text);
	vstr_free(out);
}

static void
test_metrics_full_table_counts_overflow(void **state)
{
	char  name[32];
	char *text;

	(void)state;
	for (int i = 0; i < METRICS_SLOTS; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		metrics_processes(name, i);
	}
	metrics_processes("one-too-many", 1);
	metrics_processes("s17", 170); /* existing series still work */
	text = render(NULL);
	assert_line(text, "postel_processes{service=\"s1023\"} 1023");
	assert_line(text, "postel_processes{service=\"s17\"} 170");
	assert_null(strstr(text, "one-too-many"));
	assert_line(text, "postel_metrics_overflow_total 1");
	myfree(text);
}

static void
test_metrics_processes_add_atomically(void **state)
{
	enum {
		NPROC = 4,
		NADD = 20000
	};
	char  name[32];
	char *text;
	pid_t pids[NPROC];
	int   status;

	(void)state;
	for (int p = 0; p < NPROC; p++) {
		if ((pids[p] = fork()) == 0) {
			for (int i = 0; i < NADD; i++) {
				metrics_smtpd_connection();
				/* Distinct keys race for slots too. */
				snprintf(name, sizeof(name), "svc%d", i % 64);
				metrics_tls("out", name);
			}
			_exit(0);
		}
		assert_true(pids[p] > 0);
	}
	for (int p = 0; p < NPROC; p++) {
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	text = render(NULL);
	assert_line(text, "postel_smtpd_connections_total 80000");
	/* Every key once, with every child's adds. */
	for (int i = 0; i < 64; i++) {
		VSTR *line = vstr_alloc(100);

		vstr_sprintf(line,
			     "postel_tls_sessions_total{direction=\"out\","
			     "protocol=\"svc%d\"} %d",
			     i, NPROC * (NADD / 64 + (i < NADD % 64)));
		assert_line(text, VSTR_STR(line));
		vstr_free(line);
	}
	myfree(text);
}

static void
test_metrics_counters_survive_a_new_mapping(void **state)
{
	struct fixture *f = *state;
	char	       *text;

	metrics_smtpd_connection();
	metrics_detach();
	metrics_smtpd_connection(); /* not mapped: nothing happens */
	assert_int_equal(metrics_attach(f->path), 0);
	metrics_smtpd_connection();
	text = render(NULL);
	assert_line(text, "postel_smtpd_connections_total 2");
	myfree(text);
}

static void
test_metrics_attach_refuses_wrong_files(void **state)
{
	struct fixture *f = *state;
	char		path[160];
	FILE	       *fp;

	snprintf(path, sizeof(path), "%s/absent", f->dir);
	assert_int_equal(metrics_attach(path), -1);
	assert_null(metrics_image(&(size_t){ 0 }));
	snprintf(path, sizeof(path), "%s/short", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("PSTLMTR1", fp);
	fclose(fp);
	assert_int_equal(metrics_attach(path), -1);
	assert_int_equal(metrics_attach(f->path), 0);
}

/* A private copy of the image, to damage. */
static unsigned char *
image_copy(size_t *len)
{
	const void    *image = metrics_image(len);
	unsigned char *copy = mymalloc(*len);

	memcpy(copy, image, *len);
	return copy;
}

static void
test_metrics_render_checks_the_header(void **state)
{
	unsigned char *img;
	size_t	       len;
	VSTR	      *out = vstr_alloc(100);

	(void)state;
	img = image_copy(&len);
	assert_true(metrics_render(img, len, out, NULL) >= 0);
	vstr_reset(out);
	assert_int_equal(metrics_render(img, 10, out, NULL), -1);
	assert_int_equal(metrics_render(img, len - 1, out, NULL), -1);
	assert_int_equal(metrics_render(NULL, 0, out, NULL), -1);
	img[0] ^= 1; /* magic */
	assert_int_equal(metrics_render(img, len, out, NULL), -1);
	img[0] ^= 1;
	img[12] = 0xff; /* nslots */
	img[13] = 0xff;
	img[14] = 0xff;
	assert_int_equal(metrics_render(img, len, out, NULL), -1);
	assert_int_equal(VSTR_LEN(out), 0);
	myfree(img);
	vstr_free(out);
}

/* Find the published slot whose label text is labels; its byte offset. */
static size_t
slot_offset(const unsigned char *img, size_t len, const char *labels)
{
	size_t n = strlen(labels) + 1;

	for (size_t off = 0; off + n <= len; off++)
		if (memcmp(img + off, labels, n) == 0)
			return off;
	fail_msg("no slot with %s", labels);
	return 0;
}

static void
test_metrics_render_skips_damaged_slots(void **state)
{
	unsigned char *img;
	size_t	       len, off, skipped;
	VSTR	      *out = vstr_alloc(100);

	(void)state;
	metrics_processes("good", 1);
	metrics_processes("bad1", 1);
	metrics_processes("bad2", 1);
	metrics_processes("bad3", 1);
	metrics_processes("bad4", 1);
	img = image_copy(&len);
	/* A label name that is not the family's. */
	off = slot_offset(img, len, "service=\"bad1\"");
	memcpy(img + off, "servicX", 7);
	/* A value with a bad escape. */
	off = slot_offset(img, len, "service=\"bad2\"");
	memcpy(img + off + 9, "\\x", 2);
	/* No NUL in the whole label field. */
	off = slot_offset(img, len, "service=\"bad3\"");
	memset(img + off, 'a', METRICS_LABELS_MAX);
	/* A family number out of range (the word before the labels). */
	off = slot_offset(img, len, "service=\"bad4\"");
	memset(img + off - 4, 0xee, 4);
	assert_true(metrics_render(img, len, out, &skipped) >= 0);
	assert_int_equal(skipped, 4);
	assert_non_null(strstr(VSTR_STR(out), "service=\"good\"} 1\n"));
	assert_null(strstr(VSTR_STR(out), "bad"));
	assert_non_null(
	    strstr(VSTR_STR(out), "postel_metrics_overflow_total 4\n"));
	myfree(img);
	vstr_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_metrics_events_render_as_prometheus_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_rejects_count_only_known_stages_and_codes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_labels_are_escaped_and_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_full_table_counts_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_processes_add_atomically, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_counters_survive_a_new_mapping, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_attach_refuses_wrong_files, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_render_checks_the_header, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_metrics_render_skips_damaged_slots, setup, teardown),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
