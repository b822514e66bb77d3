/*
 * fuzz_milter - libFuzzer target for the milter reply parser.
 *
 * The first byte picks the stage, the next two the negotiated actions and
 * protocol flags (all or none), the rest is a stream of milter packets
 * (4-byte length, command, data) as they would arrive on the socket; each
 * goes through milter_reply_parse until one is final or malformed.  The
 * collected modifications are then walked.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/milter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MILTER_REPLY *r;
	VSTR	     *why;
	uint32_t      actions, protocol;
	int	      stage;
	size_t	      total = 0;

	if (size < 3)
		return 0;
	stage = data[0] % (MILTER_STAGE_OPTNEG + 1);
	actions = data[1] & 1 ? 0x1ff : (uint32_t)data[1];
	protocol = data[2] & 1 ? 0x1fffff : (uint32_t)data[2] << 4;
	data += 3;
	size -= 3;
	r = milter_reply_alloc();
	r->body_limit = 4096;
	why = vstr_alloc(16);
	while (size >= 5) {
		uint32_t n;
		int	 ret;

		memcpy(&n, data, 4);
		n = ntohl(n);
		if (n < 1 || n - 1 > size - 5)
			break;
		ret = milter_reply_parse(r, stage, actions, protocol, data[4],
					 (const char *)data + 5, n - 1, why);
		data += 4 + n;
		size -= 4 + n;
		if (ret != 0)
			break;
	}
	for (size_t i = 0; i < r->nmods; i++)
		total += strlen(r->mods[i].name)
			 + (r->mods[i].value ? strlen(r->mods[i].value) : 0);
	if (VSTR_LEN(r->body) > 4096 || r->nmods > MILTER_MODS_MAX)
		__builtin_trap();
	(void)total;
	milter_reply_free(r);
	vstr_free(why);
	return 0;
}
