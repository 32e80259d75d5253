/* The libcyaml schema that maps the YAML policy file onto sw_cfg_t, and a small walker
 * over that same schema. The YAML keys are the struct field names (except policy.static,
 * stored in static_pool), so one table serves the loader, the defaults pass, sw_cfg_set,
 * print and equal: adding a key means adding one line here (plus its default and its
 * documentation in config/example.yaml). */
#include "config/config_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every key is optional: absence is told from zero by the pre-pass, and the defaults
 * pass fills it. Enums are STRICT so that a number is not accepted in place of a name. */
#define OPT CYAML_FLAG_OPTIONAL
#define OPT_ENUM (CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT)
#define OPT_SEQ (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)

static const cyaml_strval_t dist_names[] = {
    {"constant", SW_DIST_CONSTANT},
    {"uniform", SW_DIST_UNIFORM},
    {"exponential", SW_DIST_EXPONENTIAL},
    {"lognormal", SW_DIST_LOGNORMAL},
};

static const cyaml_strval_t policy_names[] = {
    {"static", SW_POLICY_STATIC},       {"reactive", SW_POLICY_REACTIVE},
    {"faas-only", SW_POLICY_FAAS_ONLY}, {"mark", SW_POLICY_MARK},
    {"oracle", SW_POLICY_ORACLE},
};

static const cyaml_strval_t trace_format_names[] = {
    {"auto", SW_TRACE_AUTO},
    {"timestamps", SW_TRACE_TIMESTAMPS},
    {"counts-per-second", SW_TRACE_COUNTS_PER_SECOND},
    {"counts-per-minute", SW_TRACE_COUNTS_PER_MINUTE},
};

