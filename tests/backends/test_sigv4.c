/* Tests of backends/sigv4.c: every case of the official SigV4 test suite (as vendored by
 * botocore, including the cases botocore skips) compared byte for byte at each step; the
 * signing-key vector AWS documents; Lambda's double encoding of ':' in function ARNs; and a
 * cross-check of a Lambda Invoke signature against botocore, an independent
 * implementation. The suite's .req files are parsed here by a small HTTP/1.1 reader. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "backends/sigv4.h"
#include "common/common.h"

#define SUITE_DIR SW_SOURCE_DIR "/data/sigv4/botocore-aws4_testsuite"
#define SUITE_CASES 34
#define MAX_HEADERS 32

static const sw_be_sigv4_creds_t suite_creds = {
    .access_key = "AKIDEXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
static const sw_be_sigv4_scope_t suite_scope = {
    .region = "us-east-1", .service = "service", .amz_date = "20150830T123600Z"};

/* The suite gives this case's token only in its signed request; botocore's own test runner
 * supplies it as a credential the same way, so the signer must add and sign the header. */
#define SESSION_TOKEN_CASE "get-vanilla-with-session-token"
#define SESSION_TOKEN "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

/* A parsed .req file. Strings point into buf, which the parser owns and frees. */
typedef struct parsed_req {
    char *buf;
    char *target; /* path?query as on the request line */
    sw_be_sigv4_header_t headers[MAX_HEADERS];
    char *values[MAX_HEADERS]; /* heap copies, because folded values grow */
    sw_be_sigv4_req_t req;
} parsed_req_t;

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = sw_malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0)
            buf = sw_realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Appends a folded (obs-fold) continuation line to the previous header's value. */
static void fold_into(parsed_req_t *p, size_t i, const char *line)
{
    size_t old = strlen(p->values[i]), add = strlen(line);
    p->values[i] = sw_realloc(p->values[i], old + add + 2);
    p->values[i][old] = ' ';
    memcpy(p->values[i] + old + 1, line, add + 1);
}

/* Parses a request line, header lines (with continuation lines), a blank line and the
 * body. Lines end in LF; a CR before it is dropped. */
static void parse_req(parsed_req_t *p, const char *path)
{
    size_t len;
    memset(p, 0, sizeof(*p));
    p->buf = read_all(path, &len);
    char *end = p->buf + len, *line = p->buf, *body = end;
    size_t n = 0;
    for (bool first = true; line < end; first = false) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *next = nl ? nl + 1 : end;
        char *stop = nl ? nl : end;
        if (stop > line && stop[-1] == '\r')
            stop--;
        *stop = '\0';
        if (first) {
            char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' ');
            cr_assert(sp1 && sp2 > sp1, "%s: bad request line", path);
            *sp1 = *sp2 = '\0';
            p->req.method = line;
            p->target = sp1 + 1;
        } else if (*line == '\0') {
            body = next;
            break;
        } else if ((*line == ' ' || *line == '\t') && n > 0) {
            fold_into(p, n - 1, line);
        } else {
            char *colon = strchr(line, ':');
            cr_assert(colon && n < MAX_HEADERS, "%s: bad header line '%s'", path, line);
            *colon = '\0';
            p->headers[n].name = line;
            p->values[n++] = sw_strdup(colon + 1);
        }
        line = next;
    }
    char *q = strchr(p->target, '?');
    if (q)
        *q = '\0';
    p->req.path = p->target;
    p->req.query = q ? q + 1 : NULL;
    for (size_t i = 0; i < n; i++)
        p->headers[i].value = p->values[i];
    p->req.headers = p->headers;
    p->req.n_headers = n;
    p->req.body = body;
    p->req.body_bytes = (size_t)(end - body);
}

static void parsed_req_free(parsed_req_t *p)
{
    for (size_t i = 0; i < p->req.n_headers; i++)
        sw_free(p->values[i]);
    sw_free(p->buf);
}

static char *case_file(const char *dir, const char *name, const char *ext)
{
    size_t n = strlen(dir) + 2 * strlen(name) + strlen(ext) + 3;
    char *s = sw_malloc(n);
    snprintf(s, n, "%s/%s%s", dir, name, ext);
    return s;
}

