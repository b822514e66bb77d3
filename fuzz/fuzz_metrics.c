/*
 * fuzz_metrics - libFuzzer target for the reader of util/metrics: the
 * metrics service renders whatever the shared table file holds, which
 * every Postel process can write, so the image is untrusted input.
 *
 * The first byte picks the shape: with its top bit set the input is the
 * whole image (header included); else the header is a valid one for
 * 1..8 slots and the rest of the input fills the slots, so the fuzzer
 * works on the slot checks (family, label text, escapes, histograms).
 *
 * Invariants: no crash; a refused header writes nothing; the text holds
 * no NUL and no control character but newline, ends with a newline,
 * and has at most one series per slot beyond the families' zero lines.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/metrics.h"
#include "util/vstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VSTR	      *out;
	unsigned char *img;
	size_t	       len, skipped;
	unsigned       nslots = 0;
	int	       n;

	if (size < 1)
		return 0;
	if (data[0] & 0x80) {
		len = size - 1;
		img = calloc(1, len ? len : 1);
		if (img == NULL)
			return 0;
		memcpy(img, data + 1, len);
	} else {
		size_t head = metrics_image_size(0);

		nslots = 1 + data[0] % 8;
		len = metrics_image_size(nslots);
		img = calloc(1, len);
		if (img == NULL)
			return 0;
		metrics_image_init(img, nslots);
		memcpy(img + head, data + 1,
		       size - 1 < len - head ? size - 1 : len - head);
	}
	out = vstr_alloc(256);
	n = metrics_render(img, len, out, &skipped);
	if (n < 0) {
		if (VSTR_LEN(out) != 0 || nslots != 0)
			abort();
	} else {
		const char *t = VSTR_STR(out);

		if (VSTR_LEN(out) == 0 || t[VSTR_LEN(out) - 1] != '\n')
			abort();
		if (strlen(t) != VSTR_LEN(out))
			abort();
		for (size_t i = 0; i < VSTR_LEN(out); i++)
			if ((unsigned char)t[i] < 0x20 && t[i] != '\n')
				abort();
		if (nslots && (size_t)n > nslots + METRICS_NFAMILIES)
			abort();
	}
	vstr_free(out);
	free(img);
	return 0;
}
