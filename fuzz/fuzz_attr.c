/*
 * fuzz_attr - libFuzzer target for util/attr's frame decoder.
 *
 * Any input either fails to decode or decodes to a list whose encoding is
 * byte for byte the input (the format is canonical: no leading zeros, no
 * duplicates, one frame) and decodes again to the same list.  The payload
 * decoder and the length parser get the input too.  Finally the input goes
 * through a socketpair into an IPC_STREAM: the frames it yields, encoded
 * again, must be exactly a prefix of the input (nothing lost, nothing
 * invented between frames).
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/attr.h"
#include "util/ipc.h"
#include "util/vstr.h"

static void
fuzz_same_list(const ATTR *a, const ATTR *b)
{
	size_t i;

	if (attr_count(a) != attr_count(b))
		abort();
	for (i = 0; i < attr_count(a); i++) {
		size_t	    alen;
		size_t	    blen;
		const void *av = attr_value_at(a, i, &alen);
		const void *bv = attr_get_data(b, attr_name_at(a, i), &blen);

		if (strcmp(attr_name_at(a, i), attr_name_at(b, i)) != 0
		    || bv == NULL || alen != blen || memcmp(av, bv, alen) != 0)
			abort();
	}
}

static void
fuzz_stream(const uint8_t *data, size_t size, ATTR *a, VSTR *buf, VSTR *why)
{
	IPC_STREAM *st;
	int	    sv[2];

	/* Inputs are kept below the socket buffer: one write, then EOF. */
	if (size > 32768
	    || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if (write_full(sv[0], data, size, 0) != (ssize_t)size)
		abort();
	close(sv[0]);
	st = ipc_stream_open(sv[1]);
	ipc_stream_set_max(st, 4096);
	vstr_reset(buf);
	while (ipc_stream_recv(st, a, 1000, why) == 0)
		attr_encode(a, buf);
	if (VSTR_LEN(buf) > size || memcmp(VSTR_STR(buf), data, VSTR_LEN(buf)))
		abort();
	ipc_stream_close(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ATTR *a;
	static ATTR *b;
	static VSTR *buf;
	static VSTR *why;
	size_t	     len;

	if (a == NULL) {
		a = attr_alloc();
		b = attr_alloc();
		buf = vstr_alloc(0);
		why = vstr_alloc(0);
	}
	(void)attr_parse_len((const char *)data, size, ATTR_FRAME_MAX, &len);
	if (attr_decode((const char *)data, size, a, why) == 0) {
		vstr_reset(buf);
		attr_encode(a, buf);
		if (VSTR_LEN(buf) != size
		    || VSTR_LEN(buf) != attr_encoded_len(a)
		    || memcmp(VSTR_STR(buf), data, size) != 0)
			abort();
		if (attr_decode(VSTR_STR(buf), VSTR_LEN(buf), b, why) != 0)
			abort();
		fuzz_same_list(a, b);
	} else if (attr_count(a) != 0 || VSTR_LEN(why) == 0) {
		abort();
	}
	/* The same bytes as a bare payload, then round trip through a frame. */
	if (attr_decode_payload((const char *)data, size, a, why) == 0) {
		vstr_reset(buf);
		attr_encode(a, buf);
		if (attr_decode(VSTR_STR(buf), VSTR_LEN(buf), b, why) != 0)
			abort();
		fuzz_same_list(a, b);
	}
	fuzz_stream(data, size, a, buf, why);
	return 0;
}
