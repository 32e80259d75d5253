/* AWS Signature Version 4 signer. It turns a request description into the canonical
 * request, the string to sign and the Authorization header, following the AWS
 * documentation and the official test suite (including the cases botocore skips). Hashing
 * and HMAC come from OpenSSL; everything else is string work on growable buffers that
 * abort on out of memory like the rest of the project. */
#include "backends/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/common.h"
#include "common/strbuf.h"

#define ALGORITHM "AWS4-HMAC-SHA256"


static void to_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex(const void *data, size_t n, char hex[SW_BE_SIGV4_HEX_LEN + 1])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    /* EVP_Digest only fails on allocation failure inside OpenSSL, which we treat like
     * our own out-of-memory: fatal. */
    if (!EVP_Digest(data ? data : "", n, md, &md_len, EVP_sha256(), NULL))
        abort();
    to_hex(md, md_len, hex);
}

static void hmac(const uint8_t *key, size_t key_len, const char *msg, uint8_t out[32])
{
    unsigned int out_len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out,
              &out_len))
        abort();
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes; a '%' not followed by two hex digits stays literal, so that a
 * malformed escape is still signed as the bytes that will be sent. '+' stays '+': SigV4
 * query strings are not form-encoded. */
static void pct_decode(sw_strbuf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_val(s[i + 1])) >= 0 &&
            (lo = hex_val(s[i + 2])) >= 0) {
            sw_strbuf_putc(b, (char)(hi * 16 + lo));
            i += 2;
        } else {
            sw_strbuf_putc(b, s[i]);
        }
    }
}

/* Emits the canonical URI. For every service but S3, AWS normalises the path (drops empty
 * and '.' segments, resolves '..') and encodes the path as sent once more, which is why a
 * '%3A' on the wire becomes '%253A' here. S3 signs the path as sent, encoded once. */
static void canonical_uri(sw_strbuf_t *b, const char *path, bool s3)
{
    if (!path || !*path) {
        sw_strbuf_putc(b, '/');
        return;
    }
    if (s3) {
        sw_strbuf_t raw = {0};
        pct_decode(&raw, path, strlen(path));
        sw_strbuf_put_uri_encoded(b, raw.p, raw.len, true);
        sw_free(raw.p);
        return;
    }
    size_t n = strlen(path), nseg = 0;
    const char **seg = sw_malloc((n + 1) * sizeof(*seg));
    size_t *seg_len = sw_malloc((n + 1) * sizeof(*seg_len));
    for (const char *p = path; *p;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (nseg > 0)
                nseg--;
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            seg[nseg] = p;
            seg_len[nseg++] = len;
        }
        p += len + (end ? 1 : 0);
    }
    for (size_t i = 0; i < nseg; i++) {
        sw_strbuf_putc(b, '/');
        sw_strbuf_put_uri_encoded(b, seg[i], seg_len[i], false);
    }
    if (nseg == 0 || path[n - 1] == '/')
        sw_strbuf_putc(b, '/');
    sw_free(seg);
    sw_free(seg_len);
}

typedef struct kv {
    char *key;
    char *value;
    size_t order; /* position of appearance, to keep equal header names stable */
} kv_t;

static int cmp_query(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* Encodes one query component in canonical form: decoded first so that "%e1" and "%E1"
 * or an unescaped UTF-8 byte all sign the same. */
static char *canonical_component(const char *s, size_t n)
{
    sw_strbuf_t raw = {0}, enc = {0};
    pct_decode(&raw, s, n);
    sw_strbuf_put_uri_encoded(&enc, raw.p ? raw.p : "", raw.len, false);
    sw_free(raw.p);
    return sw_strbuf_take(&enc);
}

/* Emits the canonical query: each key and value re-encoded, sorted by key then value
 * (byte order of the encoded forms), duplicate keys kept. */
static void canonical_query(sw_strbuf_t *b, const char *query)
{
    if (!query || !*query)
        return;
    size_t cap = 1, n = 0;
    for (const char *p = query; *p; p++)
        cap += *p == '&';
    kv_t *kv = sw_calloc(cap, sizeof(*kv));
    for (const char *p = query; *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            kv[n].key = canonical_component(p, klen);
            kv[n].value = eq ? canonical_component(eq + 1, len - klen - 1) : sw_strdup("");
            n++;
        }
        p += len + (end ? 1 : 0);
    }
    qsort(kv, n, sizeof(*kv), cmp_query);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sw_strbuf_putc(b, '&');
        sw_strbuf_puts(b, kv[i].key);
        sw_strbuf_putc(b, '=');
        sw_strbuf_puts(b, kv[i].value);
        sw_free(kv[i].key);
        sw_free(kv[i].value);
    }
    sw_free(kv);
}

static int cmp_header(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static char *lower_dup(const char *s)
{
    char *d = sw_strdup(s);
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* Trims the value and collapses each run of whitespace (including the line breaks of a
 * folded header) to one space, as the canonical form requires. */
static char *trim_collapse(const char *s)
{
    sw_strbuf_t b = {0};
    bool pending_space = false;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            pending_space = b.len > 0;
            continue;
        }
        if (pending_space)
            sw_strbuf_putc(&b, ' ');
        pending_space = false;
        sw_strbuf_putc(&b, *s);
    }
    return sw_strbuf_take(&b);
}

