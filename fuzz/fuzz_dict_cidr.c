/*
 * fuzz_dict_cidr - libFuzzer target for util/dict_cidr: cidr: table text, checked
 * as fuzz/dict_text.h describes.
 *
 * SPDX-License-Identifier: ISC
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/dict_text.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return dict_text_fuzz("cidr", data, size);
}