static char *read_case(const char *dir, const char *name, const char *ext)
{
    char *path = case_file(dir, name, ext);
    char *s = read_all(path, NULL);
    sw_free(path);
    return s;
}

/* Signs one case and compares each step with the suite's files. Returns true when all
 * three match; mismatches are reported with cr_expect so every failing case shows. */
static bool check_case(const char *dir, const char *name)
{
    char *req_path = case_file(dir, name, ".req");
    char *want_creq = read_case(dir, name, ".creq");
    parsed_req_t p;
    parse_req(&p, req_path);
    sw_be_sigv4_creds_t creds = suite_creds;
    if (strcmp(name, SESSION_TOKEN_CASE) == 0)
        creds.session_token = SESSION_TOKEN;
    char err[256] = "", *creq = NULL, *sts = NULL, *authz = NULL;
    int rc =
        sw_be_sigv4_canonical_request(&p.req, &creds, &suite_scope, &creq, NULL, err, sizeof(err));
    cr_assert_eq(rc, 0, "%s: %s", name, err);
    cr_assert_eq(sw_be_sigv4_string_to_sign(&suite_scope, creq, &sts, err, sizeof(err)), 0);
    cr_assert_eq(sw_be_sigv4_authorization(&p.req, &creds, &suite_scope, &authz, err, sizeof(err)),
                 0);
    char *want_sts = read_case(dir, name, ".sts");
    char *want_authz = read_case(dir, name, ".authz");
    bool ok = strcmp(creq, want_creq) == 0 && strcmp(sts, want_sts) == 0 &&
              strcmp(authz, want_authz) == 0;
    cr_expect_str_eq(creq, want_creq, "%s: canonical request", name);
    cr_expect_str_eq(sts, want_sts, "%s: string to sign", name);
    cr_expect_str_eq(authz, want_authz, "%s: authorization", name);
    sw_free(creq);
    sw_free(sts);
    sw_free(authz);
    sw_free(want_creq);
    sw_free(want_sts);
    sw_free(want_authz);
    sw_free(req_path);
    parsed_req_free(&p);
    return ok;
}

typedef struct walk {
    int cases;
    int passed;
    int hard_passed;
} walk_t;

/* The cases botocore's own runner skips; the README calls them the hard ones. */
static const char *const hard_cases[] = {"get-space", "get-vanilla-query-order-key",
                                         "get-vanilla-query-order-key-case",
                                         "get-vanilla-query-order-value"};

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Visits dir and its subfolders; a folder NAME holding NAME.req is a case. Folders nest
 * (normalize-path/get-space), and a folder may be both a case and a parent. */
static void walk(const char *dir, walk_t *w)
{
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    char *req = case_file(dir, base, ".req");
    struct stat st;
    if (stat(req, &st) == 0) {
        bool ok = check_case(dir, base);
        w->cases++;
        w->passed += ok;
        for (size_t i = 0; i < SW_ARRAY_LEN(hard_cases); i++)
            w->hard_passed += ok && strcmp(base, hard_cases[i]) == 0;
    }
    sw_free(req);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s: %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *sub = sw_malloc(n);
        snprintf(sub, n, "%s/%s", dir, e->d_name);
        if (is_dir(sub))
            walk(sub, w);
        sw_free(sub);
    }
    closedir(d);
}

Test(be_sigv4, every_suite_case_matches_byte_for_byte)
{
    walk_t w = {0};
    walk(SUITE_DIR, &w);
    fprintf(stderr, "sigv4 suite: %d/%d cases matched (hard cases: %d/%zu)\n", w.passed, w.cases,
            w.hard_passed, SW_ARRAY_LEN(hard_cases));
    cr_assert_eq(w.cases, SUITE_CASES, "found %d cases in %s", w.cases, SUITE_DIR);
    cr_assert_eq(w.passed, w.cases);
    cr_assert_eq(w.hard_passed, (int)SW_ARRAY_LEN(hard_cases));
}

