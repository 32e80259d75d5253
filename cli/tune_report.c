/* What `spillway tune` tells its user: the table of defaults against the choice on the
 * training and the held-back parts, tuned.yaml (the changed keys as a policy-file
 * fragment, with the figures in its header) and tune.json (every run and the choice). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/tune_internal.h"
#include "common/strbuf.h"

double tune_launches(const sw_run_summary_t *s)
{
    return s->vm_launches_per_hour * s->sim.simulated_s / 3600.0;
}

/* ---- the table --------------------------------------------------------------------- */

static void table_row(const char *part, const char *what, const sw_run_summary_t *s)
{
    printf("  %-6s %-16s %12.2f %9.3f %8.2f %9.0f\n", part, what, s->cost_usd,
           s->slo_attainment * 100, sw_run_summary_spill_share(s) * 100, tune_launches(s));
}

/* a / b in a column `width` wide, or "-" where b is 0 (no spill, no launch). */
static void ratio_cell(double a, double b, int width, int decimals)
{
    if (b > 0 && isfinite(a / b))
        printf(" %*.*f", width, decimals, a / b);
    else
        printf(" %*s", width, "-");
}

static void ratio_row(const char *part, const sw_run_summary_t *c, const sw_run_summary_t *d)
{
    printf("  %-6s %-16s", part, "chosen/defaults");
    ratio_cell(c->cost_usd, d->cost_usd, 12, 3);
    ratio_cell(c->slo_attainment, d->slo_attainment, 9, 4);
    ratio_cell(sw_run_summary_spill_share(c), sw_run_summary_spill_share(d), 8, 3);
    ratio_cell(tune_launches(c), tune_launches(d), 9, 3);
    printf("\n");
}

/* "key=value ..." of the choice's changed keys, or "the defaults". */
static void choice_text(const tune_t *t, sw_strbuf_t *b, const char *sep, const char *prefix)
{
    char v[64];
    for (size_t i = 0; i < t->n_keys; i++) {
        const tune_key_t *k = &t->keys[i];
        size_t at = t->train_best->idx[i];
        if (at == k->def_idx)
            continue;
        tune_value_text(k, k->values[at], v, sizeof v);
        sw_strbuf_printf(b, "%s%s%s=%s", b->len ? sep : "", prefix, k->path, v);
    }
}

/* A choice at the end of a key's candidates may not be the best value of that key: the
 * ladder stopped there, not the cost. Say so, with the next step to try. */
static void edge_notes(const tune_t *t)
{
    char v[64];
    for (size_t i = 0; i < t->n_keys; i++) {
        const tune_key_t *k = &t->keys[i];
        size_t at = t->train_best->idx[i];
        bool low = at == 0, high = at == k->n_values - 1;
        if (at == k->def_idx || (!low && !high))
            continue;
        /* A value at the end of the key's range has nothing beyond it. */
        if (k->info->has_range &&
            (low ? k->values[at] <= k->info->min : k->values[at] >= k->info->max))
            continue;
        tune_value_text(k, k->values[at], v, sizeof v);
        printf("  note: %s=%s is the %s of its candidates; values %s it may do better "
               "(--keys %s=V1,V2,...)\n",
               k->path, v, low ? "lowest" : "highest", low ? "below" : "above", k->path);
    }
}

void tune_print_table(const tune_t *t)
{
    sw_strbuf_t b = {0};
    choice_text(t, &b, " ", "");
    size_t search_runs = 0;
    for (size_t i = 0; i < t->n_evals; i++)
        search_runs += !t->evals[i]->is_test;
    printf("spillway tune: %zu runs on the training part; chose %s%s\n", search_runs,
           b.len ? b.p : "the defaults", t->met ? "" : " (NO setting met the SLO there)");
    if (!t->met)
        printf("  none of the settings met slo.target %.10g %% on the training part: this is "
               "the highest attainment found\n",
               t->train_best->run.sum.slo_target * 100);
    printf("  %-6s %-16s %12s %9s %8s %9s\n", "part", "setting", "cost $", "SLO %", "spill %",
           "launches");
    table_row("train", "defaults", &t->train_def->run.sum);
    table_row("train", "chosen", &t->train_best->run.sum);
    ratio_row("train", &t->train_best->run.sum, &t->train_def->run.sum);
    table_row("test", "defaults", &t->test_def->run.sum);
    table_row("test", "chosen", &t->test_best->run.sum);
    ratio_row("test", &t->test_best->run.sum, &t->test_def->run.sum);
    edge_notes(t);
    sw_strbuf_free(&b, false);
}

