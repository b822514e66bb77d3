/*
 * fuzz_pcre - libFuzzer target for util/dict_pcre (and the shared rule frame util/dict_pat): pcre: table text, checked
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
	return dict_text_fuzz("pcre", data, size);
}
