/* The load generator and the checks shared by the fault scenarios (faults.h). */
#include "tests/faults/faults.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>

float *ft_images, *ft_expected;
static char *bodies[FT_ROWS];

void ft_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ft_images = sh_images(FT_ROWS, NULL);
    ft_expected = sh_expected(ft_images, FT_ROWS);
    for (size_t i = 0; i < FT_ROWS; i++)
        bodies[i] = sh_infer_body(ft_images, i, 1);
}

void ft_teardown(void)
{
    for (size_t i = 0; i < FT_ROWS; i++)
        sw_free(bodies[i]);
    sw_free(ft_images);
    sw_free(ft_expected);
    curl_global_cleanup();
}

size_t ft_scale(size_t n)
{
    const char *s = getenv("SW_FAULT_SCALE");
    unsigned long k = s && *s ? strtoul(s, NULL, 10) : 1;
    return n * (k ? k : 1);
}

/* ---- the load ---- */

typedef struct slot {
    CURL *h;
    sh_resp_t r;
    size_t row;
    bool abort_me;
    sw_time_t started;
} slot_t;

static void add_call(ft_load_t *l, CURLM *m, slot_t *s, const char *url)
{
    size_t i = l->sent++;
    s->row = i % FT_ROWS;
    s->abort_me = l->o.abort_every && (i % l->o.abort_every) == l->o.abort_every - 1;
    s->h = sh_easy(url, NULL, bodies[s->row], strlen(bodies[s->row]), &s->r);
    if (s->abort_me)
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, l->o.abort_ms);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    s->started = sw_clock_now();
    curl_multi_add_handle(m, s->h);
}

static bool outputs_match(const sh_resp_t *r, size_t row)
{
    float got[10];
    char err[256];
    if (sw_srv_kserve_parse_response(r->body, r->len, 10, 1, got, err, sizeof(err)) != 0)
        return false;
    for (size_t k = 0; k < 10; k++)
        if (fabsf(got[k] - ft_expected[row * 10 + k]) > 1e-5f)
            return false;
    return true;
}

static void note_error(ft_load_t *l, const char *fmt, long a, const char *b)
{
    if (!l->first_error[0])
        snprintf(l->first_error, sizeof(l->first_error), fmt, a, b);
}

static void finish_call(ft_load_t *l, slot_t *s, CURLcode cc)
{
    double ms = (double)(sw_clock_now() - s->started) / SW_US_PER_MS;
    long status = 0;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && s->abort_me && cc == CURLE_OPERATION_TIMEDOUT) {
        l->aborted++;
    } else if (cc == CURLE_COULDNT_CONNECT) {
        l->refused++;
    } else if (cc != CURLE_OK) {
        l->transport_errors++;
        note_error(l, "transport error %ld: %s", (long)cc, curl_easy_strerror(cc));
    } else {
        l->answered++;
        if (status == 200) {
            l->ok++;
            l->max_ok_ms = SW_MAX(l->max_ok_ms, ms);
            l->ok_within_slo += l->slo_ms > 0 && ms <= l->slo_ms;
            if (l->o.check_outputs && !outputs_match(&s->r, s->row))
                l->wrong_outputs++;
        } else if (status == 429) {
            l->status_429++;
            l->retry_after_missing += s->r.retry_after[0] == '\0';
        } else if (status == 503) {
            l->status_503++;
        } else if (status == 504) {
            l->status_504++;
        } else if (status >= 500 && status <= 599) {
            l->status_5xx++;
        } else {
            l->status_other++;
            note_error(l, "status %ld: %.200s", status, s->r.body ? s->r.body : "");
        }
    }
    sw_free(s->r.body);
    curl_easy_cleanup(s->h);
    s->h = NULL;
}

