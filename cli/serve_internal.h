/* Shared by cli/cmd_serve.c and cli/serve_faas_local.c only. */
#ifndef SW_CLI_SERVE_INTERNAL_H
#define SW_CLI_SERVE_INTERNAL_H

#include <sys/types.h>

#include "config/config.h"

/* A faas-local child started for faas.invoke.endpoint: local. */
typedef struct serve_faas_local {
    pid_t pid;
    int out_fd;
    char endpoint[256];
    char access_key_id[32];
    char secret[48];
    char env_key[64], env_secret[80];
} serve_faas_local_t;

/* Starts faas-local (exe faas-local ...) serving `exe function --model model_path` as
 * faas.invoke.function_name, with the policy's memory, concurrency, keep-alive and
 * timeout, and waits until it listens. Returns 0 with fl->endpoint and the credentials
 * set, or a negative error (logged). */
int sw__serve_faas_local_start(serve_faas_local_t *fl, const char *exe, const char *model_path,
                               const sw_cfg_t *cfg);
/* Stops it (SIGTERM, then SIGKILL after 5 s) and wipes the credentials. Idempotent. */
void sw__serve_faas_local_stop(serve_faas_local_t *fl);

#endif
