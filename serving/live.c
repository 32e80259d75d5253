/* The live driver's set-up and its event handlers (see live.h). Each handler reads the
 * clock once into l->now, makes one call into the core, and flushes: the core's actions
 * are executed, their immediate outcomes fed back, the decision log and the timeline
 * written and the core's timer re-armed (live_exec.c). */
#include "serving/live.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "common/net.h"
#include "serving/live_internal.h"

#define SW_LOG_MODULE "serve"
#include "common/log.h"

/* ---- HTTP ---- */

static bool is_ready(void *self)
{
    sw_srv_live_t *l = self;
    if (l->draining)
        return false;
    if (l->lambda)
        return true;
    for (size_t i = 0; i < l->wk_cap; i++)
        if (l->wk[i] && l->wk[i]->state == LW_CONNECTED)
            return true;
    return false;
}

static bool is_draining(void *self)
{
    sw_srv_live_t *l = self;
    return l->draining;
}

static void on_infer(void *self, sw_srv_infer_t *inf)
{
    sw_srv_live_t *l = self;
    sw__live_tick(l);
    /* When the load came, on the core's clock: a simulation of the same window starts
     * that much earlier to line its intervals up with these (simulate --lead). */
    if (l->c.calls_accepted == 0)
        SW_LOG_INFO("first call core_time_s=%.6f", sw_time_to_s(l->now));
    sw__live_call_accept(l, inf);
}

static void on_metrics(void *self, struct evbuffer *out)
{
    sw_srv_live_t *l = self;
    sw__live_tick(l);
    sw__live_metrics(l, out);
}

/* ---- workers ---- */

