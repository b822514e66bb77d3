/*
 * cleanup_mime - a bounded MIME structure scanner (see cleanup_mime.h).
 *
 * The state machine follows Postfix's (global/mime_state.c) in what it
 * recognises, so that checks written for Postfix see the same header
 * blocks: a header block ends at an empty line, or at a line that is not
 * a header field (which is then body); after a header block, a
 * message/rfc822 (or message/global) entity continues with the attached
 * message's header, a multipart entity with its preamble; in the body a
 * line "--boundary" of any open multipart level closes the levels inside
 * it and starts a part header, "--boundary--" also closes that level.
 * Text after the boundary on such a line is ignored, as Postfix and
 * most readers do.  Only the first CLEANUP_MIME_BOUNDARY_MAX bytes of a
 * boundary are compared (Postfix's mime_boundary_length_limit).
 *
 * Errors: see cleanup_mime.h.  Ownership: see cleanup_mime.h.
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "cleanup/cleanup_mime.h"
#include "util/mymalloc.h"
#include "util/vstr.h"

struct cleanup_mime_level {
	char			 *boundary;
	size_t			  len;
	enum cleanup_mime_type	  def_type; /* of its parts */
	enum cleanup_mime_subtype def_subtype;
};

enum cleanup_mime_state {
	CLEANUP_MIME_ST_HEADER, /* in a part's or message's header */
	CLEANUP_MIME_ST_BODY,	/* body text, boundaries, preamble */
};

struct CLEANUP_MIME {
	const struct cleanup_mime_ops *ops;
	void			      *ctx;
	size_t			       header_limit;
	long long		       nesting_limit;
	enum cleanup_mime_state	       state;
	enum cleanup_mime_class	   hclass; /* of the header block being read */
	enum cleanup_mime_type	   type;   /* of the current entity */
	enum cleanup_mime_subtype  subtype;
	HEADER_PARSER		  *hp; /* in CLEANUP_MIME_ST_HEADER */
	struct cleanup_mime_level *stack;
	size_t			   depth, cap;
	VSTR			  *line; /* a line not yet complete */
	bool	    in_long;	/* past the first part of a long line */
	bool	    long_drop;	/* ... and its rest is dropped */
	bool	    reported;	/* the nesting error went out */
	const char *field_text; /* the Content-Type being parsed */
	size_t	    field_len;
};

#define CLEANUP_MIME_TSPECIALS "()<>@,;:\\\"/[]?="

/* --- Content-Type --------------------------------------------------------- */

struct cleanup_mime_lex {
	const char *cp, *end;
	VSTR	   *tok;
};

enum cleanup_mime_tok {
	CLEANUP_MIME_TOK_END,
	CLEANUP_MIME_TOK_ATOM,
	CLEANUP_MIME_TOK_QUOTED,
	CLEANUP_MIME_TOK_SPECIAL,
};

