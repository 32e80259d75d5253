/* Runs the real `spillway serve` for end-to-end tests: writes a policy file, starts the
 * binary on 127.0.0.1 with ports chosen by the kernel, waits for its "listening on" line,
 * sends KServe calls with libcurl (one at a time, or many at once through the multi
 * interface), reads /metrics and the run directory, and stops it by its PID. Header-only,
 * like tiny_model.h: each test binary gets its own copy, inline so that a file may use
 * only some of it. */
#ifndef SW_TESTS_SERVE_HARNESS_H
#define SW_TESTS_SERVE_HARNESS_H

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "model/idx.h"
#include "model/model.h"
#include "serving/kserve.h"

extern char **environ;

#define SH_MODEL SW_BINARY_DIR "/fashion-mlp.pb"
#define SH_DATA "/usr/share/datasets/fashion-mnist"

typedef struct sh_server {
    char dir[64];       /* temp dir: policy.yaml, out/, stderr.log */
    char url[128];      /* http://127.0.0.1:PORT */
    char workers[128];  /* HOST:PORT workers dial */
    pid_t pid;
    int out_fd;
    const char *extra_args[4]; /* more of serve's options, NULL-terminated */
} sh_server_t;

/* The first n Fashion-MNIST test images as floats in [0, 1], and their labels. */
static inline float *sh_images(size_t n, uint8_t *labels)
{
    sw_idx_set_t set;
    char err[512];
    int rc = sw_idx_load_split(&set, SH_DATA, false, err, sizeof(err));
    cr_assert_eq(rc, 0, "Fashion-MNIST is missing (%s): run scripts/install-deps.sh, which "
                        "installs dataset-fashion-mnist", err);
    cr_assert_geq(set.n, n);
    size_t px = set.rows * set.cols;
    float *x = sw_malloc(n * px * sizeof(float));
    for (size_t i = 0; i < n * px; i++)
        x[i] = set.pixels[i] / 255.0f;
    if (labels)
        memcpy(labels, set.labels, n);
    sw_idx_deinit(&set);
    return x;
}

/* What the model itself answers for those rows, in process. */
static inline float *sh_expected(const float *x, size_t n)
{
    sw_model_t *m;
    char err[512];
    cr_assert_eq(sw_model_load(SH_MODEL, 64, &m, err, sizeof(err)), 0, "%s", err);
    float *y = sw_malloc(n * sw_model_output_size(m) * sizeof(float));
    for (size_t done = 0; done < n; done += 64) {
        size_t k = SW_MIN(64, n - done);
        cr_assert_eq(sw_model_infer(m, x + done * 784, k, y + done * 10), 0);
    }
    sw_model_destroy(m);
    return y;
}

static inline void sh_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static inline void sh_path(const sh_server_t *s, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", s->dir, name);
}

/* Makes the server's folder (policy, outputs, log), so that a test can put files beside
 * the policy before starting; sh_start calls it when the test did not. */