static bool token_matches(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n > 0 && n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static live_worker_t *launched_worker_with_token(sw_srv_live_t *l, const char *token, int type)
{
    for (size_t i = 0; i < l->wk_cap; i++) {
        live_worker_t *w = l->wk[i];
        if (w && w->launched && w->state == LW_LAUNCHING && w->type == type &&
            token_matches(w->token, token))
            return w;
    }
    return NULL;
}

static uint32_t admit(sw_srv_live_t *l, const Spillway__Hello *h, int type, const char **why)
{
    const char *token = h->token ? h->token : "";
    live_worker_t *w = launched_worker_with_token(l, token, type);
    if (w) {
        w->state = LW_CONNECTED;
        w->ready_at = l->now;
        SW_LOG_INFO("ready worker=%" PRIu32 " type=%s boot_s=%.1f", w->id, h->instance_type,
                    sw_time_to_s(l->now - w->launched_at));
        sw_sched_on_worker_ready(l->sched, l->now, w->id, &l->acts);
        return w->id;
    }
    if (!l->o.static_token || !token_matches(l->o.static_token, token)) {
        *why = "its token matches no launch in progress and is not the static pool's token";
        return 0;
    }
    if (l->o.providers[type].kind != SW_BE_PROVIDER_STATIC) {
        *why = "hand-started workers may only join instance types whose provider is static";
        return 0;
    }
    uint32_t id = sw_sched_adopt_worker(l->sched, l->now, type, &l->acts);
    w = sw__live_worker_add(l, id, type);
    w->state = LW_CONNECTED;
    w->ready_at = l->now;
    SW_LOG_INFO("ready worker=%" PRIu32 " type=%s adopted (static pool)", id, h->instance_type);
    return id;
}

static uint32_t on_worker_hello(void *self, const Spillway__Hello *h, const char *peer,
                                const char **why)
{
    sw_srv_live_t *l = self;
    (void)peer;
    sw__live_tick(l);
    int type = sw_cfg_find_type(l->cfg, h->instance_type ? h->instance_type : "");
    if (type < 0) {
        *why = "its instance type is not in the policy's instance_types";
        return 0;
    }
    if (!h->model_name || strcmp(h->model_name, l->o.model.name) != 0 ||
        h->model_version != l->o.model.version) {
        *why = "it serves another model (name or version) than this frontend";
        return 0;
    }
    uint32_t id = admit(l, h, type, why);
    /* Not flushed here: the listener registers the connection only once this returns,
     * and the core's first batch for the new worker would find none, lose the worker and
     * do the same to its replacement for as long as calls wait. */
    event_active(l->flush_ev, EV_TIMEOUT, 1);
    return id;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sw_srv_live_t *l = arg;
    sw__live_tick(l);
    sw__live_flush(l);
}

/* Checks a BatchResult against the batch in hand: same id, one answer per request, in
 * order, each with a full output or an error. */
static bool result_matches(const sw_srv_live_t *l, const live_worker_t *w,
                           const Spillway__BatchResult *r)
{
    if (r->batch_id != w->batch_id || r->n_answers != w->batch_n)
        return false;
    for (size_t i = 0; i < r->n_answers; i++) {
        const Spillway__Answer *a = r->answers[i];
        bool has_error = a->error && a->error[0];
        if (a->id != w->batch_ids[i] || (!has_error && a->n_output != l->o.model.output_size))
            return false;
    }
    return true;
}

static void on_worker_result(void *self, uint32_t worker_id, const Spillway__BatchResult *r)
{
    sw_srv_live_t *l = self;
    sw__live_tick(l);
    live_worker_t *w = sw__live_worker(l, worker_id);
    if (!w || w->batch_n == 0 || r->batch_id != w->batch_id) {
        l->c.late_results++;
        return;
    }
    if (!result_matches(l, w, r)) {
        l->c.bad_results++;
        SW_LOG_ERROR("worker answered a batch it was not given worker=%" PRIu32 " batch=%" PRIu64
                     " answers=%zu expected=%" PRIu32 "; dropping the worker",
                     worker_id, r->batch_id, r->n_answers, w->batch_n);
        sw_srv_workers_forget(l->workers, worker_id);
        sw_be_provider_terminate(l->providers[w->type], worker_id);
        sw__live_worker_forget(l, worker_id);
        sw_sched_on_worker_lost(l->sched, l->now, worker_id, &l->acts);
        sw__live_flush(l);
        return;
    }
    bool *mask = l->failed_mask;
    memset(mask, 0, r->n_answers * sizeof(*mask));
    sw__live_record_batch(l, w, r->compute_ms, sw_time_to_ms(l->now - w->batch_sent));
    for (size_t i = 0; i < r->n_answers; i++) {
        const Spillway__Answer *a = r->answers[i];
        uint32_t row;
        live_call_t *c = sw__live_call_of(l, a->id, &row);
        SW_ASSERT(c != NULL);
        if (a->error && a->error[0]) {
            mask[i] = true;
            char msg[160];
            snprintf(msg, sizeof(msg), "the worker failed on this input: %s", a->error);
            sw__live_row_done(l, c, row, 500, msg, 0);
        } else {
            memcpy(sw__live_row_output(l, c, row), a->output,
                   l->o.model.output_size * sizeof(float));
            sw__live_row_done(l, c, row, 0, NULL, 0);
        }
    }
    w->batch_n = 0;
    sw_sched_on_batch_result(l->sched, l->now, worker_id, r->batch_id, mask, &l->acts);
    sw__live_flush(l);
}

static void on_worker_drain(void *self, uint32_t worker_id, const char *reason)
{
    sw_srv_live_t *l = self;
    sw__live_tick(l);
    live_worker_t *w = sw__live_worker(l, worker_id);
    if (!w)
        return;
    SW_LOG_INFO("worker draining worker=%" PRIu32 " type=%s reason=\"%s\"", worker_id,
                l->cfg->instance_types[w->type].name, reason);
    w->state = LW_STOPPING;
    sw_sched_on_worker_draining(l->sched, l->now, worker_id, &l->acts);
    sw__live_flush(l);
}

/* A worker is gone for good: its record, its process or VM, and the core's view. */
static void worker_lost(sw_srv_live_t *l, uint32_t worker_id, const char *why)
{
    live_worker_t *w = sw__live_worker(l, worker_id);
    if (w) {
        SW_LOG_WARN("lost worker=%" PRIu32 " type=%s reason=\"%s\"", worker_id,
                    l->cfg->instance_types[w->type].name, why);
        if (w->launched)
            sw_be_provider_terminate(l->providers[w->type], worker_id);
        sw__live_worker_forget(l, worker_id);
    }
    sw_sched_on_worker_lost(l->sched, l->now, worker_id, &l->acts);
    sw__live_flush(l);
}

static void on_worker_lost(void *self, uint32_t worker_id, const char *why)
{
    sw_srv_live_t *l = self;
    sw__live_tick(l);
    worker_lost(l, worker_id, why);
}

/* ---- providers ---- */

static void on_launch_failed(void *self, uint32_t worker_id, const char *why)
{
    sw_srv_live_t *l = self;
    sw__live_tick(l);
    if (l->tearing_down)
        return;
    char msg[256];
    snprintf(msg, sizeof(msg), "launch failed: %s", why);
    worker_lost(l, worker_id, msg);
}

static void on_worker_exited(void *self, uint32_t worker_id, int wait_status, bool stop_requested)
{
    sw_srv_live_t *l = self;
    sw__live_tick(l);
    if (l->tearing_down || stop_requested || !sw__live_worker(l, worker_id))
        return;
    char msg[128];
    if (wait_status == -1)
        snprintf(msg, sizeof(msg), "its process was lost (not reaped)");
    else if (WIFSIGNALED(wait_status))
        snprintf(msg, sizeof(msg), "its process was killed by signal %d", WTERMSIG(wait_status));
    else
        snprintf(msg, sizeof(msg), "its process exited with status %d", WEXITSTATUS(wait_status));
    sw_srv_workers_forget(l->workers, worker_id);
    worker_lost(l, worker_id, msg);
}

static void on_terminate_failed(void *self, uint32_t worker_id, const char *why)
{
    (void)self;
    /* The core already stopped billing it; the VM may still run and cost money. */
    SW_LOG_ERROR("terminate failed worker=%" PRIu32 " reason=\"%s\"; the VM may still be "
                 "running: remove it by hand", worker_id, why);
}

/* ---- timers ---- */

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sw_srv_live_t *l = arg;
    sw__live_tick(l);
    l->wake_armed = SW_TIME_NEVER;
    sw_sched_on_tick(l->sched, l->now, &l->acts);
    sw__live_flush(l);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sw_srv_live_t *l = arg;
    sw__live_tick(l);
    sw__live_calls_expire(l);
}

