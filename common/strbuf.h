/* A growable NUL-terminated byte string for building requests, headers and messages
 * whose length is not known in advance. Appends never truncate. */
#ifndef SW_COMMON_STRBUF_H
#define SW_COMMON_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/common.h"

typedef struct sw_strbuf {
    char *p; /* NULL until the first append */
    size_t len, cap;
} sw_strbuf_t;

void sw_strbuf_putn(sw_strbuf_t *b, const char *s, size_t n);
void sw_strbuf_puts(sw_strbuf_t *b, const char *s);
void sw_strbuf_putc(sw_strbuf_t *b, char c);
void sw_strbuf_printf(sw_strbuf_t *b, const char *fmt, ...) SW_PRINTF(2, 3);
/* sw_strbuf_printf with a va_list, which it leaves unusable (as vprintf does). */
void sw_strbuf_vprintf(sw_strbuf_t *b, const char *fmt, va_list ap) SW_PRINTF(2, 0);
/* Appends s[0..n) percent-encoded as RFC 3986 and AWS SigV4 want it: every byte outside
 * the unreserved set (ASCII letters, digits, '-', '.', '_', '~'), and '/' unless
 * keep_slash, becomes %XX with upper-case hex. One encoder for the SigV4 signer and the
 * Lambda client, so that what is sent is what is signed. */
void sw_strbuf_put_uri_encoded(sw_strbuf_t *b, const char *s, size_t n, bool keep_slash);
/* Hands over the string (never NULL: an empty buffer gives "") and resets b. The caller
 * frees it with sw_free(). */
char *sw_strbuf_take(sw_strbuf_t *b);
/* Frees the buffer and resets b; with wipe, the bytes are cleared first (secrets). */
void sw_strbuf_free(sw_strbuf_t *b, bool wipe);

#endif