static void *load_main(void *arg)
{
    ft_load_t *l = arg;
    char url[256];
    snprintf(url, sizeof(url), "%s/v2/models/fashion-mlp/infer", l->o.srv->url);
    CURLM *m = curl_multi_init();
    slot_t *slots = sw_calloc(l->o.concurrency, sizeof(slot_t));
    size_t in_flight = 0;
    sw_time_t t0 = sw_clock_now();
    while (l->sent < l->o.calls || in_flight > 0) {
        double elapsed_s = (double)(sw_clock_now() - t0) / SW_US_PER_S;
        for (size_t i = 0; i < l->o.concurrency && l->sent < l->o.calls; i++) {
            if (slots[i].h || (l->o.rate > 0 && (double)l->sent >= elapsed_s * l->o.rate))
                continue;
            add_call(l, m, &slots[i], url);
            in_flight++;
        }
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            slot_t *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode cc = msg->data.result;
            curl_multi_remove_handle(m, s->h);
            finish_call(l, s, cc);
            in_flight--;
        }
        curl_multi_poll(m, NULL, 0, l->o.rate > 0 ? 5 : 50, NULL);
    }
    curl_multi_cleanup(m);
    sw_free(slots);
    return NULL;
}

void ft_load_start(ft_load_t *l, const ft_load_opts_t *o, double slo_ms)
{
    memset(l, 0, sizeof(*l));
    l->o = *o;
    l->o.concurrency = SW_MAX(l->o.concurrency, 1);
    l->slo_ms = slo_ms;
    cr_assert_eq(pthread_create(&l->thread, NULL, load_main, l), 0);
}

void ft_load_join(ft_load_t *l)
{
    pthread_join(l->thread, NULL);
}

/* ---- checks ---- */

long ft_peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void check_alive(pid_t pid, long bound_kb)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, WNOHANG), 0, "serve died: status %d", status);
    long kb = ft_peak_rss_kb(pid);
    cr_assert_gt(kb, 0, "no VmHWM for %d", (int)pid);
    cr_assert_lt(kb, bound_kb, "serve's peak RSS %ld KiB is over the %ld KiB bound", kb, bound_kb);
}

void ft_check_load(const ft_load_t *l, pid_t server)
{
    cr_assert_eq(l->sent, l->o.calls);
    cr_assert_eq(l->transport_errors, 0, "%zu calls got no HTTP answer; first: %s",
                 l->transport_errors, l->first_error);
    cr_assert_eq(l->refused, 0, "%zu calls found no listener", l->refused);
    cr_assert_eq(l->answered + l->aborted, l->sent, "every call answered once");
    cr_assert_eq(l->ok + l->status_429 + l->status_503 + l->status_504 + l->status_5xx +
                     l->status_other,
                 l->answered);
    cr_assert_eq(l->status_other, 0, "%s", l->first_error);
    cr_assert_eq(l->wrong_outputs, 0, "%zu answers differ from the model's", l->wrong_outputs);
    cr_assert_eq(l->retry_after_missing, 0, "a 429 without Retry-After");
    check_alive(server, l->o.rss_bound_kb ? l->o.rss_bound_kb : FT_RSS_BOUND_KB);
}

double ft_num(const json_t *sum, const char *dotted)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", dotted);
    const json_t *v = sum;
    for (char *part = strtok(buf, "."); part && v; part = strtok(NULL, "."))
        v = json_object_get(v, part);
    cr_assert(json_is_number(v), "summary.json lacks %s", dotted);
    return json_number_value(v);
}

static void check_costs(const json_t *sum)
{
    double vm = ft_num(sum, "cost_usd.vm"), faas = ft_num(sum, "cost_usd.faas");
    double eps = 1e-9 + 1e-9 * ft_num(sum, "cost_usd.total");
    cr_assert(fabs(ft_num(sum, "cost_usd.total") - vm - faas) <= eps, "total != vm + faas");
    cr_assert(fabs(faas - ft_num(sum, "cost_usd.faas_requests") -
                   ft_num(sum, "cost_usd.faas_compute")) <= eps,
              "faas != requests + compute");
    const json_t *by_type = json_object_get(json_object_get(sum, "cost_usd"), "by_type");
    double types = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)by_type, k, v)
    {
        types += json_number_value(v);
    }
    cr_assert(fabs(types - vm) <= eps, "vm != sum of by_type");
    cr_assert_geq(vm, 0);
    cr_assert_geq(faas, 0);
}