/* The next token; white space, folding and (nested) comments are skipped. */
static enum cleanup_mime_tok
cleanup_mime_lex_next(struct cleanup_mime_lex *lx, int *special)
{
	unsigned char ch;
	size_t	      depth;

	for (;;) {
		while (lx->cp < lx->end
		       && (*lx->cp == ' ' || *lx->cp == '\t' || *lx->cp == '\r'
			   || *lx->cp == '\n'))
			lx->cp++;
		if (lx->cp >= lx->end || *lx->cp != '(')
			break;
		for (depth = 0; lx->cp < lx->end; lx->cp++) {
			if (*lx->cp == '\\' && lx->cp + 1 < lx->end)
				lx->cp++;
			else if (*lx->cp == '(')
				depth++;
			else if (*lx->cp == ')' && --depth == 0) {
				lx->cp++;
				break;
			}
		}
	}
	vstr_reset(lx->tok);
	if (lx->cp >= lx->end)
		return CLEANUP_MIME_TOK_END;
	ch = (unsigned char)*lx->cp;
	if (ch == '"') {
		for (lx->cp++; lx->cp < lx->end && *lx->cp != '"'; lx->cp++) {
			if (*lx->cp == '\\' && lx->cp + 1 < lx->end)
				lx->cp++;
			/* folding inside a quoted string is not part of it */
			if (*lx->cp != '\r' && *lx->cp != '\n')
				vstr_addch(lx->tok, *lx->cp);
		}
		if (lx->cp < lx->end)
			lx->cp++;
		return CLEANUP_MIME_TOK_QUOTED;
	}
	/* a control character is a token of its own, so it is consumed */
	if (strchr(CLEANUP_MIME_TSPECIALS, ch) != NULL || ch < ' '
	    || ch == 127) {
		*special = ch;
		lx->cp++;
		return CLEANUP_MIME_TOK_SPECIAL;
	}
	while (lx->cp < lx->end) {
		ch = (unsigned char)*lx->cp;
		if (ch <= ' ' || ch == 127
		    || strchr(CLEANUP_MIME_TSPECIALS, ch) != NULL)
			break;
		vstr_addch(lx->tok, (char)ch);
		lx->cp++;
	}
	return CLEANUP_MIME_TOK_ATOM;
}

static bool
cleanup_mime_tok_is(const struct cleanup_mime_lex *lx, enum cleanup_mime_tok t,
		    const char *word)
{
	return t == CLEANUP_MIME_TOK_ATOM
	       && strcasecmp(VSTR_STR(lx->tok), word) == 0;
}

void
cleanup_mime_parse_ctype(const char *value, size_t len,
			 enum cleanup_mime_type	   *type,
			 enum cleanup_mime_subtype *subtype,
			 CLEANUP_MIME_BOUNDARY_FN fn, void *ctx)
{
	struct cleanup_mime_lex lx = { value, value + len, vstr_alloc(64) };
	enum cleanup_mime_tok	t;
	int			sp = 0;
	bool			boundary;

	*type = CLEANUP_MIME_T_OTHER;
	*subtype = CLEANUP_MIME_S_OTHER;
	t = cleanup_mime_lex_next(&lx, &sp);
	if (cleanup_mime_tok_is(&lx, t, "text"))
		*type = CLEANUP_MIME_T_TEXT;
	else if (cleanup_mime_tok_is(&lx, t, "message"))
		*type = CLEANUP_MIME_T_MESSAGE;
	else if (cleanup_mime_tok_is(&lx, t, "multipart"))
		*type = CLEANUP_MIME_T_MULTIPART;
	if (t != CLEANUP_MIME_TOK_END) {
		t = cleanup_mime_lex_next(&lx, &sp);
		if (t == CLEANUP_MIME_TOK_SPECIAL && sp == '/') {
			t = cleanup_mime_lex_next(&lx, &sp);
			if (cleanup_mime_tok_is(&lx, t, "plain"))
				*subtype = CLEANUP_MIME_S_PLAIN;
			else if (cleanup_mime_tok_is(&lx, t, "rfc822")
				 || cleanup_mime_tok_is(&lx, t, "global"))
				*subtype = CLEANUP_MIME_S_RFC822;
			else if (cleanup_mime_tok_is(&lx, t, "digest"))
				*subtype = CLEANUP_MIME_S_DIGEST;
		}
	}
	/* Parameters: "; name = value" groups, garbage skipped to a ';'. */
	while (t != CLEANUP_MIME_TOK_END) {
		if (!(t == CLEANUP_MIME_TOK_SPECIAL && sp == ';')) {
			t = cleanup_mime_lex_next(&lx, &sp);
			continue;
		}
		t = cleanup_mime_lex_next(&lx, &sp);
		boundary = cleanup_mime_tok_is(&lx, t, "boundary");
		if (t != CLEANUP_MIME_TOK_ATOM)
			continue;
		t = cleanup_mime_lex_next(&lx, &sp);
		if (!(t == CLEANUP_MIME_TOK_SPECIAL && sp == '='))
			continue;
		t = cleanup_mime_lex_next(&lx, &sp);
		if (t != CLEANUP_MIME_TOK_ATOM && t != CLEANUP_MIME_TOK_QUOTED)
			continue;
		/*
		 * Every boundary parameter counts, as in Postfix: a second
		 * one cannot hide parts from the checks.
		 */
		if (boundary && *type == CLEANUP_MIME_T_MULTIPART && fn)
			fn(ctx, VSTR_STR(lx.tok), VSTR_LEN(lx.tok));
		t = cleanup_mime_lex_next(&lx, &sp);
	}
	vstr_free(lx.tok);
}