static inline void sh_prepare(sh_server_t *s)
{
    memset(s, 0, sizeof(*s));
    s->pid = -1;
    snprintf(s->dir, sizeof(s->dir), "/tmp/sw_serve_XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
}

/* Starts serve on `policy` (YAML text) with extra environment entries (NULL-terminated,
 * may be NULL). Fails the test if it does not listen within 60 s. */
static inline void sh_start(sh_server_t *s, const char *policy, const char *const *env_extra)
{
    if (!s->dir[0])
        sh_prepare(s);
    char cfg[128], out[128], log[128];
    sh_path(s, "policy.yaml", cfg, sizeof(cfg));
    sh_path(s, "out", out, sizeof(out));
    sh_path(s, "stderr.log", log, sizeof(log));
    sh_write(cfg, policy);
    /* clang-format off */
    char *argv[20] = {SW_BINARY_DIR "/spillway", "serve", "--config", cfg, "--listen",
                      "127.0.0.1:0", "--worker-listen", "127.0.0.1:0", "--out", out,
                      "--decisions", "--model", SH_MODEL, NULL};
    /* clang-format on */
    for (size_t i = 0, n = 13; i < SW_ARRAY_LEN(s->extra_args) && s->extra_args[i]; i++)
        argv[n++] = (char *)s->extra_args[i];
    size_t n_env = 0, n_extra = 0;
    while (environ[n_env])
        n_env++;
    while (env_extra && env_extra[n_extra])
        n_extra++;
    char **env = sw_calloc(n_env + n_extra + 1, sizeof(char *));
    memcpy(env, environ, n_env * sizeof(char *));
    if (n_extra)
        memcpy(env + n_env, env_extra, n_extra * sizeof(char *));
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    int rc = posix_spawn(&s->pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    sw_free(env);
    close(pipefd[1]);
    cr_assert_eq(rc, 0, "posix_spawn: %s", strerror(rc));
    s->out_fd = pipefd[0];
    char line[512];
    size_t used = 0;
    sw_time_t end = sw_clock_now() + 60 * SW_US_PER_S;
    while (used + 1 < sizeof(line)) {
        struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
        cr_assert_gt(poll(&p, 1, 1000) >= 0 ? 1 : 0, 0);
        cr_assert_lt(sw_clock_now(), end, "serve did not listen within 60 s; see %s", log);
        if (!(p.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t got = read(s->out_fd, line + used, 1);
        cr_assert_gt(got, 0, "serve exited before listening; see %s", log);
        if (line[used] == '\n')
            break;
        used++;
    }
    line[used] = '\0';
    char host_port[100];
    cr_assert_eq(sscanf(line, "spillway serve: listening on http://%99[^,], workers dial %127[^,]",
                        host_port, s->workers),
                 2, "%s", line);
    snprintf(s->url, sizeof(s->url), "http://%s", host_port);
}

/* Sends a signal and waits for the exit status (fails after timeout_s). */
static inline int sh_stop(sh_server_t *s, int sig, int timeout_s)
{
    if (s->pid <= 0)
        return 0;
    kill(s->pid, sig);
    int status = 0;
    sw_time_t end = sw_clock_now() + (sw_time_t)timeout_s * SW_US_PER_S;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (sw_clock_now() > end) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            cr_assert_fail("serve did not exit within %d s of signal %d", timeout_s, sig);
        }
        usleep(20000);
    }
    s->pid = -1;
    close(s->out_fd);
    return status;
}

static inline void sh_cleanup(sh_server_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = -1;
    }
    if (s->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
        cr_assert_eq(system(cmd), 0);
    }
}

/* ---- HTTP ---- */

typedef struct sh_resp {
    long status;
    char *body;
    size_t len;
    char retry_after[32];
} sh_resp_t;

static inline size_t sh_on_body(char *p, size_t size, size_t n, void *arg)
{
    sh_resp_t *r = arg;
    r->body = sw_realloc(r->body, r->len + size * n + 1);
    memcpy(r->body + r->len, p, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static inline size_t sh_on_header(char *p, size_t size, size_t n, void *arg)
{
    sh_resp_t *r = arg;
    if (size * n > 13 && strncasecmp(p, "Retry-After:", 12) == 0)
        snprintf(r->retry_after, sizeof(r->retry_after), "%.*s", (int)(size * n - 14), p + 13);
    return size * n;
}

static inline CURL *sh_easy(const char *url, const char *method, const char *body, size_t len,
                            sh_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sh_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, sh_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (method)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    return h;
}

/* One call; the answer in *r (free r->body). */
static inline void sh_http(const sh_server_t *s, const char *method, const char *path,
                           const char *body, sh_resp_t *r)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", s->url, path);
    CURL *h = sh_easy(url, method, body, body ? strlen(body) : 0, r);
    CURLcode cc = curl_easy_perform(h);
    cr_assert_eq(cc, CURLE_OK, "%s %s: %s", method ? method : "GET", path, curl_easy_strerror(cc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
}

/* A KServe request body for rows [first, first + n) of x. */
static inline char *sh_infer_body(const float *x, size_t first, size_t n)
{
    sw_srv_kserve_buf_t b;
    sw_srv_kserve_buf_init(&b);
    sw_srv_kserve_format_request(x + first * 784, n, 784, &b);
    return b.data; /* sw_free it */
}

/* Checks an answer's outputs against the model's, row by row. */
static inline void sh_check_outputs(const sh_resp_t *r, const float *want, size_t n)
{
    cr_assert_eq(r->status, 200, "status %ld: %s", r->status, r->body ? r->body : "");
    float *got = sw_malloc(n * 10 * sizeof(float));
    char err[256];
    cr_assert_eq(sw_srv_kserve_parse_response(r->body, r->len, 10, n, got, err, sizeof(err)), 0,
                 "%s", err);
    for (size_t i = 0; i < n * 10; i++)
        cr_assert_float_eq(got[i], want[i], 1e-5, "output %zu of %zu", i, n * 10);
    sw_free(got);
}

/* n single-row calls of rows [0, n), all sent at once on their own connections, each
 * answered exactly once; statuses and answers land in r[0..n). */
static inline void sh_burst(const sh_server_t *s, const float *x, size_t n, sh_resp_t *r)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/v2/models/fashion-mlp/infer", s->url);
    CURLM *m = curl_multi_init();
    CURL **h = sw_calloc(n, sizeof(CURL *));
    char **bodies = sw_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        bodies[i] = sh_infer_body(x, i, 1);
        h[i] = sh_easy(url, NULL, bodies[i], strlen(bodies[i]), &r[i]);
        curl_easy_setopt(h[i], CURLOPT_FRESH_CONNECT, 1L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        cr_assert_eq(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    size_t done = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        cr_assert_eq(msg->data.result, CURLE_OK, "%s", curl_easy_strerror(msg->data.result));
        done++;
    }
    cr_assert_eq(done, n, "every call answered exactly once");
    for (size_t i = 0; i < n; i++) {
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &r[i].status);
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        sw_free(bodies[i]);
    }
    curl_multi_cleanup(m);
    sw_free(h);
    sw_free(bodies);
}

/* The value of a metric line "name{...} value" or "name value" in /metrics, or -1. */
static inline double sh_metric(const sh_server_t *s, const char *name_and_labels)
{
    sh_resp_t r;
    sh_http(s, NULL, "/metrics", NULL, &r);
    cr_assert_eq(r.status, 200);
    double v = -1;
    char *p = r.body;
    size_t n = strlen(name_and_labels);
    while (p && *p) {
        if (strncmp(p, name_and_labels, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    sw_free(r.body);
    return v;
}

/* The whole of a file in the server's dir, or NULL. */
static inline char *sh_read(const sh_server_t *s, const char *name)
{
    char path[256];
    sh_path(s, name, path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = sw_malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- processes ---- */

/* The children of parent (all, or those running `spillway ARGV1`: worker, faas-local,
 * function), at most cap of them, zombies left out. */
static inline size_t sh_children(pid_t parent, const char *argv1, pid_t *out, size_t cap)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t found = 0;
    while (d && (e = readdir(d)) != NULL && found < cap) {
        char path[300], buf[4096];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int pid, ppid;
        char comm[256], state;
        bool child = fscanf(f, "%d %255s %c %d", &pid, comm, &state, &ppid) == 4 &&
                     ppid == parent && state != 'Z';
        fclose(f);
        if (!child)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
        f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        /* argv is NUL-separated: argv[1] follows the first NUL. */
        if (!argv1 || (n > 0 && strlen(buf) + 1 < n && strcmp(buf + strlen(buf) + 1, argv1) == 0))
            out[found++] = pid;
    }
    if (d)
        closedir(d);
    return found;
}

/* The pid of the first such child other than skip_pid, or -1. */
static inline pid_t sh_find_child(pid_t parent, const char *argv1, pid_t skip_pid)
{
    pid_t kids[64];
    size_t n = sh_children(parent, argv1, kids, SW_ARRAY_LEN(kids));
    for (size_t i = 0; i < n; i++)
        if (kids[i] != skip_pid)
            return kids[i];
    return -1;
}

#endif
