/*
 * postdrop_proto - what sendmail writes on postdrop's standard input.
 *
 * A sequence of util/attr frames (read with an IPC_STREAM):
 *
 *	{request=envelope, sender, [fullname], extract (0/1), [envid], ret}
 *	{request=rcpt, addr, notify}	one per command-line recipient
 *	{request=data, data}		content in wire form (CRLF)
 *	{request=end}
 *
 * postdrop adds what it alone may say (the real uid, the arrival time),
 * writes the maildrop file (util/maildrop.h) and answers with its exit
 * status only.  End of file before {request=end} abandons the message.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef SENDMAIL_POSTDROP_PROTO_H
#define SENDMAIL_POSTDROP_PROTO_H

#define POSTDROP_REQ_ENVELOPE "envelope"
#define POSTDROP_REQ_RCPT     "rcpt"
#define POSTDROP_REQ_DATA     "data"
#define POSTDROP_REQ_END      "end"

/* Largest frame postdrop accepts; sendmail sends smaller data frames. */
#define POSTDROP_FRAME_MAX  (1024 * 1024)
#define POSTDROP_DATA_CHUNK (256 * 1024)

#endif
