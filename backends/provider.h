/* VM providers (issue 11): how the live frontend carries out the policy core's LAUNCH and
 * TERMINATE actions for one instance type. A provider only starts and stops workers; the
 * worker itself dials in to the frontend ("workers dial in", DESIGN.md) and presents the
 * token given at launch, which is how the frontend ties the connection to the core's
 * worker id. So a provider never learns an address, and any launcher works.
 *
 *   local    runs `WORKER_EXE worker --connect ... --token` as a child process after an
 *            optional boot delay standing in for a VM boot; terminate sends SIGTERM, then
 *            SIGKILL after a grace period; exits are reported (the default kind, so that
 *            `spillway serve` runs on a laptop).
 *   command  runs the operator's launch and terminate shell commands (a cloud CLI,
 *            kubectl, ...), asynchronously with a timeout each; the launch command prints
 *            a handle (an instance id, a pod name) that its terminate command gets back.
 *   static   launches nothing: workers started by hand dial in and the frontend adopts
 *            them; the frontend retires one with a Stop frame.
 *
 * Threading: a provider lives on the caller's event_base. Every function, and every
 * callback, runs on that loop's thread; nothing blocks the loop except destroy (bounded).
 * Callbacks are never made from inside the provider call that caused them: they are
 * delivered from the loop, so the owner may call back into the provider from one
 * (anything but destroy). */
#ifndef SW_BACKENDS_PROVIDER_H
#define SW_BACKENDS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

struct event_base;

typedef enum {
    SW_BE_PROVIDER_LOCAL,
    SW_BE_PROVIDER_COMMAND,
    SW_BE_PROVIDER_STATIC,
} sw_be_provider_kind_t;

/* Defaults applied when the option is 0. */
#define SW_BE_PROVIDER_STOP_GRACE_MS_DEFAULT 10000
#define SW_BE_PROVIDER_COMMAND_TIMEOUT_MS_DEFAULT 300000 /* as command_timeout_s */
/* Longest handle a launch command may print (trimmed), and longest token, in bytes. */
#define SW_BE_PROVIDER_HANDLE_MAX_BYTES 1024
#define SW_BE_PROVIDER_TOKEN_MAX_BYTES 256

typedef struct sw_be_provider sw_be_provider_t;

/* What a provider reports to its owner. self is passed back unchanged; every member may be
 * NULL. Strings are borrowed for the call. Reports about a worker may still arrive after
 * the owner terminated it (they were under way); the owner ignores ids it no longer
 * tracks. */
typedef struct sw_be_provider_events {
    void *self;
    /* The launch was accepted but did not happen: exec or fork failed, the log file could
     * not be opened (local), or the launch command failed, timed out or printed no handle
     * (command). why names the worker, the type, what failed and what to do. The worker
     * will not dial in, except after a command that started a VM and then failed: such a
     * worker should be sent Stop if it ever registers. The provider has forgotten it. */
    void (*launch_failed)(void *self, uint32_t worker_id, const char *why);
    /* local only: the worker process ended. wait_status is waitpid's (WIFEXITED and so
     * on), or -1 if it was lost; stop_requested says whether terminate had been called (a
     * worker that exits 0 after the frontend's Stop frame, without a terminate, comes with
     * false). The provider has forgotten the worker. */
    void (*exited)(void *self, uint32_t worker_id, int wait_status, bool stop_requested);
    /* command only: the terminate command failed or timed out (why says how, with the
     * handle, so that an operator can remove the VM by hand). Also logged. The provider
     * has forgotten the worker. */
    void (*terminate_failed)(void *self, uint32_t worker_id, const char *why);
} sw_be_provider_events_t;