/* ---- tuned.yaml -------------------------------------------------------------------- */

static int cmp_path(const void *a, const void *b)
{
    return strcmp((*(const tune_key_t *const *)a)->path, (*(const tune_key_t *const *)b)->path);
}

/* The changed keys as nested YAML. Sorted by path, keys that share a section are
 * neighbours, so each line only opens the sections the previous key did not. */
static void yaml_keys(const tune_t *t, FILE *f)
{
    const tune_key_t *changed[TUNE_MAX_KEYS];
    size_t n = 0;
    for (size_t i = 0; i < t->n_keys; i++)
        if (t->train_best->idx[i] != t->keys[i].def_idx)
            changed[n++] = &t->keys[i];
    qsort(changed, n, sizeof(*changed), cmp_path);
    const char *prev = "";
    for (size_t i = 0; i < n; i++) {
        const char *p = changed[i]->path;
        /* The sections p shares with the previous key, whole components only. */
        size_t same = 0;
        for (size_t j = 0; p[j] && p[j] == prev[j]; j++)
            if (p[j] == '.')
                same = j + 1;
        int depth = 0;
        for (size_t j = 0; j < same; j++)
            depth += p[j] == '.';
        for (const char *s = p + same;; depth++) {
            const char *dot = strchr(s, '.');
            if (!dot) {
                char v[64];
                size_t k = (size_t)(changed[i] - t->keys);
                tune_value_text(changed[i], changed[i]->values[t->train_best->idx[k]], v, sizeof v);
                fprintf(f, "%*s%s: %s\n", 2 * depth, "", s, v);
                break;
            }
            fprintf(f, "%*s%.*s:\n", 2 * depth, "", (int)(dot - s), s);
            s = dot + 1;
        }
        prev = p;
    }
}

static void yaml_figures(FILE *f, const char *part, const tune_eval_t *d, const tune_eval_t *c)
{
    fprintf(f,
            "#   %-5s defaults $%.2f with %.3f %% within the SLO, chosen $%.2f with %.3f %% "
            "(cost %.3fx)\n",
            part, d->run.sum.cost_usd, d->run.sum.slo_attainment * 100, c->run.sum.cost_usd,
            c->run.sum.slo_attainment * 100,
            d->run.sum.cost_usd > 0 ? c->run.sum.cost_usd / d->run.sum.cost_usd : NAN);
}

