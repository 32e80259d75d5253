/* The text side of the trace readers: a block reader over one fixed buffer, CSV line
 * splitting, hand-written integer, seconds and date-time parsers, and the error messages
 * that name the file and line. Everything here runs once per line or per word of a
 * trace, so it avoids stdio and allocation; strtod is only a fallback for numbers the fast
 * parser does not handle (exponents, hex). */
#include "runs/trace_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sw__trace_fail(sw_trace_t *t, int code, uint64_t line, const char *fmt, ...)
{
    int n;
    if (line)
        n = snprintf(t->err, sizeof t->err, "%s:%" PRIu64 ": ", t->path, line);
    else
        n = snprintf(t->err, sizeof t->err, "%s: ", t->path);
    if (n < 0 || (size_t)n >= sizeof t->err)
        n = (int)sizeof t->err - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err + n, sizeof t->err - (size_t)n, fmt, ap);
    va_end(ap);
    t->err_code = code;
    return code;
}

const char *sw__trace_quote(char *out, size_t outlen, const char *s, const char *e)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, shown = 0;
    out[o++] = '"';
    for (const char *p = s; p < e && o + 8 < outlen; p++, shown++) {
        unsigned char c = (unsigned char)*p;
        if (shown == SW__TRACE_QUOTE_MAX) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            /* Binary bytes are shown, not printed raw, so a message stays one clean line. */
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

int sw__trace_fill(sw_trace_t *t)
{
    size_t keep = t->len - t->pos;
    if (t->pos > 0) {
        memmove(t->buf, t->buf + t->pos, keep);
        t->base_off += t->pos;
        t->pos = 0;
        t->len = keep;
    }
    /* Fill the whole buffer: a pipe may return short reads, and a full buffer keeps the
     * number of compactions (memmove of a partial line) low. */
    while (!t->eof && t->len < SW__TRACE_BUF_BYTES) {
        ssize_t r = read(t->fd, t->buf + t->len, SW__TRACE_BUF_BYTES - t->len);
        if (r < 0) {
            int err = errno;
            if (err == EINTR)
                continue;
            t->buf[t->len] = '\0';
            return sw__trace_fail(t, -err, 0, "read error: %s", strerror(err));
        }
        if (r == 0)
            t->eof = true;
        t->len += (size_t)r;
    }
    t->buf[t->len] = '\0';
    return 0;
}

static bool is_blank_line(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    return s == e;
}

int sw__trace_line(sw_trace_t *t, const char **s, const char **e, uint64_t *line_no)
{
    for (;;) {
        char *p = t->buf + t->pos;
        size_t avail = t->len - t->pos;
        char *nl = memchr(p, '\n', avail);
        char *end;
        if (nl) {
            end = nl;
            t->pos += (size_t)(nl - p) + 1;
        } else if (t->eof) {
            if (avail == 0)
                return 0;
            end = p + avail; /* the last line has no line ending */
            t->pos = t->len;
        } else if (t->pos == 0 && t->len == SW__TRACE_BUF_BYTES) {
            return sw__trace_fail(t, SW_EPARSE, t->line,
                                  "line longer than %zu bytes (binary data, or not a CSV trace?)",
                                  SW__TRACE_BUF_BYTES);
        } else {
            int rc = sw__trace_fill(t);
            if (rc < 0)
                return rc;
            continue;
        }
        uint64_t no = t->line++;
        if (end > p && end[-1] == '\r')
            end--;
        if (is_blank_line(p, end))
            continue;
        *s = p;
        *e = end;
        *line_no = no;
        return 1;
    }
}

int sw__csv_split(const char *s, const char *e, sw__field_t *f, int max)
{
    const char *p = s;
    int n = 0;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *fs = p, *fe;
        if (p < e && *p == '"') {
            /* A quoted field ends at a quote not doubled; "" inside stays as written,
             * which is enough for names, numbers and dates. No line breaks inside. */
            fs = ++p;
            while (p < e && !(*p == '"' && (p + 1 == e || p[1] != '"')))
                p += *p == '"' ? 2 : 1;
            if (p >= e)
                return -1;
            fe = p++;
            while (p < e && (*p == ' ' || *p == '\t'))
                p++;
            if (p < e && *p != ',')
                return -1;
        } else {
            while (p < e && *p != ',')
                p++;
            fe = p;
            while (fe > fs && (fe[-1] == ' ' || fe[-1] == '\t'))
                fe--;
        }
        f[n].s = fs;
        f[n].e = fe;
        if (++n >= max || p >= e)
            return n;
        p++;
    }
}

