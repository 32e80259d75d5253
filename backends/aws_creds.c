/* Loads AWS credentials from the environment or the shared credentials file.
 *
 * The file is INI: "[profile]" section lines, "key = value" lines, comments starting with
 * '#' or ';', and free whitespace. It is parsed by hand here: none of our Debian-packaged
 * dependencies (libyaml, jansson, OpenSSL, curl, libevent) reads INI, and the subset the
 * AWS CLI writes takes a dozen lines, less than a new dependency edge would cost.
 *
 * The whole file (a regular file, at most SW_FILE_MAX_CREDENTIALS_BYTES) is read with
 * read(2) into one buffer that is wiped before it is freed, so no copy of the secret
 * lingers in a stdio buffer. Error messages name the file, the line
 * and the key, never a value. */
#include "backends/aws_creds.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/common.h"
#include "common/file.h"

#define CREDS_FILE_MAX_BYTES SW_FILE_MAX_CREDENTIALS_BYTES

static void wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    sw_free(s);
}

void sw_be_aws_creds_deinit(sw_be_aws_creds_t *c)
{
    if (!c)
        return;
    wipe_free(c->access_key_id);
    wipe_free(c->secret_access_key);
    wipe_free(c->session_token);
    memset(c, 0, sizeof(*c));
}

void sw_be_aws_creds_copy(sw_be_aws_creds_t *dst, const sw_be_aws_creds_t *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->access_key_id = sw_strdup(src->access_key_id ? src->access_key_id : "");
    dst->secret_access_key = sw_strdup(src->secret_access_key ? src->secret_access_key : "");
    if (src->session_token && *src->session_token)
        dst->session_token = sw_strdup(src->session_token);
    memcpy(dst->source, src->source, sizeof(dst->source));
    dst->source[sizeof(dst->source) - 1] = '\0';
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Returns 1 when the environment held credentials, 0 when it held none, -EINVAL when only
 * half of the key pair is set (a likely typo that should not silently fall back to a
 * file holding different credentials). */
static int load_env(sw_be_aws_creds_t *out, char *errbuf, size_t errlen)
{
    const char *ak = env_nonempty("AWS_ACCESS_KEY_ID");
    const char *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
    if (!ak && !sk)
        return 0;
    if (!ak || !sk) {
        sw_set_error(errbuf, errlen,
                     "partial AWS credentials in the environment: %s is set "
                     "but %s is not",
                     ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                     ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        return -EINVAL;
    }
    out->access_key_id = sw_strdup(ak);
    out->secret_access_key = sw_strdup(sk);
    const char *tok = env_nonempty("AWS_SESSION_TOKEN");
    out->session_token = tok ? sw_strdup(tok) : NULL;
    snprintf(out->source, sizeof(out->source), "environment");
    return 1;
}

/* Reads the file into buf (wiping what it moves), from an fd of an unbuffered stream. */
static int read_fd(int fd, char **buf_out, size_t *len_out)
{
    size_t cap = 4096, len = 0;
    char *buf = sw_malloc(cap);
    int rc = 0;
    for (;;) {
        if (len > CREDS_FILE_MAX_BYTES) {
            rc = -EFBIG; /* the file grew past its cap since it was opened */
            break;
        }
        if (len + 1 == cap) {
            /* Grow by copying so the old block can be wiped: realloc may leave it intact. */
            char *nb = sw_malloc(cap * 2);
            memcpy(nb, buf, len);
            OPENSSL_cleanse(buf, len);
            sw_free(buf);
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (rc < 0) {
        OPENSSL_cleanse(buf, len);
        sw_free(buf);
        return rc;
    }
    *buf_out = buf;
    *len_out = len;
    return 0;
}

/* Reads the whole file into a NUL-terminated buffer. The file must be a regular file of at
 * most CREDS_FILE_MAX_BYTES (a FIFO would block, a folder or /dev/zero fail late), and is
 * read unbuffered, so no copy of the secret stays in a stdio buffer. Returns 0 or a
 * negative errno with "PATH: reason" in errbuf. */
static int read_file(const char *path, char **buf_out, size_t *len_out, char *errbuf, size_t errlen)
{
    FILE *f = sw_file_open_regular(path, CREDS_FILE_MAX_BYTES, "credentials file", errbuf, errlen);
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IONBF, 0);
    int rc = read_fd(fileno(f), buf_out, len_out);
    fclose(f);
    if (rc < 0)
        sw_set_error(errbuf, errlen, "%s: %s", path, sw_strerror(rc));
    return rc;
}

/* A NUL byte ends a line early for the parser, so the rest of it would be ignored: a
 * credentials file with one is binary data, refused at its line. */
static int check_text(const char *path, const char *buf, size_t len, char *errbuf, size_t errlen)
{
    const char *nul = memchr(buf, '\0', len);
    if (!nul)
        return 0;
    int line = 1;
    for (const char *p = buf; p < nul; p++)
        line += *p == '\n';
    sw_set_error(errbuf, errlen, "%s:%d: a NUL byte: binary data, not a credentials file", path,
                 line);
    return -EINVAL;
}

static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *end = '\0';
    return s;
}

/* What the parser found for the wanted profile. Values are owned copies. */
typedef struct ini_state {
    const char *path, *profile;
    bool in_profile;
    int profile_line; /* line of the wanted section header, 0 if absent */
    char *keys[3];    /* access key id, secret, token */
    char others[200]; /* names of other profiles, for the "not found" message */
} ini_state_t;

static const char *const key_names[3] = {"aws_access_key_id", "aws_secret_access_key",
                                         "aws_session_token"};

static void on_section(ini_state_t *st, const char *name, int line)
{
    st->in_profile = strcmp(name, st->profile) == 0;
    if (st->in_profile && !st->profile_line)
        st->profile_line = line;
    if (st->in_profile || strlen(st->others) + strlen(name) + 4 >= sizeof(st->others))
        return;
    if (st->others[0])
        strcat(st->others, ", ");
    strcat(st->others, name);
}

/* Handles one line (already NUL-terminated, without the newline). */
static int parse_line(ini_state_t *st, char *line, int lineno, char *errbuf, size_t errlen)
{
    char *s = trim(line, line + strlen(line));
    if (*s == '\0' || *s == '#' || *s == ';')
        return 0;
    if (*s == '[') {
        char *close = strchr(s, ']');
        if (!close || close[1] != '\0') {
            sw_set_error(errbuf, errlen, "%s:%d: section header without a closing ']'", st->path,
                         lineno);
            return -EINVAL;
        }
        on_section(st, trim(s + 1, close), lineno);
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
        /* The line may be a mangled secret: say where it is, never what it says. */
        sw_set_error(errbuf, errlen, "%s:%d: expected [profile] or key = value", st->path, lineno);
        return -EINVAL;
    }
    if (!st->in_profile)
        return 0;
    char *key = trim(s, eq), *val = trim(eq + 1, eq + 1 + strlen(eq + 1));
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(key, key_names[i]) == 0) {
            wipe_free(st->keys[i]);
            st->keys[i] = sw_strdup(val);
        }
    }
    return 0;
}