static void finish_run(sw_srv_live_t *l);

static void check_boot_timeouts(sw_srv_live_t *l)
{
    sw_time_t limit = l->o.boot_timeout_ms * SW_US_PER_MS;
    for (size_t i = 0; i < l->wk_cap; i++) {
        live_worker_t *w = l->wk[i];
        /* A launch that failed during this very sweep waits for the next one. */
        bool failed = w && w->launch_failed && w->launched_at < l->now;
        if (!w || w->state != LW_LAUNCHING || (!failed && l->now - w->launched_at <= limit))
            continue;
        char msg[128];
        snprintf(msg, sizeof(msg), "did not dial in within serve.boot_timeout_s (%.0f s)",
                 (double)l->o.boot_timeout_ms / 1e3);
        worker_lost(l, w->id, w->launch_failed ? "its launch failed" : msg);
    }
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sw_srv_live_t *l = arg;
    sw__live_tick(l);
    if (l->finished) {
        if (sw_srv_workers_admitted(l->workers) == 0 || l->now >= l->exit_deadline)
            event_base_loopexit(l->base, NULL);
        return;
    }
    check_boot_timeouts(l);
    sw__live_check_drift(l);
    if (l->draining &&
        ((l->calls_open == 0 && sw_sched_is_idle(l->sched)) || l->now >= l->drain_deadline))
        finish_run(l);
}

/* ---- the run directory ---- */

static int open_run_dir(sw_srv_live_t *l, char *errbuf, size_t errlen)
{
    const char *dir = l->o.out_dir;
    if (!dir)
        return 0;
    if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
        int err = errno;
        snprintf(errbuf, errlen, "%s: cannot create directory: %s", dir, strerror(err));
        return -err;
    }
    snprintf(l->path, sizeof(l->path), "%s/timeline.csv", dir);
    if (!(l->timeline_f = fopen(l->path, "w")) ||
        sw_run_timeline_header(l->timeline_f, l->cfg) < 0) {
        snprintf(errbuf, errlen, "%s: cannot create: %s", l->path, strerror(errno));
        return -EIO;
    }
    if (l->o.decisions) {
        snprintf(l->path, sizeof(l->path), "%s/decisions.jsonl", dir);
        if (!(l->decisions_f = fopen(l->path, "w"))) {
            snprintf(errbuf, errlen, "%s: cannot create: %s", l->path, strerror(errno));
            return -EIO;
        }
    }
    return 0;
}