/* Collects req's headers plus the implied session token header, lowercased and trimmed,
 * sorted by name with equal names in order of appearance. Returns the count. */
static size_t collect_headers(const sw_be_sigv4_req_t *req, const sw_be_sigv4_creds_t *creds,
                              kv_t **out)
{
    kv_t *kv = sw_calloc(req->n_headers + 1, sizeof(*kv));
    bool has_token = false;
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++, n++) {
        kv[n].key = lower_dup(req->headers[i].name);
        kv[n].value = trim_collapse(req->headers[i].value);
        kv[n].order = n;
        has_token |= strcmp(kv[n].key, "x-amz-security-token") == 0;
    }
    if (creds && creds->session_token && !has_token) {
        kv[n].key = sw_strdup("x-amz-security-token");
        kv[n].value = trim_collapse(creds->session_token);
        kv[n].order = n;
        n++;
    }
    qsort(kv, n, sizeof(*kv), cmp_header);
    *out = kv;
    return n;
}

/* Emits "name:v1,v2\n" per distinct name into b, the ';'-joined names into names, and
 * returns the X-Amz-Content-Sha256 value if present (owned by the caller) or NULL. */
static char *canonical_headers(sw_strbuf_t *b, sw_strbuf_t *names, const sw_be_sigv4_req_t *req,
                               const sw_be_sigv4_creds_t *creds)
{
    kv_t *kv;
    size_t n = collect_headers(req, creds, &kv);
    char *content_sha = NULL;
    for (size_t i = 0; i < n; i++) {
        bool first = i == 0 || strcmp(kv[i].key, kv[i - 1].key) != 0;
        if (first) {
            if (i)
                sw_strbuf_putc(b, '\n');
            sw_strbuf_puts(b, kv[i].key);
            sw_strbuf_putc(b, ':');
            if (names->len)
                sw_strbuf_putc(names, ';');
            sw_strbuf_puts(names, kv[i].key);
        } else {
            sw_strbuf_putc(b, ',');
        }
        sw_strbuf_puts(b, kv[i].value);
        if (!content_sha && strcmp(kv[i].key, "x-amz-content-sha256") == 0)
            content_sha = sw_strdup(kv[i].value);
    }
    if (n)
        sw_strbuf_putc(b, '\n');
    for (size_t i = 0; i < n; i++) {
        sw_free(kv[i].key);
        sw_free(kv[i].value);
    }
    sw_free(kv);
    return content_sha;
}

static int check_req(const sw_be_sigv4_req_t *req, char *errbuf, size_t errlen)
{
    if (!req || !req->method || !*req->method || !req->path) {
        sw_set_error(errbuf, errlen, "sigv4: request needs a method and a path");
        return -EINVAL;
    }
    if (req->body_bytes && !req->body) {
        sw_set_error(errbuf, errlen, "sigv4: body_bytes=%zu with a NULL body", req->body_bytes);
        return -EINVAL;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        const sw_be_sigv4_header_t *h = &req->headers[i];
        if (!h->name || !*h->name || strpbrk(h->name, ": \t\r\n") || !h->value) {
            sw_set_error(errbuf, errlen, "sigv4: header %zu has an invalid name or no value", i);
            return -EINVAL;
        }
    }
    return 0;
}

int sw_be_sigv4_canonical_request(const sw_be_sigv4_req_t *req, const sw_be_sigv4_creds_t *creds,
                                  const sw_be_sigv4_scope_t *scope, char **out,
                                  char **signed_headers, char *errbuf, size_t errlen)
{
    int rc = check_req(req, errbuf, errlen);
    if (rc)
        return rc;
    bool s3 = scope && scope->service && strcmp(scope->service, "s3") == 0;
    sw_strbuf_t b = {0}, names = {0};
    sw_strbuf_puts(&b, req->method);
    sw_strbuf_putc(&b, '\n');
    canonical_uri(&b, req->path, s3);
    sw_strbuf_putc(&b, '\n');
    canonical_query(&b, req->query);
    sw_strbuf_putc(&b, '\n');
    char *content_sha = canonical_headers(&b, &names, req, creds);
    sw_strbuf_putc(&b, '\n');
    sw_strbuf_putn(&names, "", 0);
    sw_strbuf_puts(&b, names.p);
    sw_strbuf_putc(&b, '\n');
    if (content_sha) {
        sw_strbuf_puts(&b, content_sha);
        sw_free(content_sha);
    } else {
        char hex[SW_BE_SIGV4_HEX_LEN + 1];
        sha256_hex(req->body, req->body_bytes, hex);
        sw_strbuf_puts(&b, hex);
    }
    *out = sw_strbuf_take(&b);
    if (signed_headers)
        *signed_headers = sw_strbuf_take(&names);
    else
        sw_free(names.p);
    return 0;
}

/* Accepts exactly "YYYYMMDDTHHMMSSZ": a malformed time would only show up as a signature
 * mismatch at the server, which is much harder to diagnose. */