static int write_yaml(const tune_t *t, const char *sets)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tuned.yaml", t->out);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "spillway tune: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# spillway tune: the settings chosen on the training part of a trace.\n"
            "#   base config %s\n#   trace %s\n"
            "#   chosen on [%.10g, %.10g) s, reported on [%.10g, %.10g) s\n",
            t->config ? t->config : "(built-in defaults)", t->trace, t->train.start_s,
            t->train_until_s, t->test.start_s, t->test.start_s + t->test.duration_s);
    yaml_figures(f, "train", t->train_def, t->train_best);
    yaml_figures(f, "test", t->test_def, t->test_best);
    if (!t->met)
        fprintf(f, "#   NO setting met the SLO on the training part: this one came nearest\n");
    if (t->model_path)
        fprintf(f,
                "#   forecaster %s: tune cannot check it was fitted without the held-back "
                "part\n",
                t->model_path);
    fprintf(f,
            "# Only the keys that differ from the base config are here. Apply them to it\n"
            "# with: spillway simulate --config BASE %s\n",
            *sets ? sets : "(nothing to change: the defaults were best)");
    yaml_keys(t, f);
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0 || rc < 0) {
        fprintf(stderr, "spillway tune: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* ---- tune.json --------------------------------------------------------------------- */

static json_t *window_json(tune_window_t w)
{
    return json_pack("{s:f, s:f}", "start_s", w.start_s, "end_s", w.start_s + w.duration_s);
}

/* A key's value as JSON: whole numbers as integers. */
static json_t *value_json(const tune_key_t *k, double v)
{
    return k->info->type == SW_CFG_KEY_UINT ? json_integer((json_int_t)v) : json_real(v);
}

/* The setting's value of every key, by path. */
static json_t *settings_json(const tune_t *t, const size_t *idx, bool changed_only)
{
    json_t *o = json_object();
    for (size_t i = 0; i < t->n_keys; i++)
        if (!changed_only || idx[i] != t->keys[i].def_idx)
            json_object_set_new(o, t->keys[i].path,
                                value_json(&t->keys[i], t->keys[i].values[idx[i]]));
    return o;
}

static json_t *eval_json(const tune_t *t, const tune_eval_t *e)
{
    const sw_run_summary_t *s = &e->run.sum;
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:i}", "part", e->is_test ? "test" : "train", "dir",
                          e->run.dir, "window", window_json(e->window), "settings",
                          settings_json(t, e->idx, false), "exit_status", e->run.status);
    if (e->run.error) {
        json_object_set_new(o, "error", json_string(e->run.error));
        return o;
    }
    json_object_set_new(o, "cost_usd", json_real(s->cost_usd));
    json_object_set_new(o, "slo_attainment", json_real(s->slo_attainment));
    json_object_set_new(o, "slo_met", json_boolean(s->slo_met));
    json_object_set_new(o, "spill_share", json_real(sw_run_summary_spill_share(s)));
    json_object_set_new(o, "vm_launches", json_real(tune_launches(s)));
    json_object_set_new(o, "requests", json_integer((json_int_t)s->requests));
    return o;
}

static json_t *keys_json(const tune_t *t)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < t->n_keys; i++) {
        const tune_key_t *k = &t->keys[i];
        json_t *vals = json_array();
        for (size_t j = 0; j < k->n_values; j++)
            json_array_append_new(vals, value_json(k, k->values[j]));
        json_array_append_new(arr,
                              json_pack("{s:s, s:o, s:o, s:b}", "key", k->path, "default",
                                        value_json(k, k->def), "values", vals, "given", k->given));
    }
    return arr;
}

static int write_json(const tune_t *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tune.json", t->out);
    json_t *runs = json_array();
    for (size_t i = 0; i < t->n_evals; i++)
        json_array_append_new(runs, eval_json(t, t->evals[i]));
    json_t *choice = json_pack(
        "{s:o, s:b, s:o, s:o, s:o, s:o}", "settings", settings_json(t, t->train_best->idx, true),
        "slo_met_on_train", t->met, "train_defaults", eval_json(t, t->train_def), "train_chosen",
        eval_json(t, t->train_best), "test_defaults", eval_json(t, t->test_def), "test_chosen",
        eval_json(t, t->test_best));
    json_t *root = json_pack(
        "{s:s?, s:s, s:o, s:o, s:o, s:s, s:i, s:o, s:o, s:o}", "config", t->config, "trace",
        t->trace, "window", window_json(t->whole), "train", window_json(t->train), "test",
        window_json(t->test), "search", t->grid ? "grid" : "coordinate-descent", "max_runs",
        (json_int_t)t->max_runs, "keys", keys_json(t), "runs", runs, "choice", choice);
    if (t->model_path)
        json_object_set_new(root, "predictor_model_path", json_string(t->model_path));
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (rc != 0)
        fprintf(stderr, "spillway tune: cannot write %s\n", path);
    return rc;
}

int tune_write_outputs(const tune_t *t)
{
    sw_strbuf_t sets = {0};
    choice_text(t, &sets, " ", "--set ");
    int rc = write_yaml(t, sets.len ? sets.p : "");
    if (rc == 0)
        rc = write_json(t);
    if (rc == 0)
        printf("  apply: %s\n  output: %s/tuned.yaml, %s/tune.json\n",
               sets.len ? sets.p : "nothing to change, the defaults were best", t->out, t->out);
    sw_strbuf_free(&sets, false);
    return rc;
}
