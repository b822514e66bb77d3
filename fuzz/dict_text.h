/*
 * dict_text - the body of the libFuzzer targets for tables read from text
 * (regexp:, pcre:, cidr:).  Not a target itself: linked in through each
 * target's .objs file.
 *
 * The input is table text.  It either fails to open with a reason naming
 * "fuzz:LINE" (anything else aborts), or opens and answers lookups of the
 * fixed keys, of a few addresses and of each input line (patterns often
 * match their own text; networks contain their own address), where a
 * found value is a C string.  Warnings are silenced so the run stays fast.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef FUZZ_DICT_TEXT_H
#define FUZZ_DICT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Always 0, as LLVMFuzzerTestOneInput returns. */
int dict_text_fuzz(const char *type, const uint8_t *data, size_t size);

#endif
