#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Makes room for `more` bytes after len (the NUL included). */
static void sw_strbuf_reserve(sw_strbuf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + more)
        cap *= 2;
    b->p = sw_realloc(b->p, cap);
    b->cap = cap;
}

void sw_strbuf_putn(sw_strbuf_t *b, const char *s, size_t n)
{
    sw_strbuf_reserve(b, n + 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sw_strbuf_puts(sw_strbuf_t *b, const char *s)
{
    sw_strbuf_putn(b, s, strlen(s));
}

void sw_strbuf_putc(sw_strbuf_t *b, char c)
{
    sw_strbuf_putn(b, &c, 1);
}

/* Not isalnum: that depends on the locale, and the set is fixed by RFC 3986. */
static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

void sw_strbuf_put_uri_encoded(sw_strbuf_t *b, const char *s, size_t n, bool keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            sw_strbuf_putc(b, (char)c);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            sw_strbuf_putn(b, esc, 3);
        }
    }
}

/* Formats into the room there is; only a string that does not fit is formatted twice. */
void sw_strbuf_vprintf(sw_strbuf_t *b, const char *fmt, va_list ap)
{
    sw_strbuf_reserve(b, 64);
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        sw_strbuf_reserve(b, (size_t)n + 1);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    if (n >= 0)
        b->len += (size_t)n;
}

void sw_strbuf_printf(sw_strbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sw_strbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *sw_strbuf_take(sw_strbuf_t *b)
{
    if (!b->p)
        sw_strbuf_putn(b, "", 0);
    char *p = b->p;
    *b = (sw_strbuf_t){0};
    return p;
}

void sw_strbuf_free(sw_strbuf_t *b, bool wipe)
{
    if (wipe && b->p)
        explicit_bzero(b->p, b->cap);
    sw_free(b->p);
    *b = (sw_strbuf_t){0};
}