/* Waits for serve to exit on its own (it was sent SIGTERM already). */
static int wait_exit(sh_server_t *s, int timeout_s)
{
    int status = 0;
    sw_time_t end = sw_clock_now() + (sw_time_t)timeout_s * SW_US_PER_S;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        cr_assert_lt(sw_clock_now(), end, "serve did not exit within %d s of SIGTERM", timeout_s);
        usleep(20000);
    }
    s->pid = -1;
    close(s->out_fd);
    return status;
}

json_t *ft_stop_and_check(sh_server_t *s, const ft_load_t *loads, size_t n_loads, long *peak_kb,
                          bool already_signalled)
{
    *peak_kb = ft_peak_rss_kb(s->pid);
    int status = already_signalled ? wait_exit(s, 60) : sh_stop(s, SIGTERM, 60);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "serve exit status %d", status);
    char *text = sh_read(s, "out/summary.json");
    cr_assert_not_null(text, "no summary.json after the drain");
    json_error_t je;
    json_t *sum = json_loads(text, 0, &je);
    cr_assert_not_null(sum, "summary.json: %s", je.text);
    sw_free(text);
    double requests = ft_num(sum, "requests");
    cr_assert_eq(requests,
                 ft_num(sum, "served_vm") + ft_num(sum, "served_faas") + ft_num(sum, "rejected") +
                     ft_num(sum, "failed"),
                 "requests = served + rejected + failed");
    double accepted = ft_num(sum, "serve.calls.accepted"), ok = ft_num(sum, "serve.calls.ok");
    cr_assert_eq(accepted,
                 ok + ft_num(sum, "serve.calls.failed") + ft_num(sum, "serve.calls.timed_out"),
                 "every accepted call answered once");
    /* Single-row calls: a row is a call. */
    cr_assert_eq(requests, accepted);
    size_t sent = 0, client_ok = 0, aborted = 0;
    for (size_t i = 0; i < n_loads; i++) {
        sent += loads[i].sent;
        client_ok += loads[i].ok;
        aborted += loads[i].aborted;
    }
    cr_assert_leq(accepted, (double)sent);
    /* A client that left may miss its 200; no client sees one serve did not count. */
    cr_assert_leq((double)client_ok, ok);
    cr_assert_geq((double)client_ok + (double)aborted, ok, "serve counted more 200s than sent");
    /* Without 504s, each served row is a call answered 200: a row answered twice, or a
     * late result counted, would break it. (A row may finish after its call's 504.) */
    if (ft_num(sum, "serve.calls.timed_out") == 0)
        cr_assert_eq(ft_num(sum, "served_vm") + ft_num(sum, "served_faas"), ok,
                     "rows served = calls answered 200");
    check_costs(sum);
    return sum;
}

/* ---- processes and logs ---- */

void ft_wait_running(const sh_server_t *s, unsigned n)
{
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    while (sh_metric(s, "spillway_workers{type=\"cpu\",state=\"running\"}") < n) {
        cr_assert_lt(sw_clock_now(), end, "workers did not come up");
        usleep(50000);
    }
}

