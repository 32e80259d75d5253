/* common/strbuf: appends of any length, formatted or not, never truncate. */
#include <stdarg.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/strbuf.h"

Test(strbuf, appends_and_takes)
{
    sw_strbuf_t b = {0};
    char *empty = sw_strbuf_take(&b);
    cr_assert_str_eq(empty, "", "an untouched buffer gives an empty string");
    sw_free(empty);
    sw_strbuf_puts(&b, "ab");
    sw_strbuf_putc(&b, 'c');
    sw_strbuf_putn(&b, "defg", 2);
    sw_strbuf_printf(&b, "-%d-%s", 42, "x");
    cr_assert_eq(b.len, strlen("abcde-42-x"));
    char *s = sw_strbuf_take(&b);
    cr_assert_str_eq(s, "abcde-42-x");
    cr_assert_null(b.p, "take resets the buffer");
    sw_free(s);
}

Test(strbuf, long_formatted_values_are_whole)
{
    char big[5000];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sw_strbuf_t b = {0};
    sw_strbuf_printf(&b, "X-Amz-Security-Token: %s", big);
    sw_strbuf_printf(&b, "%s|", big);
    cr_assert_eq(b.len, strlen("X-Amz-Security-Token: ") + 2 * strlen(big) + 1);
    cr_assert_eq(b.p[b.len - 1], '|');
    cr_assert_eq(b.p[b.len], '\0');
    sw_strbuf_free(&b, true);
    cr_assert_null(b.p);
}

static void put_twice(sw_strbuf_t *b, const char *fmt, ...) SW_PRINTF(2, 3);
static void put_twice(sw_strbuf_t *b, const char *fmt, ...)
{
    for (int i = 0; i < 2; i++) {
        va_list ap;
        va_start(ap, fmt);
        sw_strbuf_vprintf(b, fmt, ap);
        va_end(ap);
    }
}

Test(strbuf, vprintf_grows_past_the_first_guess)
{
    sw_strbuf_t b = {0};
    char big[300];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_twice(&b, "<%s>", big);
    cr_assert_eq(b.len, 2 * (sizeof(big) + 1));
    cr_assert_eq(b.p[0], '<');
    cr_assert_eq(b.p[b.len - 1], '>');
    cr_assert_eq(b.p[sizeof(big)], '>');
    sw_strbuf_free(&b, false);
}

/* RFC 3986's unreserved set stays; every other byte, NUL and bytes past 0x7f included,
 * becomes %XX in upper case; '/' only when asked to stay. */
Test(strbuf, uri_encoding_keeps_the_unreserved_set_only)
{
    sw_strbuf_t b = {0};
    const char in[] = "AZaz09-._~ /:%+\x01\x7f\xc3\xa9";
    sw_strbuf_put_uri_encoded(&b, in, sizeof in - 1, false);
    cr_assert_str_eq(b.p, "AZaz09-._~%20%2F%3A%25%2B%01%7F%C3%A9");
    sw_strbuf_free(&b, false);
    sw_strbuf_put_uri_encoded(&b, "a/b\0c", 5, true);
    cr_assert_str_eq(b.p, "a/b%00c", "the length is given, so a NUL is a byte like any");
    sw_strbuf_free(&b, false);
}