bool
cleanup_mime_is_mime_field(const struct header_field *f)
{
	return (f->name_len > 8 && strncasecmp(f->text, "Content-", 8) == 0)
	       || header_is(f, "MIME-Version");
}

/* --- the boundary stack ------------------------------------------------ */

static void
cleanup_mime_push(void *ctx, const char *b, size_t len)
{
	CLEANUP_MIME		  *m = ctx;
	struct cleanup_mime_level *lv;

	if (len == 0) /* RFC 2046: 1 to 70 characters */
		return;
	if ((long long)m->depth >= m->nesting_limit) {
		if (!m->reported && m->ops->error)
			m->ops->error(m->ctx, CLEANUP_MIME_ERR_NESTING,
				      m->field_text, m->field_len);
		m->reported = true;
		return;
	}
	if (m->depth == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 8;
		m->stack = myrealloc(m->stack, m->cap * sizeof(*m->stack));
	}
	lv = &m->stack[m->depth++];
	if (len > CLEANUP_MIME_BOUNDARY_MAX)
		len = CLEANUP_MIME_BOUNDARY_MAX;
	lv->boundary = mymemdup(b, len);
	lv->len = len;
	if (m->subtype == CLEANUP_MIME_S_DIGEST) {
		lv->def_type = CLEANUP_MIME_T_MESSAGE;
		lv->def_subtype = CLEANUP_MIME_S_RFC822;
	} else {
		lv->def_type = CLEANUP_MIME_T_TEXT;
		lv->def_subtype = CLEANUP_MIME_S_PLAIN;
	}
}

static void
cleanup_mime_pop_to(CLEANUP_MIME *m, size_t depth)
{
	while (m->depth > depth)
		myfree(m->stack[--m->depth].boundary);
}

/* A Content-Type field of any header block updates the entity's type. */
static void
cleanup_mime_field_type(CLEANUP_MIME *m, const struct header_field *f)
{
	if (!header_is(f, "Content-Type"))
		return;
	m->field_text = f->text;
	m->field_len = f->len;
	/* type and subtype are set before the boundaries are pushed */
	cleanup_mime_parse_ctype(f->value, f->value_len, &m->type, &m->subtype,
				 cleanup_mime_push, m);
}

/* --- header blocks ----------------------------------------------------- */

static int
cleanup_mime_field(void *ctx, const struct header_field *f)
{
	CLEANUP_MIME *m = ctx;

	cleanup_mime_field_type(m, f);
	m->ops->header(m->ctx, m->hclass, f);
	return 0;
}

static void
cleanup_mime_header_begin(CLEANUP_MIME *m, enum cleanup_mime_class cls,
			  enum cleanup_mime_type    type,
			  enum cleanup_mime_subtype subtype)
{
	m->hp = header_parser_free(m->hp);
	m->hp = header_parser_create(m->header_limit, CLEANUP_MIME_FIELDS_MAX,
				     cleanup_mime_field, m);
	m->state = CLEANUP_MIME_ST_HEADER;
	m->hclass = cls;
	m->type = type;
	m->subtype = subtype;
}