static int parse_ini(ini_state_t *st, char *buf, char *errbuf, size_t errlen)
{
    int lineno = 0;
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        char *next = nl ? nl + 1 : line + strlen(line);
        if (nl)
            *nl = '\0';
        int rc = parse_line(st, line, ++lineno, errbuf, errlen);
        if (rc < 0)
            return rc;
        line = next;
    }
    return 0;
}

/* Checks that the wanted profile exists and is complete. */
static int check_profile(const ini_state_t *st, char *errbuf, size_t errlen)
{
    if (!st->profile_line) {
        sw_set_error(errbuf, errlen, "%s: no profile [%s] (profiles in the file: %s)", st->path,
                     st->profile, st->others[0] ? st->others : "none");
        return -ENOENT;
    }
    for (int i = 0; i < 2; i++) {
        if (!st->keys[i] || !*st->keys[i]) {
            sw_set_error(errbuf, errlen, "%s:%d: profile [%s] has no %s", st->path,
                         st->profile_line, st->profile, key_names[i]);
            return -EINVAL;
        }
    }
    return 0;
}

static int load_file(const char *path, const char *profile, sw_be_aws_creds_t *out, char *errbuf,
                     size_t errlen)
{
    char *buf = NULL, why[512];
    size_t len = 0;
    int rc = read_file(path, &buf, &len, why, sizeof(why));
    if (rc < 0) {
        sw_set_error(errbuf, errlen,
                     "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not "
                     "set, and the credentials file (profile [%s]) cannot be read: %s",
                     profile, why);
        return rc;
    }
    ini_state_t st = {.path = path, .profile = profile};
    rc = check_text(path, buf, len, errbuf, errlen);
    if (rc == 0)
        rc = parse_ini(&st, buf, errbuf, errlen);
    OPENSSL_cleanse(buf, len);
    sw_free(buf);
    if (rc == 0)
        rc = check_profile(&st, errbuf, errlen);
    if (rc == 0) {
        out->access_key_id = st.keys[0];
        out->secret_access_key = st.keys[1];
        out->session_token = st.keys[2] && *st.keys[2] ? st.keys[2] : NULL;
        if (!out->session_token)
            wipe_free(st.keys[2]);
        snprintf(out->source, sizeof(out->source), "%.280s [%.30s]", path, profile);
        return 0;
    }
    for (int i = 0; i < 3; i++)
        wipe_free(st.keys[i]);
    return rc;
}

int sw_be_aws_creds_load(const char *profile, sw_be_aws_creds_t *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    int rc = load_env(out, errbuf, errlen);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    if (!profile || !*profile)
        profile = env_nonempty("AWS_PROFILE");
    if (!profile)
        profile = "default";
    char path[4096];
    const char *file = env_nonempty("AWS_SHARED_CREDENTIALS_FILE");
    if (file) {
        snprintf(path, sizeof(path), "%s", file);
    } else {
        const char *home = env_nonempty("HOME");
        if (!home) {
            sw_set_error(errbuf, errlen,
                         "no AWS credentials: AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY are not set, and neither "
                         "AWS_SHARED_CREDENTIALS_FILE nor HOME is set to find a credentials "
                         "file (profile [%s])",
                         profile);
            return -ENOENT;
        }
        snprintf(path, sizeof(path), "%s/.aws/credentials", home);
    }
    return load_file(path, profile, out, errbuf, errlen);
}