static bool is_amz_date(const char *s)
{
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int check_scope(const sw_be_sigv4_scope_t *scope, char *errbuf, size_t errlen)
{
    if (!scope || !scope->region || !*scope->region || !scope->service || !*scope->service) {
        sw_set_error(errbuf, errlen, "sigv4: scope needs a region and a service");
        return -EINVAL;
    }
    if (!is_amz_date(scope->amz_date)) {
        sw_set_error(errbuf, errlen, "sigv4: amz_date '%s' is not YYYYMMDDTHHMMSSZ",
                     scope->amz_date ? scope->amz_date : "(null)");
        return -EINVAL;
    }
    return 0;
}

static void put_scope(sw_strbuf_t *b, const sw_be_sigv4_scope_t *scope)
{
    sw_strbuf_putn(b, scope->amz_date, 8);
    sw_strbuf_putc(b, '/');
    sw_strbuf_puts(b, scope->region);
    sw_strbuf_putc(b, '/');
    sw_strbuf_puts(b, scope->service);
    sw_strbuf_puts(b, "/aws4_request");
}

int sw_be_sigv4_string_to_sign(const sw_be_sigv4_scope_t *scope, const char *canonical_request,
                               char **out, char *errbuf, size_t errlen)
{
    int rc = check_scope(scope, errbuf, errlen);
    if (rc)
        return rc;
    char hex[SW_BE_SIGV4_HEX_LEN + 1];
    sha256_hex(canonical_request, strlen(canonical_request), hex);
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, ALGORITHM "\n");
    sw_strbuf_puts(&b, scope->amz_date);
    sw_strbuf_putc(&b, '\n');
    put_scope(&b, scope);
    sw_strbuf_putc(&b, '\n');
    sw_strbuf_puts(&b, hex);
    *out = sw_strbuf_take(&b);
    return 0;
}

int sw_be_sigv4_signing_key(const char *secret_key, const char *date8, const char *region,
                            const char *service, uint8_t key[SW_BE_SIGV4_KEY_BYTES])
{
    if (!secret_key || !date8 || strlen(date8) != 8 || !region || !service)
        return -EINVAL;
    sw_strbuf_t k0 = {0};
    sw_strbuf_puts(&k0, "AWS4");
    sw_strbuf_puts(&k0, secret_key);
    uint8_t a[32], b[32];
    hmac((const uint8_t *)k0.p, k0.len, date8, a);
    hmac(a, sizeof(a), region, b);
    hmac(b, sizeof(b), service, a);
    hmac(a, sizeof(a), "aws4_request", key);
    /* The first key is the secret itself: do not leave it in freed heap memory. */
    OPENSSL_cleanse(k0.p, k0.len);
    sw_free(k0.p);
    return 0;
}

void sw_be_sigv4_signature(const uint8_t key[SW_BE_SIGV4_KEY_BYTES], const char *string_to_sign,
                           char hex[SW_BE_SIGV4_HEX_LEN + 1])
{
    uint8_t mac[32];
    hmac(key, SW_BE_SIGV4_KEY_BYTES, string_to_sign, mac);
    to_hex(mac, sizeof(mac), hex);
}

int sw_be_sigv4_authorization(const sw_be_sigv4_req_t *req, const sw_be_sigv4_creds_t *creds,
                              const sw_be_sigv4_scope_t *scope, char **out, char *errbuf,
                              size_t errlen)
{
    if (!creds || !creds->access_key || !*creds->access_key || !creds->secret_key) {
        sw_set_error(errbuf, errlen, "sigv4: credentials need an access key and a secret");
        return -EINVAL;
    }
    int rc = check_scope(scope, errbuf, errlen);
    if (rc)
        return rc;
    char *creq = NULL, *names = NULL, *sts = NULL;
    rc = sw_be_sigv4_canonical_request(req, creds, scope, &creq, &names, errbuf, errlen);
    if (rc)
        return rc;
    rc = sw_be_sigv4_string_to_sign(scope, creq, &sts, errbuf, errlen);
    if (rc)
        goto out;
    char date8[9];
    memcpy(date8, scope->amz_date, 8);
    date8[8] = '\0';
    uint8_t key[SW_BE_SIGV4_KEY_BYTES];
    char sig[SW_BE_SIGV4_HEX_LEN + 1];
    (void)sw_be_sigv4_signing_key(creds->secret_key, date8, scope->region, scope->service, key);
    sw_be_sigv4_signature(key, sts, sig);
    OPENSSL_cleanse(key, sizeof(key));
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, ALGORITHM " Credential=");
    sw_strbuf_puts(&b, creds->access_key);
    sw_strbuf_putc(&b, '/');
    put_scope(&b, scope);
    sw_strbuf_puts(&b, ", SignedHeaders=");
    sw_strbuf_puts(&b, names);
    sw_strbuf_puts(&b, ", Signature=");
    sw_strbuf_puts(&b, sig);
    *out = sw_strbuf_take(&b);
out:
    sw_free(creq);
    sw_free(names);
    sw_free(sts);
    return rc;
}