static void write_summary(sw_srv_live_t *l)
{
    if (!l->o.out_dir)
        return;
    sw_sched_summary_t sum;
    sw_sched_summary(l->sched, l->now, &sum);
    json_t *root = sw_run_summary_json(l->cfg, &sum);
    /* A live run replays no file: its "trace" is the traffic it was sent. */
    char trace[320];
    snprintf(trace, sizeof(trace), "live http://%s", l->http_address);
    json_object_set_new(root, "trace", json_string(trace));
    json_object_set_new(root, "serve", sw__live_summary_section(l));
    char err[512];
    snprintf(l->path, sizeof(l->path), "%s/summary.json", l->o.out_dir);
    if (sw_run_write_json(l->path, root, err, sizeof(err)) < 0)
        SW_LOG_ERROR("%s", err);
    json_decref(root);
}

/* The end of a drain: calls to functions still out are cancelled (each comes back
 * failed, and the core answers it), the core rejects what is left and terminates every
 * worker, and the run directory is completed. */
static void finish_run(sw_srv_live_t *l)
{
    l->finished = true;
    sw_be_lambda_t *lambda = l->lambda;
    l->lambda = NULL; /* nothing may be invoked while the client is being torn down */
    sw_be_lambda_destroy(lambda);
    sw__live_tick(l);
    sw_sched_finish(l->sched, l->now, &l->acts);
    sw__live_flush(l);
    sw__live_calls_expire(l);
    write_summary(l);
    if (l->timeline_f)
        fflush(l->timeline_f);
    if (l->decisions_f)
        fflush(l->decisions_f);
    sw_sched_summary_t sum;
    sw_sched_summary(l->sched, l->now, &sum);
    SW_LOG_INFO("drained calls=%" PRIu64 " ok=%" PRIu64 " failed=%" PRIu64 " timed_out=%" PRIu64
                " cost_usd=%.6f", l->c.calls_accepted, l->c.calls_ok, l->c.calls_failed,
                l->c.calls_timed_out, sum.cost.total_usd);
    l->drained = true;
    /* The loop ends once every worker has taken its Stop and closed (a hand-started
     * worker that lost its connection instead would dial in again and wait), or after a
     * short grace: see on_sweep. */
    l->exit_deadline = l->now + 3 * SW_US_PER_S;
}

void sw_srv_live_drain(sw_srv_live_t *l)
{
    if (l->draining)
        return;
    sw__live_tick(l);
    l->draining = true;
    l->drain_deadline = l->now + l->o.drain_timeout_ms * SW_US_PER_MS;
    SW_LOG_INFO("draining calls_in_flight=%" PRIu64 " deadline_s=%.1f", l->calls_open,
                (double)l->o.drain_timeout_ms / 1e3);
    if (l->calls_open == 0 && sw_sched_is_idle(l->sched))
        finish_run(l);
}

bool sw_srv_live_is_done(const sw_srv_live_t *l) { return l->drained; }

/* ---- set-up and tear-down ---- */