/* After a header block that ended at an empty line: what comes next. */
static void
cleanup_mime_after_header(CLEANUP_MIME *m)
{
	m->hp = header_parser_free(m->hp);
	m->state = CLEANUP_MIME_ST_BODY;
	if (m->type == CLEANUP_MIME_T_MESSAGE
	    && m->subtype == CLEANUP_MIME_S_RFC822)
		cleanup_mime_header_begin(m, CLEANUP_MIME_NESTED,
					  CLEANUP_MIME_T_TEXT,
					  CLEANUP_MIME_S_PLAIN);
	else if (m->type == CLEANUP_MIME_T_MULTIPART)
		m->type = CLEANUP_MIME_T_OTHER; /* the preamble */
}

/* --- lines -------------------------------------------------------------- */

/* A body line (or the first part of a long one): boundaries, then out. */
static void
cleanup_mime_body_line(CLEANUP_MIME *m, const char *text, size_t len, int flags)
{
	size_t i, bl;

	if (m->depth > 0 && len > 2 && text[0] == '-' && text[1] == '-') {
		for (i = m->depth; i-- > 0;) {
			bl = m->stack[i].len;
			if (len < 2 + bl
			    || memcmp(text + 2, m->stack[i].boundary, bl) != 0)
				continue;
			cleanup_mime_pop_to(m, i + 1);
			if (len >= 4 + bl && text[2 + bl] == '-'
			    && text[3 + bl] == '-') {
				cleanup_mime_pop_to(m, i);
				m->state = CLEANUP_MIME_ST_BODY;
				m->type = CLEANUP_MIME_T_OTHER;
				m->subtype = CLEANUP_MIME_S_OTHER;
				m->hp = header_parser_free(m->hp);
			} else {
				cleanup_mime_header_begin(m,
							  CLEANUP_MIME_MULTIPART,
							  m->stack[i].def_type,
							  m->stack[i]
							      .def_subtype);
			}
			break;
		}
	}
	m->ops->body(m->ctx, text, len, flags);
}

/* The header block ends at a line that is not a header field. */
static void
cleanup_mime_header_garbage(CLEANUP_MIME *m, const char *text, size_t len,
			    int flags)
{
	m->hp = header_parser_free(m->hp);
	m->state = CLEANUP_MIME_ST_BODY;
	cleanup_mime_body_line(m, text, len, flags);
}

/* One whole line (with its line feed, or the last one without). */
static void
cleanup_mime_line(CLEANUP_MIME *m, const char *text, size_t len)
{
	const int whole = CLEANUP_MIME_START | CLEANUP_MIME_END;

	if (m->state == CLEANUP_MIME_ST_BODY) {
		cleanup_mime_body_line(m, text, len, whole);
		return;
	}
	switch (header_parser_line(m->hp, text, len)) {
	case HEADER_MORE:
		break;
	case HEADER_END_EMPTY:
		cleanup_mime_after_header(m);
		m->ops->body(m->ctx, text, len, whole);
		break;
	default: /* not a field, or too many */
		cleanup_mime_header_garbage(m, text, len, whole);
		break;
	}
}

/*
 * The first part of a line longer than the bound.  In a header block a
 * field line keeps this part only (the field is truncated); anything else
 * is body, and its rest follows as it comes.
 */
static void
cleanup_mime_long_first(CLEANUP_MIME *m, VSTR *part)
{
	const char *text = VSTR_STR(part);
	size_t	    len = VSTR_LEN(part);

	m->in_long = true;
	m->long_drop = false;
	if (m->state == CLEANUP_MIME_ST_HEADER
	    && (header_name_len(text, len) > 0 || text[0] == ' '
		|| text[0] == '\t')) {
		vstr_memcat(part, "\r\n", 2);
		if (header_parser_line(m->hp, VSTR_STR(part), VSTR_LEN(part))
		    == HEADER_MORE) {
			m->long_drop = true;
			return;
		}
		/* a continuation without a field: body after all */
		cleanup_mime_header_garbage(m, VSTR_STR(part), len,
					    CLEANUP_MIME_START);
		return;
	}
	if (m->state == CLEANUP_MIME_ST_HEADER) {
		(void)header_parser_eof(m->hp);
		cleanup_mime_header_garbage(m, text, len, CLEANUP_MIME_START);
		return;
	}
	cleanup_mime_body_line(m, text, len, CLEANUP_MIME_START);
}