/* Options of one provider. Strings are copied by sw_be_provider_create(). */
typedef struct sw_be_provider_opts {
    sw_be_provider_kind_t kind;
    const char *type_name; /* the instance type, for the worker's --type and for messages */
    const char *connect;   /* HOST:PORT workers dial (local and command; SW_CONNECT) */
    int64_t stop_grace_ms; /* local: SIGTERM to SIGKILL; both: how long destroy waits for
                            * children before it kills them. 0: the default above */

    /* local */
    const char *worker_exe;        /* NULL: this executable (/proc/self/exe) */
    const char *model_path;        /* the worker's --model; required */
    unsigned threads;              /* the worker's --threads; 0: left to the worker */
    double boot_delay_s;           /* wait before the spawn, as a VM boot would; >= 0 */
    const char *log_dir;           /* per-worker stdout+stderr files; NULL: inherit ours */
    const char *const *extra_args; /* appended to the worker's argv; NULL-terminated or NULL */

    /* command */
    const char *launch_cmd;     /* /bin/sh -c; required */
    const char *terminate_cmd;  /* /bin/sh -c; NULL or "": terminate only forgets */
    int64_t command_timeout_ms; /* per command run; 0: the default above */
} sw_be_provider_opts_t;

/* Parses "local", "command" or "static". Returns 0 or -EINVAL. */
int sw_be_provider_kind_parse(const char *name, sw_be_provider_kind_t *out);
/* "local", "command" or "static"; static storage. */
const char *sw_be_provider_kind_name(sw_be_provider_kind_t kind);

/* Creates a provider on base (borrowed; must outlive the provider). opts and ev are
 * copied. A local or command provider watches SIGCHLD on base, next to any other watcher
 * (faas-local, other providers), and reaps only its own children. Returns 0 and stores a
 * provider to free with sw_be_provider_destroy(), or -EINVAL with a message naming the
 * type and the option (a missing model, an unusable log_dir, an empty launch command...),
 * or another negative error from libevent setup. */
SW_MUST_USE int sw_be_provider_create(struct event_base *base, const sw_be_provider_opts_t *opts,
                                      const sw_be_provider_events_t *ev, sw_be_provider_t **out,
                                      char *errbuf, size_t errlen);

/* Starts worker worker_id with token (1..SW_BE_PROVIDER_TOKEN_MAX_BYTES printable ASCII
 * characters, no spaces; copied, never logged). Returns 0 when accepted: the worker dials
 * in later, or launch_failed is reported. Returns -EINVAL for a bad token, -EEXIST when
 * worker_id is still known to this provider (booting, running or stopping), and
 * SW_EUNSUPPORTED for a static provider. A local worker gets the token in its environment
 * as SW_TOKEN, not on its command line, which every user can read through ps. */
SW_MUST_USE int sw_be_provider_launch(sw_be_provider_t *p, uint32_t worker_id, const char *token);

/* Stops worker worker_id. Idempotent; an unknown id is a no-op. Returns 0.
 *   local: during the boot delay the spawn is cancelled (nothing is reported); otherwise
 *          SIGTERM, then SIGKILL after stop_grace_ms; exited follows.
 *   command: runs the terminate command with SW_HANDLE; if the launch command is still
 *          running, it runs once the launch has printed a handle. terminate_failed is
 *          reported if it fails; the worker is forgotten either way.
 *   static: forgets (the frontend sends the worker Stop itself). */
int sw_be_provider_terminate(sw_be_provider_t *p, uint32_t worker_id);

/* What is still under way: local, workers booting or with a process not yet reaped;
 * command, launch and terminate commands running; static, 0. A clean shutdown terminates
 * every worker, runs the loop until this is 0 (or a deadline), then destroys. */
size_t sw_be_provider_pending(const sw_be_provider_t *p);

/* The pid of local worker worker_id, or -1 if it is unknown, still booting, already reaped
 * or not local. For tests and fault injection (SIGKILL, SIGSTOP a worker): signal the pid
 * on the loop thread right after asking, since the provider reaps, and the pid may then be
 * reused, only from the loop. */
pid_t sw_be_provider_pid(const sw_be_provider_t *p, uint32_t worker_id);

/* Frees p without calling any callback. Local children still alive get SIGTERM, then
 * SIGKILL after stop_grace_ms, and are reaped before it returns (blocking the loop for at
 * most stop_grace_ms plus one second). Running commands are given the same grace, then
 * killed; workers launched by commands are not terminated, and each one left is logged
 * with its handle. Never call it from a provider callback. NULL does nothing. */
void sw_be_provider_destroy(sw_be_provider_t *p);

#endif