static int start_listeners(sw_srv_live_t *l, char *errbuf, size_t errlen)
{
    sw_srv_workers_opts_t wo = {.listen = l->o.worker_listen,
                                .max_frame_bytes = l->o.max_frame_bytes,
                                .heartbeat_timeout_ms = l->o.worker_timeout_ms};
    sw_srv_workers_events_t we = {.self = l, .hello = on_worker_hello, .result = on_worker_result,
                                  .drain = on_worker_drain, .lost = on_worker_lost};
    int rc = sw_srv_workers_create(l->base, &wo, &we, &l->workers, errbuf, errlen);
    if (rc < 0)
        return rc;
    unsigned n_types = l->cfg->instance_types_count;
    l->providers = sw_calloc(n_types, sizeof(*l->providers));
    l->provider_events = (sw_be_provider_events_t){.self = l,
                                                   .launch_failed = on_launch_failed,
                                                   .exited = on_worker_exited,
                                                   .terminate_failed = on_terminate_failed};
    for (unsigned t = 0; t < n_types; t++) {
        sw_be_provider_opts_t po = l->o.providers[t];
        po.connect = sw_srv_workers_address(l->workers);
        rc = sw_be_provider_create(l->base, &po, &l->provider_events, &l->providers[t], errbuf,
                                   errlen);
        if (rc < 0)
            return rc;
    }
    if (l->o.lambda &&
        (rc = sw_be_lambda_create(l->base, l->o.lambda, &l->lambda, errbuf, errlen)) < 0)
        return rc;
    sw_srv_http_opts_t ho = {.listen = l->o.listen,
                             .model_name = l->o.model.name,
                             .model_version = l->o.model.version,
                             .input_size = l->o.model.input_size,
                             .output_size = l->o.model.output_size,
                             .max_batch = l->o.model.max_batch,
                             .max_body_bytes = l->o.max_body_bytes,
                             .max_connections = l->o.max_connections,
                             .read_timeout_ms = l->o.client_timeout_ms,
                             .write_timeout_ms = l->o.client_timeout_ms,
                             .idle_timeout_ms = l->o.client_timeout_ms};
    sw_srv_http_ops_t ops = {.self = l, .is_ready = is_ready, .is_draining = is_draining,
                             .infer = on_infer, .metrics = on_metrics};
    rc = sw_srv_http_create(l->base, &ho, &ops, &l->http, errbuf, errlen);
    if (rc < 0)
        return rc;
    /* The host as configured, the port as bound (the kernel's choice for port 0). */
    char host[256];
    uint16_t port;
    if (sw_net_split_host_port(l->o.listen, host, sizeof(host), &port, true) < 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    snprintf(l->http_address, sizeof(l->http_address), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
             host, sw_srv_http_port(l->http));
    return 0;
}

int sw_srv_live_create(struct event_base *base, const sw_srv_live_opts_t *opts,
                       sw_srv_live_t **out, char *errbuf, size_t errlen)
{
    sw_srv_live_t *l = sw_calloc(1, sizeof(*l));
    l->base = base;
    l->o = *opts;
    l->o.predictor = NULL; /* passed to the core below */
    l->cfg = opts->cfg;
    l->origin = sw_clock_now();
    l->wake_armed = SW_TIME_NEVER;
    sw_actions_init(&l->acts);
    sw__live_calls_init(l);
    sw_hist_init(&l->latency_us);
    sw_hist_init(&l->queue_us);
    sw_hist_init(&l->compute_us);
    unsigned n_types = l->cfg->instance_types_count, max_batch = 1;
    for (unsigned t = 0; t < n_types; t++)
        max_batch = SW_MAX(max_batch, l->cfg->instance_types[t].max_batch);
    l->failed_mask = sw_calloc(max_batch, sizeof(bool));
    l->faas_out = sw_calloc(l->o.model.output_size, sizeof(float));
    l->type_stats = sw_calloc(n_types, sizeof(*l->type_stats));
    for (unsigned t = 0; t < n_types; t++)
        sw_hist_init(&l->type_stats[t].compute_us);
    l->wake_ev = evtimer_new(base, on_wake, l);
    l->deadline_ev = evtimer_new(base, on_deadline, l);
    l->sweep_ev = event_new(base, -1, EV_PERSIST, on_sweep, l);
    l->flush_ev = event_new(base, -1, 0, on_flush, l);
    int rc = sw_sched_create_with(&l->sched, l->cfg, opts->predictor, errbuf, errlen);
    if (rc < 0)
        goto fail;
    if ((rc = open_run_dir(l, errbuf, errlen)) < 0 ||
        (rc = start_listeners(l, errbuf, errlen)) < 0)
        goto fail;
    struct timeval sweep = {.tv_sec = 0, .tv_usec = 250000};
    event_add(l->sweep_ev, &sweep);
    sw__live_tick(l);
    sw_sched_start(l->sched, l->now, &l->acts);
    sw__live_flush(l);
    *out = l;
    return 0;
fail:
    sw_srv_live_destroy(l);
    return rc;
}

const char *sw_srv_live_worker_address(const sw_srv_live_t *l)
{
    return sw_srv_workers_address(l->workers);
}

const char *sw_srv_live_http_address(const sw_srv_live_t *l) { return l->http_address; }

void sw_srv_live_destroy(sw_srv_live_t *l)
{
    if (!l)
        return;
    /* Callbacks that fire while things are torn down (cancelled function calls, exiting
     * workers) only release their context. Calls still open (a second signal, or a
     * failed start) get 503 before the HTTP server goes; the workers' processes are
     * stopped by their providers. */
    l->tearing_down = true;
    sw_be_lambda_t *lambda = l->lambda;
    l->lambda = NULL;
    sw_be_lambda_destroy(lambda);
    sw__live_calls_deinit(l);
    sw_srv_http_destroy(l->http);
    sw_srv_workers_destroy(l->workers);
    for (unsigned t = 0; l->providers && t < l->cfg->instance_types_count; t++)
        sw_be_provider_destroy(l->providers[t]);
    sw_free(l->providers);
    for (size_t i = 0; i < l->wk_cap; i++)
        if (l->wk[i])
            sw__live_worker_forget(l, (uint32_t)i);
    sw_free(l->wk);
    sw_sched_destroy(l->sched);
    sw_actions_deinit(&l->acts);
    if (l->wake_ev)
        event_free(l->wake_ev);
    if (l->deadline_ev)
        event_free(l->deadline_ev);
    if (l->sweep_ev)
        event_free(l->sweep_ev);
    if (l->flush_ev)
        event_free(l->flush_ev);
    if (l->timeline_f)
        fclose(l->timeline_f);
    if (l->decisions_f)
        fclose(l->decisions_f);
    sw_free(l->batch_reqs);
    sw_free(l->batch_req_ptrs);
    sw_srv_kserve_buf_deinit(&l->payload);
    sw__live_faas_ctx_free_all(l);
    sw_free(l->faas_out);
    sw_free(l->failed_mask);
    sw_free(l->type_stats);
    sw_free(l->fb);
    sw_cfg_destroy(l->owned_cfg);
    sw_free(l);
}

/* ---- reload (SIGHUP) ---- */

/* The driver's own keys that may change while it runs; the core says which of its keys
 * it reads as it goes (sw_sched_key_is_live). */
static bool serve_key_is_live(const char *path)
{
    return strcmp(path, "serve.request_timeout_ms") == 0 ||
           strcmp(path, "serve.boot_timeout_s") == 0 || strcmp(path, "serve.drain_timeout_s") == 0;
}

typedef struct reload_diff {
    sw_strbuf_t live, restart;
} reload_diff_t;

static void on_changed_key(void *ctx, const char *path)
{
    reload_diff_t *d = ctx;
    sw_strbuf_t *b = sw_sched_key_is_live(path) || serve_key_is_live(path) ? &d->live : &d->restart;
    sw_strbuf_printf(b, "%s%s", b->len ? ", " : "", path);
}

int sw_srv_live_reload(sw_srv_live_t *l, sw_cfg_t *cfg, char *errbuf, size_t errlen)
{
    reload_diff_t d = {0};
    size_t changed = sw_cfg_diff(l->cfg, cfg, on_changed_key, &d);
    if (d.restart.len > 0) {
        snprintf(errbuf, errlen, "not reloaded: these keys take effect only when serve restarts: "
                 "%s", d.restart.p);
        sw_strbuf_free(&d.live, false);
        sw_strbuf_free(&d.restart, false);
        return -EINVAL;
    }
    sw__live_tick(l);
    sw_sched_reconfigure(l->sched, cfg);
    l->o.request_timeout_ms = (int64_t)cfg->serve.request_timeout_ms;
    l->o.boot_timeout_ms = (int64_t)(cfg->serve.boot_timeout_s * 1e3);
    l->o.drain_timeout_ms = (int64_t)(cfg->serve.drain_timeout_s * 1e3);
    sw_cfg_destroy(l->owned_cfg);
    l->owned_cfg = cfg;
    l->cfg = l->o.cfg = cfg;
    SW_LOG_INFO("reloaded keys_changed=%zu keys=\"%s\"", changed, changed ? d.live.p : "");
    sw_strbuf_free(&d.live, false);
    sw_strbuf_free(&d.restart, false);
    /* A shorter timeout or a lower limit may have work due now. */
    sw_sched_on_tick(l->sched, l->now, &l->acts);
    sw__live_flush(l);
    sw__live_calls_expire(l);
    return 0;
}
