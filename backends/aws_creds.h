/* AWS credentials for the Lambda client: from the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or from the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials). The secret key and the session
 * token never appear in an error message, and are wiped from memory when freed.
 *
 * Not thread-safe only in that it reads the process environment; call it from the thread
 * that owns the environment (normally main, at start-up). */
#ifndef SW_BACKENDS_AWS_CREDS_H
#define SW_BACKENDS_AWS_CREDS_H

#include <stddef.h>

typedef struct sw_be_aws_creds {
    char *access_key_id;
    char *secret_access_key;
    char *session_token; /* NULL for long-term credentials */
    /* Where they came from, safe to log: "environment" or "<file> [<profile>]". */
    char source[320];
} sw_be_aws_creds_t;

/* Fills *out. Order: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) if
 * both are set and non-empty; otherwise the shared credentials file, section `profile` if
 * not NULL, else $AWS_PROFILE, else "default" (keys aws_access_key_id,
 * aws_secret_access_key, aws_session_token). The environment wins even over an explicit
 * profile, as in the issue: a caller that wants the file can unset the variables.
 * Returns 0; -ENOENT when nothing was found (errbuf names the variables, file and profile
 * tried); -EINVAL for partial credentials or a malformed file (errbuf names file, line and
 * the missing key), or a file that is a device or FIFO; -EISDIR for a folder; -EFBIG for
 * a file over SW_FILE_MAX_CREDENTIALS_BYTES (common/file.h). On failure *out is zeroed.
 * Free with sw_be_aws_creds_deinit(). */
int sw_be_aws_creds_load(const char *profile, sw_be_aws_creds_t *out, char *errbuf, size_t errlen);

/* Deep copy of src into dst (caller storage); free with sw_be_aws_creds_deinit(). */
void sw_be_aws_creds_copy(sw_be_aws_creds_t *dst, const sw_be_aws_creds_t *src);

/* Wipes and frees the strings and zeroes *c. NULL or an already-deinit'ed value is fine. */
void sw_be_aws_creds_deinit(sw_be_aws_creds_t *c);

#endif