size_t ft_log_count(const sh_server_t *s, const char *needle)
{
    char path[128];
    sh_path(s, "stderr.log", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    char line[4096];
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

bool ft_log_has(const sh_server_t *s, const char *needle)
{
    return ft_log_count(s, needle) > 0;
}

void ft_wait_log(const sh_server_t *s, const char *needle, int timeout_s)
{
    sw_time_t end = sw_clock_now() + (sw_time_t)timeout_s * SW_US_PER_S;
    while (!ft_log_has(s, needle)) {
        cr_assert_lt(sw_clock_now(), end, "the log never said: %s", needle);
        usleep(20000);
    }
}

void ft_figures(const char *scenario, const ft_load_t *loads, size_t n_loads, const json_t *sum,
                long peak_kb, const char *extra)
{
    const char *path = getenv("SW_FAULT_FIGURES");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (!f)
        return;
    size_t sent = 0, ok = 0, err = 0, aborted = 0, r429 = 0;
    for (size_t i = 0; i < n_loads; i++) {
        sent += loads[i].sent;
        ok += loads[i].ok;
        err += loads[i].answered - loads[i].ok;
        aborted += loads[i].aborted;
        r429 += loads[i].status_429;
    }
    char peak[32] = "n/a"; /* a process already exiting has none */
    if (peak_kb >= 0)
        snprintf(peak, sizeof(peak), "%.0f", (double)peak_kb / 1024);
    fprintf(f,
            "%s sent=%zu ok=%zu error=%zu (429=%zu) aborted=%zu accepted=%.0f lost=0 "
            "duplicates=0 workers_lost=%.0f peak_rss_mib=%s %s\n",
            scenario, sent, ok, err, r429, aborted, ft_num(sum, "serve.calls.accepted"),
            ft_num(sum, "vm.lost"), peak, extra ? extra : "");
    fclose(f);
}

/* ---- faas-local ---- */

pid_t ft_start_faas(const sh_server_t *s, unsigned port, const char *command, unsigned concurrency,
                    double timeout_s, const char *const *env_extra, const char *log_level,
                    unsigned *port_out)
{
    char listen[32], fn[1024], conc[16], tmo[32], log[128], out_path[128];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    if (command)
        snprintf(fn, sizeof(fn), "spillway-infer=%s", command);
    else
        snprintf(fn, sizeof(fn), "spillway-infer=%s function --model %s", SW_BINARY_DIR "/spillway",
                 SH_MODEL);
    snprintf(conc, sizeof(conc), "%u", concurrency);
    snprintf(tmo, sizeof(tmo), "%g", timeout_s);
    sh_path(s, "faas-local.log", log, sizeof(log));
    sh_path(s, "faas-local.out", out_path, sizeof(out_path));
    char *level = (char *)(log_level ? log_level : "info");
    /* clang-format off */
    char *argv[] = {SW_BINARY_DIR "/spillway", "faas-local", "--listen", listen,
                    "--function", fn, "--concurrency", conc, "--timeout-s", tmo,
                    "--keep-alive-s", "60", "--log-level", level, NULL};
    /* clang-format on */
    /* Only what it needs: PATH for function scripts, and the credentials given. */
    char *env[8] = {"PATH=/usr/bin:/bin"};
    for (size_t i = 0; env_extra && env_extra[i] && i + 2 < SW_ARRAY_LEN(env); i++)
        env[i + 1] = (char *)env_extra[i];
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, env), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    FILE *out = fdopen(pipefd[0], "r");
    char line[256] = "";
    cr_assert_not_null(fgets(line, sizeof(line), out), "faas-local did not start; see %s", log);
    /* What it prints later goes to a file a test may read. */
    FILE *rest = fopen(out_path, "a");
    fputs(line, rest);
    fclose(rest);
    fclose(out);
    cr_assert_eq(sscanf(line, "listening on 127.0.0.1:%u", port_out), 1, "%s", line);
    return pid;
}

void ft_stop_faas(pid_t pid, bool hard)
{
    if (pid <= 0)
        return;
    /* Hard: its function environments first, so that it still reaps them (an orphan's
     * zombie is not always reaped in a container), then faas-local, as a crash would. */
    pid_t children[64];
    size_t n = hard ? sh_children(pid, NULL, children, SW_ARRAY_LEN(children)) : 0;
    for (size_t i = 0; i < n; i++)
        kill(children[i], SIGKILL);
    if (n)
        usleep(200000);
    kill(pid, hard ? SIGKILL : SIGTERM);
    sw_time_t end = sw_clock_now() + 10 * SW_US_PER_S;
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (sw_clock_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        usleep(20000);
    }
}
