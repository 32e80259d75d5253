/* AWS Signature Version 4 (AWS4-HMAC-SHA256) request signing, for the Lambda Invoke client
 * and for faas-local's signature check. Each step of the algorithm is a separate function
 * so tests can compare every intermediate byte for byte with the AWS test suite:
 *
 *   canonical request -> string to sign -> (signing key) -> signature -> Authorization
 *
 * All functions are pure (no clock, no I/O, no globals) and may be called from any thread.
 * Every pointer argument is borrowed for the call only. */
#ifndef SW_BACKENDS_SIGV4_H
#define SW_BACKENDS_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define SW_BE_SIGV4_KEY_BYTES 32
#define SW_BE_SIGV4_HEX_LEN 64 /* a hex SHA-256 or signature, without the NUL */

/* One header line. Duplicate names (any case) and repeated values are allowed: values of
 * the same name are joined with ',' in the order given. */
typedef struct sw_be_sigv4_header {
    const char *name;
    const char *value;
} sw_be_sigv4_header_t;

/* The request as it will go on the wire. */
typedef struct sw_be_sigv4_req {
    const char *method;                  /* "GET", "POST", ... */
    const char *path;                    /* as on the request line, may hold %XX escapes */
    const char *query;                   /* after '?', without it; NULL or "" for none */
    const sw_be_sigv4_header_t *headers; /* every header sent, including Host, X-Amz-Date */
    size_t n_headers;
    const void *body; /* NULL when body_bytes is 0 */
    size_t body_bytes;
} sw_be_sigv4_req_t;

typedef struct sw_be_sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL for long-term credentials */
} sw_be_sigv4_creds_t;

/* Where and when: the credential scope is DATE/region/service/aws4_request. */
typedef struct sw_be_sigv4_scope {
    const char *region;   /* "us-east-1" */
    const char *service;  /* "lambda"; "s3" turns off path normalisation and double encoding */
    const char *amz_date; /* ISO 8601 basic, "20150830T123600Z"; must match X-Amz-Date */
} sw_be_sigv4_scope_t;

/* Builds the canonical request. Signs exactly the headers in req, plus
 * X-Amz-Security-Token = creds->session_token when creds has a token and req carries no
 * such header: the caller must then send that header too. creds may be NULL (no token).
 * The payload hash is the value of an X-Amz-Content-Sha256 header if req has one, else the
 * hex SHA-256 of the body. On success returns 0 and sets *out (and *signed_headers unless
 * it is NULL) to strings the caller frees with sw_free(). On failure returns -EINVAL with a
 * message in errbuf and sets nothing. */
int sw_be_sigv4_canonical_request(const sw_be_sigv4_req_t *req, const sw_be_sigv4_creds_t *creds,
                                  const sw_be_sigv4_scope_t *scope, char **out,
                                  char **signed_headers, char *errbuf, size_t errlen);

/* Builds the string to sign for a canonical request. Returns 0 and a string in *out that
 * the caller frees with sw_free(), or -EINVAL (bad amz_date) with a message in errbuf. */
int sw_be_sigv4_string_to_sign(const sw_be_sigv4_scope_t *scope, const char *canonical_request,
                               char **out, char *errbuf, size_t errlen);

/* Derives the signing key: HMAC-SHA256 chain "AWS4"+secret -> date (YYYYMMDD) -> region ->
 * service -> "aws4_request". Writes 32 bytes to key. Returns 0, or -EINVAL. */
int sw_be_sigv4_signing_key(const char *secret_key, const char *date8, const char *region,
                            const char *service, uint8_t key[SW_BE_SIGV4_KEY_BYTES]);

/* Hex HMAC-SHA256 of string_to_sign under key, written as 64 chars plus NUL to hex. */
void sw_be_sigv4_signature(const uint8_t key[SW_BE_SIGV4_KEY_BYTES], const char *string_to_sign,
                           char hex[SW_BE_SIGV4_HEX_LEN + 1]);

/* Runs every step and returns the Authorization header value in *out ("AWS4-HMAC-SHA256
 * Credential=..., SignedHeaders=..., Signature=..."), freed by the caller with sw_free().
 * Returns 0, or -EINVAL with a message in errbuf (never containing the secret). */
int sw_be_sigv4_authorization(const sw_be_sigv4_req_t *req, const sw_be_sigv4_creds_t *creds,
                              const sw_be_sigv4_scope_t *scope, char **out, char *errbuf,
                              size_t errlen);

#endif