const cyaml_schema_field_t sw__cfg_dist_fields[] = {
    CYAML_FIELD_ENUM("dist", OPT_ENUM, sw_cfg_dist_t, dist, dist_names,
                     CYAML_ARRAY_LEN(dist_names)),
    CYAML_FIELD_FLOAT("mean", OPT, sw_cfg_dist_t, mean),
    CYAML_FIELD_FLOAT("cv", OPT, sw_cfg_dist_t, cv),
    CYAML_FIELD_FLOAT("min", OPT, sw_cfg_dist_t, min),
    CYAML_FIELD_FLOAT("max", OPT, sw_cfg_dist_t, max),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t slo_fields[] = {
    CYAML_FIELD_FLOAT("latency_ms", OPT, sw_cfg_slo_t, latency_ms),
    CYAML_FIELD_FLOAT("target", OPT, sw_cfg_slo_t, target),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t spot_fields[] = {
    CYAML_FIELD_BOOL("enabled", OPT, sw_cfg_spot_t, enabled),
    CYAML_FIELD_FLOAT("price_factor", OPT, sw_cfg_spot_t, price_factor),
    CYAML_FIELD_FLOAT("interruptions_per_hour", OPT, sw_cfg_spot_t, interruptions_per_hour),
    CYAML_FIELD_FLOAT("notice_s", OPT, sw_cfg_spot_t, notice_s),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t double_entry = {
    CYAML_VALUE_FLOAT(CYAML_FLAG_DEFAULT, double),
};

const cyaml_schema_field_t sw__cfg_instance_type_fields[] = {
    CYAML_FIELD_STRING_PTR("name", OPT, sw_cfg_instance_type_t, name, 0, CYAML_UNLIMITED),
    CYAML_FIELD_FLOAT("price_per_hour_usd", OPT, sw_cfg_instance_type_t, price_per_hour_usd),
    CYAML_FIELD_MAPPING("boot_s", OPT, sw_cfg_instance_type_t, boot_s, sw__cfg_dist_fields),
    CYAML_FIELD_UINT("max_batch", OPT, sw_cfg_instance_type_t, max_batch),
    CYAML_FIELD_SEQUENCE("batch_latency_ms", OPT_SEQ, sw_cfg_instance_type_t, batch_latency_ms,
                         &double_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_MAPPING("service_variation", OPT, sw_cfg_instance_type_t, service_variation,
                        sw__cfg_dist_fields),
    CYAML_FIELD_MAPPING("spot", OPT, sw_cfg_instance_type_t, spot, spot_fields),
    CYAML_FIELD_UINT("max_instances", OPT, sw_cfg_instance_type_t, max_instances),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t instance_type_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, sw_cfg_instance_type_t, sw__cfg_instance_type_fields),
};

static const cyaml_schema_field_t free_tier_fields[] = {
    CYAML_FIELD_BOOL("enabled", OPT, sw_cfg_free_tier_t, enabled),
    CYAML_FIELD_FLOAT("requests", OPT, sw_cfg_free_tier_t, requests),
    CYAML_FIELD_FLOAT("gb_s", OPT, sw_cfg_free_tier_t, gb_s),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t faas_invoke_fields[] = {
    CYAML_FIELD_STRING_PTR("region", OPT, sw_cfg_faas_invoke_t, region, 0, CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("endpoint", OPT | CYAML_FLAG_POINTER_NULL_STR, sw_cfg_faas_invoke_t,
                           endpoint, 0, CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("function_name", OPT, sw_cfg_faas_invoke_t, function_name, 0,
                           CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("qualifier", OPT | CYAML_FLAG_POINTER_NULL_STR, sw_cfg_faas_invoke_t,
                           qualifier, 0, CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("credentials_profile", OPT | CYAML_FLAG_POINTER_NULL_STR,
                           sw_cfg_faas_invoke_t, credentials_profile, 0, CYAML_UNLIMITED),
    CYAML_FIELD_FLOAT("timeout_ms", OPT, sw_cfg_faas_invoke_t, timeout_ms),
    CYAML_FIELD_UINT("max_in_flight", OPT, sw_cfg_faas_invoke_t, max_in_flight),
    CYAML_FIELD_UINT("max_retries", OPT, sw_cfg_faas_invoke_t, max_retries),
    CYAML_FIELD_FLOAT("retry_base_ms", OPT, sw_cfg_faas_invoke_t, retry_base_ms),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t faas_function_fields[] = {
    CYAML_FIELD_STRING_PTR("name", OPT, sw_cfg_faas_function_t, name, 0, CYAML_UNLIMITED),
    CYAML_FIELD_STRING_PTR("command", OPT, sw_cfg_faas_function_t, command, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t faas_function_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, sw_cfg_faas_function_t, faas_function_fields),
};

static const cyaml_schema_field_t faas_local_fields[] = {
    CYAML_FIELD_STRING_PTR("listen", OPT, sw_cfg_faas_local_t, listen, 0, CYAML_UNLIMITED),
    CYAML_FIELD_FLOAT("timeout_s", OPT, sw_cfg_faas_local_t, timeout_s),
    CYAML_FIELD_SEQUENCE("functions", OPT_SEQ, sw_cfg_faas_local_t, functions,
                         &faas_function_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t faas_fields[] = {
    CYAML_FIELD_BOOL("enabled", OPT, sw_cfg_faas_t, enabled),
    CYAML_FIELD_UINT("memory_mb", OPT, sw_cfg_faas_t, memory_mb),
    CYAML_FIELD_FLOAT("price_per_gb_s_usd", OPT, sw_cfg_faas_t, price_per_gb_s_usd),
    CYAML_FIELD_FLOAT("price_per_million_requests_usd", OPT, sw_cfg_faas_t,
                      price_per_million_requests_usd),
    CYAML_FIELD_FLOAT("billing_granularity_ms", OPT, sw_cfg_faas_t, billing_granularity_ms),
    CYAML_FIELD_MAPPING("warm_latency_ms", OPT, sw_cfg_faas_t, warm_latency_ms,
                        sw__cfg_dist_fields),
    CYAML_FIELD_MAPPING("cold_start_ms", OPT, sw_cfg_faas_t, cold_start_ms, sw__cfg_dist_fields),
    CYAML_FIELD_BOOL("bill_cold_start", OPT, sw_cfg_faas_t, bill_cold_start),
    CYAML_FIELD_FLOAT("keep_alive_s", OPT, sw_cfg_faas_t, keep_alive_s),
    CYAML_FIELD_UINT("concurrency_limit", OPT, sw_cfg_faas_t, concurrency_limit),
    CYAML_FIELD_FLOAT("scale_out_per_minute", OPT, sw_cfg_faas_t, scale_out_per_minute),
    CYAML_FIELD_MAPPING("free_tier", OPT, sw_cfg_faas_t, free_tier, free_tier_fields),
    CYAML_FIELD_MAPPING("invoke", OPT, sw_cfg_faas_t, invoke, faas_invoke_fields),
    CYAML_FIELD_MAPPING("local", OPT, sw_cfg_faas_t, local, faas_local_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t billing_fields[] = {
    CYAML_FIELD_FLOAT("vm_granularity_s", OPT, sw_cfg_billing_t, vm_granularity_s),
    CYAML_FIELD_FLOAT("vm_minimum_s", OPT, sw_cfg_billing_t, vm_minimum_s),
    CYAML_FIELD_END,
};

const cyaml_schema_field_t sw__cfg_pool_entry_fields[] = {
    CYAML_FIELD_STRING_PTR("type", OPT, sw_cfg_pool_entry_t, type, 0, CYAML_UNLIMITED),
    CYAML_FIELD_UINT("count", OPT, sw_cfg_pool_entry_t, count),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t pool_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, sw_cfg_pool_entry_t, sw__cfg_pool_entry_fields),
};

static const cyaml_schema_field_t static_fields[] = {
    CYAML_FIELD_SEQUENCE("pool", OPT_SEQ, sw_cfg_static_t, pool, &pool_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t reactive_fields[] = {
    CYAML_FIELD_STRING_PTR("instance_type", OPT, sw_cfg_reactive_t, instance_type, 0,
                           CYAML_UNLIMITED),
    CYAML_FIELD_FLOAT("target_invocations_per_instance_per_minute", OPT, sw_cfg_reactive_t,
                      target_invocations_per_instance_per_minute),
    CYAML_FIELD_FLOAT("scale_out_cooldown_s", OPT, sw_cfg_reactive_t, scale_out_cooldown_s),
    CYAML_FIELD_FLOAT("scale_in_cooldown_s", OPT, sw_cfg_reactive_t, scale_in_cooldown_s),
    CYAML_FIELD_UINT("min_instances", OPT, sw_cfg_reactive_t, min_instances),
    CYAML_FIELD_UINT("max_instances", OPT, sw_cfg_reactive_t, max_instances),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t mark_fields[] = {
    CYAML_FIELD_UINT("horizon_intervals", OPT, sw_cfg_mark_t, horizon_intervals),
    CYAML_FIELD_FLOAT("target_utilization", OPT, sw_cfg_mark_t, target_utilization),
    CYAML_FIELD_FLOAT("violation_budget", OPT, sw_cfg_mark_t, violation_budget),
    CYAML_FIELD_FLOAT("violation_window_s", OPT, sw_cfg_mark_t, violation_window_s),
    CYAML_FIELD_FLOAT("violation_cooldown_s", OPT, sw_cfg_mark_t, violation_cooldown_s),
    CYAML_FIELD_UINT("min_instances", OPT, sw_cfg_mark_t, min_instances),
    CYAML_FIELD_BOOL("spill", OPT, sw_cfg_mark_t, spill),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t policy_fields[] = {
    CYAML_FIELD_ENUM("name", OPT_ENUM, sw_cfg_policy_t, name, policy_names,
                     CYAML_ARRAY_LEN(policy_names)),
    CYAML_FIELD_FLOAT("interval_s", OPT, sw_cfg_policy_t, interval_s),
    CYAML_FIELD_FLOAT("max_queue_delay_ms", OPT, sw_cfg_policy_t, max_queue_delay_ms),
    CYAML_FIELD_FLOAT("dispatch_margin_ms", OPT, sw_cfg_policy_t, dispatch_margin_ms),
    CYAML_FIELD_MAPPING("static", OPT, sw_cfg_policy_t, static_pool, static_fields),
    CYAML_FIELD_MAPPING("reactive", OPT, sw_cfg_policy_t, reactive, reactive_fields),
    CYAML_FIELD_MAPPING("mark", OPT, sw_cfg_policy_t, mark, mark_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t gaps_fields[] = {
    CYAML_FIELD_UINT("min_run", OPT, sw_cfg_gaps_t, min_run),
    CYAML_FIELD_FLOAT("min_level", OPT, sw_cfg_gaps_t, min_level),
    CYAML_FIELD_UINT("context", OPT, sw_cfg_gaps_t, context),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t lstm_fields[] = {
    CYAML_FIELD_UINT("hidden", OPT, sw_cfg_lstm_t, hidden),
    CYAML_FIELD_UINT("window", OPT, sw_cfg_lstm_t, window),
    CYAML_FIELD_UINT("epochs", OPT, sw_cfg_lstm_t, epochs),
    CYAML_FIELD_FLOAT("learning_rate", OPT, sw_cfg_lstm_t, learning_rate),
    CYAML_FIELD_UINT("batch", OPT, sw_cfg_lstm_t, batch),
    CYAML_FIELD_END,
};

/* model_path may be null (no saved model); `null`, `~` and "" all mean that. */
static const cyaml_schema_field_t predictor_fields[] = {
    CYAML_FIELD_STRING_PTR("name", OPT, sw_cfg_predictor_t, name, 0, CYAML_UNLIMITED),
    CYAML_FIELD_UINT("horizon_intervals", OPT, sw_cfg_predictor_t, horizon_intervals),
    CYAML_FIELD_UINT("window_intervals", OPT, sw_cfg_predictor_t, window_intervals),
    CYAML_FIELD_FLOAT("headroom", OPT, sw_cfg_predictor_t, headroom),
    CYAML_FIELD_FLOAT("quantile", OPT, sw_cfg_predictor_t, quantile),
    CYAML_FIELD_STRING_PTR("model_path", OPT | CYAML_FLAG_POINTER_NULL_STR, sw_cfg_predictor_t,
                           model_path, 0, CYAML_UNLIMITED),
    CYAML_FIELD_FLOAT("season_s", OPT, sw_cfg_predictor_t, season_s),
    CYAML_FIELD_FLOAT("holdout_frac", OPT, sw_cfg_predictor_t, holdout_frac),
    CYAML_FIELD_BOOL("calendar", OPT, sw_cfg_predictor_t, calendar),
    CYAML_FIELD_FLOAT("ewma_alpha", OPT, sw_cfg_predictor_t, ewma_alpha),
    CYAML_FIELD_UINT("ar_order", OPT, sw_cfg_predictor_t, ar_order),
    CYAML_FIELD_UINT("seed", OPT, sw_cfg_predictor_t, seed),
    CYAML_FIELD_MAPPING("gaps", OPT, sw_cfg_predictor_t, gaps, gaps_fields),
    CYAML_FIELD_MAPPING("lstm", OPT, sw_cfg_predictor_t, lstm, lstm_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t trace_fields[] = {
    CYAML_FIELD_STRING_PTR("path", OPT, sw_cfg_trace_t, path, 0, CYAML_UNLIMITED),
    CYAML_FIELD_ENUM("format", OPT_ENUM, sw_cfg_trace_t, format, trace_format_names,
                     CYAML_ARRAY_LEN(trace_format_names)),
    CYAML_FIELD_STRING_PTR("timestamp_column", OPT, sw_cfg_trace_t, timestamp_column, 0,
                           CYAML_UNLIMITED),
    CYAML_FIELD_FLOAT("rate_scale", OPT, sw_cfg_trace_t, rate_scale),
    CYAML_FIELD_FLOAT("start_s", OPT, sw_cfg_trace_t, start_s),
    CYAML_FIELD_FLOAT("duration_s", OPT, sw_cfg_trace_t, duration_s),
    CYAML_FIELD_END,
};

/* Offsets are those of sw_cfg_t, which is the first member of sw__cfg_full_t. */
static const cyaml_schema_field_t top_fields[] = {
    CYAML_FIELD_UINT("seed", OPT, sw_cfg_t, seed),
    CYAML_FIELD_MAPPING("slo", OPT, sw_cfg_t, slo, slo_fields),
    CYAML_FIELD_SEQUENCE("instance_types", OPT_SEQ, sw_cfg_t, instance_types, &instance_type_entry,
                         0, CYAML_UNLIMITED),
    CYAML_FIELD_MAPPING("faas", OPT, sw_cfg_t, faas, faas_fields),
    CYAML_FIELD_MAPPING("billing", OPT, sw_cfg_t, billing, billing_fields),
    CYAML_FIELD_MAPPING("policy", OPT, sw_cfg_t, policy, policy_fields),
    CYAML_FIELD_MAPPING("predictor", OPT, sw_cfg_t, predictor, predictor_fields),
    CYAML_FIELD_MAPPING("trace", OPT, sw_cfg_t, trace, trace_fields),
    CYAML_FIELD_END,
};

_Static_assert(offsetof(sw__cfg_full_t, pub) == 0, "sw_cfg_t must start sw__cfg_full_t");

const cyaml_schema_value_t sw__cfg_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, sw__cfg_full_t, top_fields),
};

void *sw__cfg_mem(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        sw_free(ptr);
        return NULL;
    }
    return sw_realloc(ptr, size);
}

const cyaml_config_t sw__cfg_cyaml_free_config = {
    .log_fn = NULL,
    .mem_fn = sw__cfg_mem,
    .log_level = CYAML_LOG_ERROR,
};

/* ---- Names ---------------------------------------------------------------------------- */

static const char *strval_name(const cyaml_strval_t *t, size_t n, int64_t val)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].val == val)
            return t[i].str;
    return "?";
}

static int strval_from_name(const cyaml_strval_t *t, size_t n, const char *name, int64_t *out)
{
    for (size_t i = 0; name && i < n; i++) {
        if (strcmp(t[i].str, name) == 0) {
            *out = t[i].val;
            return 0;
        }
    }
    return -EINVAL;
}

const char *sw_policy_name(sw_policy_kind_t kind)
{
    return strval_name(policy_names, SW_ARRAY_LEN(policy_names), kind);
}

int sw_policy_from_name(const char *name, sw_policy_kind_t *out)
{
    int64_t v;
    int rc = strval_from_name(policy_names, SW_ARRAY_LEN(policy_names), name, &v);
    if (rc == 0)
        *out = (sw_policy_kind_t)v;
    return rc;
}

const char *sw_trace_format_name(sw_trace_format_t fmt)
{
    return strval_name(trace_format_names, SW_ARRAY_LEN(trace_format_names), fmt);
}

int sw_trace_format_from_name(const char *name, sw_trace_format_t *out)
{
    int64_t v;
    int rc = strval_from_name(trace_format_names, SW_ARRAY_LEN(trace_format_names), name, &v);
    if (rc == 0)
        *out = (sw_trace_format_t)v;
    return rc;
}

const char *sw__cfg_enum_name(const cyaml_schema_value_t *v, int64_t val)
{
    return strval_name(v->enumeration.strings, v->enumeration.count, val);
}

void sw__cfg_enum_list(const cyaml_schema_value_t *v, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < v->enumeration.count && used < len; i++) {
        int n =
            snprintf(buf + used, len - used, "%s%s", i ? ", " : "", v->enumeration.strings[i].str);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* ---- Leaf access ---------------------------------------------------------------------- */

uint64_t sw__cfg_get_uint(const cyaml_schema_value_t *v, const void *data)
{
    switch (v->data_size) {
    case 1: return *(const uint8_t *)data;
    case 2: return *(const uint16_t *)data;
    case 4: return *(const uint32_t *)data;
    default: return *(const uint64_t *)data;
    }
}

void sw__cfg_put_uint(const cyaml_schema_value_t *v, void *data, uint64_t x)
{
    switch (v->data_size) {
    case 1: *(uint8_t *)data = (uint8_t)x; break;
    case 2: *(uint16_t *)data = (uint16_t)x; break;
    case 4: *(uint32_t *)data = (uint32_t)x; break;
    default: *(uint64_t *)data = x; break;
    }
}

/* C enums are int-sized here; go through the size anyway, as libcyaml does. */
int64_t sw__cfg_get_enum(const cyaml_schema_value_t *v, const void *data)
{
    switch (v->data_size) {
    case 1: return *(const int8_t *)data;
    case 2: return *(const int16_t *)data;
    case 4: return *(const int32_t *)data;
    default: return *(const int64_t *)data;
    }
}

void sw__cfg_put_enum(const cyaml_schema_value_t *v, void *data, int64_t val)
{
    switch (v->data_size) {
    case 1: *(int8_t *)data = (int8_t)val; break;
    case 2: *(int16_t *)data = (int16_t)val; break;
    case 4: *(int32_t *)data = (int32_t)val; break;
    default: *(int64_t *)data = val; break;
    }
}

unsigned sw__cfg_seq_count(const cyaml_schema_field_t *f, const void *parent)
{
    const char *p = (const char *)parent + f->count_offset;
    switch (f->count_size) {
    case 1: return *(const uint8_t *)p;
    case 2: return *(const uint16_t *)p;
    case 4: return *(const uint32_t *)p;
    default: return (unsigned)*(const uint64_t *)p;
    }
}

int sw__cfg_parse_scalar(const cyaml_schema_value_t *v, const char *text, char *msg, size_t msglen)
{
    switch (v->type) {
    case CYAML_FLOAT: {
        char *end;
        errno = 0;
        double x = strtod(text, &end);
        if (end == text || *end != '\0' || text[0] == ' ') {
            snprintf(msg, msglen, "expected a number, got \"%s\"", text);
            return -EINVAL;
        }
        if (!isfinite(x)) {
            snprintf(msg, msglen, "expected a finite number, got \"%s\"", text);
            return -EINVAL;
        }
        return 0;
    }
    case CYAML_UINT: {
        uint64_t max = v->data_size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * v->data_size)) - 1;
        const char *s = text;
        while (*s >= '0' && *s <= '9')
            s++;
        if (s == text || *s != '\0') {
            snprintf(msg, msglen, "expected a whole number >= 0, got \"%s\"", text);
            return -EINVAL;
        }
        errno = 0;
        unsigned long long x = strtoull(text, NULL, 10);
        if (errno == ERANGE || x > max) {
            snprintf(msg, msglen, "expected a whole number from 0 to %" PRIu64 ", got \"%s\"", max,
                     text);
            return -EINVAL;
        }
        return 0;
    }
    case CYAML_BOOL: {
        static const char *const ok[] = {"true", "false", "yes", "no", "on", "off"};
        for (size_t i = 0; i < SW_ARRAY_LEN(ok); i++)
            if (strcasecmp(text, ok[i]) == 0)
                return 0;
        snprintf(msg, msglen, "expected true or false, got \"%s\"", text);
        return -EINVAL;
    }
    case CYAML_ENUM: {
        for (uint32_t i = 0; i < v->enumeration.count; i++)
            if (strcmp(text, v->enumeration.strings[i].str) == 0)
                return 0;
        char names[256];
        sw__cfg_enum_list(v, names, sizeof names);
        snprintf(msg, msglen, "unknown value \"%s\": expected one of %s", text, names);
        return -EINVAL;
    }
    default: return 0;
    }
}

void sw__cfg_fmt_double(double x, char *buf, size_t len)
{
    /* The shortest of %.15g..%.17g that reads back as the same double. Formatting into a
     * fixed local buffer first also keeps GCC 12 at -O3 from a false format-truncation
     * warning on the caller's pointer. */
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    if (len > 0) {
        size_t n = strnlen(tmp, len - 1);
        memcpy(buf, tmp, n);
        buf[n] = '\0';
    }
}

/* ---- Path resolution ------------------------------------------------------------------ */

static const cyaml_schema_field_t *find_field(const cyaml_schema_value_t *v, const char *name,
                                              size_t n)
{
    if (v->type != CYAML_MAPPING)
        return NULL;
    for (const cyaml_schema_field_t *f = v->mapping.fields; f->key; f++)
        if (strlen(f->key) == n && memcmp(f->key, name, n) == 0)
            return f;
    return NULL;
}

/* Walks "a.b[2].c" one component at a time. With root == NULL only the schema is
 * followed, so a path can be checked before there is any data. */
int sw__cfg_resolve(const char *path, void *root, sw__cfg_slot_t *out, char *why, size_t whylen)
{
    const cyaml_schema_value_t *v = &sw__cfg_schema;
    const cyaml_schema_field_t *field = NULL;
    char *data = root, *parent = NULL;
    const char *s = path;

    if (!*s) {
        snprintf(why, whylen, "empty key");
        return -EINVAL;
    }
    while (*s) {
        size_t n = strcspn(s, ".[");
        const cyaml_schema_field_t *f = find_field(v, s, n);
        if (!f) {
            snprintf(why, whylen, "%.*s: unknown key", (int)(s - path + n), path);
            return -ENOENT;
        }
        field = f;
        parent = data;
        v = &f->value;
        if (data)
            data += f->data_offset;
        s += n;
        if (*s == '[') {
            char *end;
            errno = 0;
            unsigned long idx = strtoul(s + 1, &end, 10);
            if (v->type != CYAML_SEQUENCE || end == s + 1 || *end != ']' || errno) {
                snprintf(why, whylen, "%.*s: not a list index", (int)(end - path + 1), path);
                return -EINVAL;
            }
            if (data) {
                unsigned count = sw__cfg_seq_count(f, parent);
                if (idx >= count) {
                    snprintf(why, whylen, "%.*s: no such entry (the list has %u)",
                             (int)(end - path + 1), path, count);
                    return -ERANGE;
                }
                data = *(char **)data + idx * v->sequence.entry->data_size;
            }
            v = v->sequence.entry;
            field = NULL;
            s = end + 1;
        }
        if (*s == '.') {
            s++;
            if (!*s || v->type != CYAML_MAPPING) {
                snprintf(why, whylen, "%.*s: unknown key", (int)strlen(path), path);
                return -ENOENT;
            }
        } else if (*s) {
            snprintf(why, whylen, "%s: malformed key path", path);
            return -EINVAL;
        }
    }
    out->schema = v;
    out->field = field;
    out->data = data;
    out->parent = parent;
    return 0;
}

const cyaml_schema_value_t *sw__cfg_schema_at(const char *path)
{
    sw__cfg_slot_t slot;
    char why[8];
    if (sw__cfg_resolve(path, NULL, &slot, why, sizeof why) != 0)
        return NULL;
    return slot.schema;
}