bool sw__parse_count(const char *s, const char *e, uint64_t *out)
{
    if (s == e || e - s > 15)
        return false;
    uint64_t v = 0;
    for (; s < e; s++) {
        unsigned d = (unsigned)(unsigned char)*s - '0';
        if (d > 9)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Reports a bad word of a counts-per-second file, naming its position: such a file may
 * be a single line of 86,400 words, so the line number alone does not find it. */
static int word_error(sw_trace_t *t, const char *p)
{
    const char *end = t->buf + t->len, *q = p;
    while (q < end && !sw__trace_is_space(*q) && q - p <= SW__TRACE_QUOTE_MAX)
        q++;
    bool digits = q > p;
    for (const char *d = p; d < q; d++)
        digits = digits && *d >= '0' && *d <= '9';
    char quoted[200];
    sw__trace_quote(quoted, sizeof quoted, p, q);
    return sw__trace_fail(t, SW_EPARSE, t->line, "count %" PRIu64 " (word %" PRIu64 "): %s %s",
                          t->interval_idx + 1, t->word_in_line, quoted,
                          digits ? "is too large (more than 15 digits)"
                                 : "is not a non-negative integer");
}

int sw__trace_next_word(sw_trace_t *t, uint64_t *n)
{
    for (;;) {
        while (t->pos < t->len) {
            char c = t->buf[t->pos];
            if (c == '\n') {
                t->line++;
                t->word_in_line = 0;
            } else if (!sw__trace_is_space(c)) {
                goto word;
            }
            t->pos++;
        }
        if (t->eof)
            return 0;
        int rc = sw__trace_fill(t);
        if (rc < 0)
            return rc;
    }
word:
    /* Keep enough bytes in the buffer that a valid word never straddles its end. */
    if (t->len - t->pos < 64 && !t->eof) {
        int rc = sw__trace_fill(t);
        if (rc < 0)
            return rc;
    }
    t->word_in_line++;
    const char *p = t->buf + t->pos, *q = p;
    uint64_t v = 0;
    for (unsigned d; (d = (unsigned)(unsigned char)*q - '0') <= 9 && q - p < 16; q++)
        v = v * 10 + d;
    /* buf[len] is '\0', so q stops there at the latest. */
    if (q == p || q - p > 15 || (q < t->buf + t->len && !sw__trace_is_space(*q)))
        return word_error(t, p);
    t->pos = (size_t)(q - t->buf);
    *n = v;
    return 1;
}

static bool fixed_digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)p[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + (int)d;
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), so
 * no time zone or mktime is involved: trace times are UTC. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Fraction digits after the seconds, rounded to microseconds. -1 when malformed. */
static int64_t parse_fraction(const char **pp, const char *e)
{
    const char *p = *pp;
    int64_t us = 0;
    int n = 0;
    for (; p < e && *p >= '0' && *p <= '9'; p++, n++) {
        if (n < 6)
            us = us * 10 + (*p - '0');
        else if (n == 6 && *p >= '5')
            us += 1; /* round half up on the seventh digit */
    }
    if (n == 0 || n > 9)
        return -1;
    for (int i = n; i < 6; i++)
        us *= 10;
    *pp = p;
    return us;
}

/* YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z] -> µs since the epoch. Returns 0, -1 when the
 * layout is wrong, or 1 with a range problem written into why. */
static int parse_date(const char *s, const char *e, sw_time_t *out, char *why, size_t whylen)
{
    int y, mo, d, h, mi, sec;
    if (e - s < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
        s[13] != ':' || s[16] != ':' || !fixed_digits(s, 4, &y) || !fixed_digits(s + 5, 2, &mo) ||
        !fixed_digits(s + 8, 2, &d) || !fixed_digits(s + 11, 2, &h) ||
        !fixed_digits(s + 14, 2, &mi) || !fixed_digits(s + 17, 2, &sec))
        return -1;
    const char *p = s + 19;
    int64_t frac_us = 0;
    if (p < e && *p == '.') {
        p++;
        if ((frac_us = parse_fraction(&p, e)) < 0)
            return -1;
    }
    if (p < e && *p == 'Z')
        p++;
    if (p != e)
        return -1;
    if (mo < 1 || mo > 12)
        snprintf(why, whylen, "month %d is out of range", mo);
    else if (d < 1 || d > days_in_month(y, mo))
        snprintf(why, whylen, "day %d is out of range for %04d-%02d", d, y, mo);
    else if (h > 23 || mi > 59 || sec > 59)
        snprintf(why, whylen, "time of day %02d:%02d:%02d is out of range", h, mi, sec);
    else
        why = NULL;
    if (why)
        return 1;
    int64_t day_s = ((int64_t)h * 60 + mi) * 60 + sec;
    *out = (days_from_civil(y, mo, d) * 86400 + day_s) * SW_US_PER_S + frac_us;
    return 0;
}

/* [+-]digits[.digits] seconds -> µs, exactly (no binary floating point on the way). Other
 * spellings (exponents, hex) go through strtod. 0, -1 (not a number) or 1 (not finite
 * or out of range). */
static int parse_seconds(const char *s, const char *e, sw_time_t *out)
{
    const char *p = s;
    bool neg = p < e && *p == '-';
    p += p < e && (*p == '-' || *p == '+');
    int64_t whole = 0;
    const char *ds = p;
    for (; p < e && *p >= '0' && *p <= '9' && p - ds < 12; p++)
        whole = whole * 10 + (*p - '0');
    bool have_digits = p > ds;
    int64_t frac_us = 0;
    if (p < e && *p == '.' && p + 1 < e && p[1] >= '0' && p[1] <= '9') {
        p++;
        frac_us = parse_fraction(&p, e);
        have_digits = have_digits || frac_us >= 0;
    }
    if (p == e && have_digits && frac_us >= 0) {
        *out = (whole * SW_US_PER_S + frac_us) * (neg ? -1 : 1);
        return 0;
    }
    char tmp[64];
    if (e - s >= (ptrdiff_t)sizeof tmp)
        return -1;
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end == tmp || *end != '\0')
        return -1;
    if (!isfinite(v) || fabs(v) > 1e11)
        return 1;
    *out = (sw_time_t)llround(v * 1e6);
    return 0;
}