void
cleanup_mime_feed(CLEANUP_MIME *m, const char *data, size_t len)
{
	const char *nl;
	size_t	    take, bound, room;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) + 1 : len;
		if (m->in_long) {
			if (!m->long_drop)
				m->ops->body(m->ctx, data, take,
					     nl ? CLEANUP_MIME_END : 0);
			if (nl)
				m->in_long = m->long_drop = false;
		} else {
			bound = m->state == CLEANUP_MIME_ST_HEADER
				    ? m->header_limit + 2
				    : CLEANUP_MIME_LINE_MAX;
			room = bound > VSTR_LEN(m->line)
				   ? bound - VSTR_LEN(m->line)
				   : 0;
			if (nl && take <= room && VSTR_LEN(m->line) == 0) {
				cleanup_mime_line(m, data, take);
			} else if (take <= room) {
				vstr_memcat(m->line, data, take);
				if (nl) {
					cleanup_mime_line(m, VSTR_STR(m->line),
							  VSTR_LEN(m->line));
					vstr_reset(m->line);
				}
			} else {
				/* the rest of this line: next round */
				vstr_memcat(m->line, data, room);
				cleanup_mime_long_first(m, m->line);
				vstr_reset(m->line);
				take = room;
			}
		}
		data += take;
		len -= take;
	}
}

void
cleanup_mime_end(CLEANUP_MIME *m)
{
	if (VSTR_LEN(m->line) > 0) {
		cleanup_mime_line(m, VSTR_STR(m->line), VSTR_LEN(m->line));
		vstr_reset(m->line);
	}
	if (m->state == CLEANUP_MIME_ST_HEADER && m->hp)
		(void)header_parser_eof(m->hp);
	m->hp = header_parser_free(m->hp);
	m->state = CLEANUP_MIME_ST_BODY;
	m->in_long = m->long_drop = false;
}

/* --- the primary header ----------------------------------------------- */

void
cleanup_mime_primary_field(CLEANUP_MIME *m, const struct header_field *f)
{
	cleanup_mime_field_type(m, f);
}

void
cleanup_mime_body_begin(CLEANUP_MIME *m, bool separator)
{
	m->state = CLEANUP_MIME_ST_BODY;
	/* without a separator the header ended at garbage: body, as Postfix */
	if (separator)
		cleanup_mime_after_header(m);
}

CLEANUP_MIME *
cleanup_mime_alloc(size_t header_limit, long long nesting_limit,
		   const struct cleanup_mime_ops *ops, void *ctx)
{
	CLEANUP_MIME *m = mycalloc(1, sizeof(*m));

	m->ops = ops;
	m->ctx = ctx;
	m->header_limit = header_limit ? header_limit : 1;
	m->nesting_limit = nesting_limit;
	m->state = CLEANUP_MIME_ST_BODY;
	m->hclass = CLEANUP_MIME_PRIMARY;
	m->type = CLEANUP_MIME_T_TEXT;
	m->subtype = CLEANUP_MIME_S_PLAIN;
	m->line = vstr_alloc(256);
	return m;
}

CLEANUP_MIME *
cleanup_mime_free(CLEANUP_MIME *m)
{
	if (m) {
		cleanup_mime_pop_to(m, 0);
		myfree(m->stack);
		header_parser_free(m->hp);
		vstr_free(m->line);
		myfree(m);
	}
	return NULL;
}