Test(be_sigv4, signing_key_matches_aws_documented_vector)
{
    uint8_t key[SW_BE_SIGV4_KEY_BYTES];
    int rc = sw_be_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215",
                                     "us-east-1", "iam", key);
    cr_assert_eq(rc, 0);
    char hex[2 * SW_BE_SIGV4_KEY_BYTES + 1];
    for (size_t i = 0; i < sizeof(key); i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    cr_assert_str_eq(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

#define LAMBDA_HOST "lambda.us-east-1.amazonaws.com"
#define ARN_PATH                                                                                   \
    "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn"       \
    "/invocations"

Test(be_sigv4, lambda_arn_colon_is_encoded_twice_in_canonical_uri)
{
    sw_be_sigv4_header_t h[] = {{"Host", LAMBDA_HOST}, {"X-Amz-Date", "20150830T123600Z"}};
    sw_be_sigv4_req_t req = {.method = "POST",
                             .path = ARN_PATH,
                             .query = "Qualifier=$LATEST",
                             .headers = h,
                             .n_headers = SW_ARRAY_LEN(h)};
    sw_be_sigv4_scope_t scope = {"us-east-1", "lambda", "20150830T123600Z"};
    char err[256], *creq = NULL, *names = NULL;
    cr_assert_eq(sw_be_sigv4_canonical_request(&req, NULL, &scope, &creq, &names, err, sizeof(err)),
                 0, "%s", err);
    const char *want = "POST\n"
                       "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1"
                       "%253A123456789012%253Afunction%253Amy-fn/invocations\n"
                       "Qualifier=%24LATEST\n"
                       "host:" LAMBDA_HOST "\n"
                       "x-amz-date:20150830T123600Z\n"
                       "\n"
                       "host;x-amz-date\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    cr_assert_str_eq(creq, want);
    cr_assert_str_eq(names, "host;x-amz-date");
    sw_free(creq);
    sw_free(names);
}

Test(be_sigv4, malformed_inputs_are_refused_with_a_message)
{
    sw_be_sigv4_req_t req = {.method = "GET", .path = "/"};
    sw_be_sigv4_scope_t scope = {"us-east-1", "lambda", "2015-08-30T12:36:00Z"};
    char err[256] = "", *out = NULL;
    cr_assert_eq(sw_be_sigv4_authorization(&req, &suite_creds, &scope, &out, err, sizeof(err)),
                 -EINVAL);
    cr_assert_null(out);
    cr_assert(strstr(err, "amz_date") != NULL, "%s", err);
    cr_assert(strstr(err, suite_creds.secret_key) == NULL);
    sw_be_sigv4_header_t bad[] = {{"Bad Name", "x"}};
    req.headers = bad;
    req.n_headers = 1;
    scope.amz_date = "20150830T123600Z";
    cr_assert_eq(sw_be_sigv4_authorization(&req, &suite_creds, &scope, &out, err, sizeof(err)),
                 -EINVAL);
    cr_assert(strstr(err, "header 0") != NULL, "%s", err);
}

/* botocore reads the clock inside add_auth; the script pins it to the test's time. Older
 * botocore calls datetime.datetime.utcnow() in botocore.auth, newer ones
 * get_current_datetime(), so it patches whichever exists. argv: path, token, body. */
static const char botocore_script[] =
    "import sys, datetime\n"
    "import botocore.auth as A\n"
    "from botocore.awsrequest import AWSRequest\n"
    "from botocore.credentials import Credentials\n"
    "T = datetime.datetime(2015, 8, 30, 12, 36, 0)\n"
    "if hasattr(A, \"get_current_datetime\"):\n"
    "    A.get_current_datetime = lambda *a, **k: T\n"
    "else:\n"
    "    class D(datetime.datetime):\n"
    "        @classmethod\n"
    "        def utcnow(cls): return T\n"
    "    class M: datetime = D\n"
    "    A.datetime = M\n"
    "r = AWSRequest(method=\"POST\", url=\"https://" LAMBDA_HOST "\" + sys.argv[1],\n"
    "               data=sys.argv[3].encode(),\n"
    "               headers={\"X-Amz-Invocation-Type\": \"RequestResponse\"})\n"
    "c = Credentials(\"AKIDEXAMPLE\", \"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\",\n"
    "                sys.argv[2] or None)\n"
    "A.SigV4Auth(c, \"lambda\", \"us-east-1\").add_auth(r)\n"
    "for h in (\"Authorization\", \"X-Amz-Date\", \"X-Amz-Content-SHA256\",\n"
    "          \"X-Amz-Security-Token\"):\n"
    "    if h in r.headers:\n"
    "        print(h + \": \" + r.headers[h])\n";

/* Runs the script and returns botocore's value of header name, or NULL if it set none. */
static char *botocore_header(const char *out, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, name, n) == 0 && l[n] == ':' && l[n + 1] == ' ') {
            const char *v = l + n + 2;
            size_t len = strcspn(v, "\n");
            char *s = sw_malloc(len + 1);
            memcpy(s, v, len);
            s[len] = '\0';
            return s;
        }
    }
    return NULL;
}