int sw__parse_time(sw_trace_t *t, const sw__field_t *f, uint64_t line, const char *column,
                   sw_time_t *out_us, sw__ts_kind_t *kind)
{
    char quoted[200], why[96];
    if (f->s == f->e)
        return sw__trace_fail(t, SW_EPARSE, line, "%s: empty field", column);
    bool looks_like_date = f->e - f->s >= 10 && f->s[4] == '-';
    sw__ts_kind_t k = looks_like_date ? SW__TS_DATE : SW__TS_SECONDS;
    int rc = looks_like_date ? parse_date(f->s, f->e, out_us, why, sizeof why)
                             : parse_seconds(f->s, f->e, out_us);
    if (rc == 0 && (*kind == SW__TS_UNKNOWN || *kind == k)) {
        *kind = k;
        return 0;
    }
    sw__trace_quote(quoted, sizeof quoted, f->s, f->e);
    if (rc < 0)
        return sw__trace_fail(t, SW_EPARSE, line,
                              "%s: %s is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.fraction] "
                              "or seconds)",
                              column, quoted);
    if (rc > 0 && looks_like_date)
        return sw__trace_fail(t, SW_EPARSE, line, "%s: %s: %s", column, quoted, why);
    if (rc > 0)
        return sw__trace_fail(t, SW_EPARSE, line, "%s: %s is not a finite number of seconds",
                              column, quoted);
    return sw__trace_fail(t, SW_EPARSE, line, "%s: %s is %s, but the first row held %s", column,
                          quoted, k == SW__TS_DATE ? "a date" : "seconds",
                          k == SW__TS_DATE ? "seconds" : "a date");
}
