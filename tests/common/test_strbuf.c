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