static char *run_botocore(const char *path, const char *token, const char *body)
{
    /* Arguments go in single quotes; none of the test's values contain one. */
    size_t n = sizeof(botocore_script) + strlen(path) + strlen(token) + strlen(body) + 64;
    char *cmd = sw_malloc(n);
    snprintf(cmd, n, "python3 -c '%s' '%s' '%s' '%s'", botocore_script, path, token, body);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "popen: %s", strerror(errno));
    char *out = sw_calloc(1, 8192);
    size_t got = fread(out, 1, 8191, f);
    int status = pclose(f);
    cr_assert_eq(status, 0, "botocore script failed (status %d), output: %.*s", status, (int)got,
                 out);
    sw_free(cmd);
    return out;
}

/* Signs the same Invoke request with both signers and compares the headers botocore sets. */
static void cross_check(const char *path, const char *query, const char *token)
{
    cr_assert_eq(system("python3 -c 'import botocore' >/dev/null 2>&1"), 0,
                 "python3-botocore is not installed: scripts/install-deps.sh installs it "
                 "(CI runs install-deps first)");
    const char *body = "{\"inputs\":[]}";
    sw_be_sigv4_header_t h[] = {{"Host", LAMBDA_HOST},
                                {"X-Amz-Invocation-Type", "RequestResponse"},
                                {"X-Amz-Date", "20150830T123600Z"}};
    sw_be_sigv4_req_t req = {.method = "POST",
                             .path = path,
                             .query = query,
                             .headers = h,
                             .n_headers = SW_ARRAY_LEN(h),
                             .body = body,
                             .body_bytes = strlen(body)};
    sw_be_sigv4_creds_t creds = suite_creds;
    creds.session_token = *token ? token : NULL;
    sw_be_sigv4_scope_t scope = {"us-east-1", "lambda", "20150830T123600Z"};
    char err[256], *ours = NULL, *creq = NULL;
    cr_assert_eq(sw_be_sigv4_authorization(&req, &creds, &scope, &ours, err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(sw_be_sigv4_canonical_request(&req, &creds, &scope, &creq, NULL, err, sizeof(err)),
                 0);
    char full[512];
    snprintf(full, sizeof(full), "%s%s%s", path, query ? "?" : "", query ? query : "");
    char *out = run_botocore(full, token, body);
    char *authz = botocore_header(out, "Authorization");
    char *date = botocore_header(out, "X-Amz-Date");
    char *sha = botocore_header(out, "X-Amz-Content-SHA256");
    char *tok = botocore_header(out, "X-Amz-Security-Token");
    fprintf(stderr, "botocore: %s\nspillway: Authorization: %s\n", out, ours);
    cr_assert_not_null(authz, "botocore output: %s", out);
    cr_expect_str_eq(ours, authz);
    cr_expect_str_eq(date ? date : "(none)", scope.amz_date);
    if (sha)
        cr_expect_str_eq(sha, strrchr(creq, '\n') + 1, "payload hash");
    cr_expect_str_eq(tok ? tok : "", token);
    sw_free(authz);
    sw_free(date);
    sw_free(sha);
    sw_free(tok);
    sw_free(out);
    sw_free(ours);
    sw_free(creq);
}

Test(be_sigv4, lambda_invoke_signature_matches_botocore, .timeout = 60)
{
    cross_check("/2015-03-31/functions/my-fn/invocations", NULL, "");
}

/* The query is given encoded, as botocore's Lambda client puts it on the wire: botocore
 * signs a query that is already in the URL verbatim, while AWS (and this signer) re-encode
 * it, so only the encoded form is a fair comparison. */
Test(be_sigv4, lambda_invoke_arn_with_token_matches_botocore, .timeout = 60)
{
    cross_check(ARN_PATH, "Qualifier=%24LATEST", "AQoDYXdzEPT//////////wEXAMPLEtoken");
}
