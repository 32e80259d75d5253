/* Tests of serving/kserve.c: flat and nested KServe v2 requests parse into the same rows,
 * a 1-D shape means one row, the id is echoed, each malformed body gives its own message
 * naming the JSON path, and a response read back holds exactly what sw_model_infer
 * computed in-process (floats survive the text round trip bit for bit). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "common/common.h"
#include "common/rng.h"
#include "model/model.h"
#include "tests/tiny_model.h"
#include "serving/kserve.h"

#define WIDE 784

static sw_srv_kserve_req_t req;
static sw_srv_kserve_buf_t buf;
static char err[512];
static char big[64 * 1024];

static void setup(void)
{
    sw_srv_kserve_req_init(&req);
    sw_srv_kserve_buf_init(&buf);
    err[0] = '\0';
}

static void teardown(void)
{
    sw_srv_kserve_req_deinit(&req);
    sw_srv_kserve_buf_deinit(&buf);
}

TestSuite(srv_kserve, .init = setup, .fini = teardown);

static int parse(const char *body, size_t input_size, unsigned max_batch)
{
    return sw_srv_kserve_parse_request(body, strlen(body), input_size, max_batch, &req, err,
                                       sizeof(err));
}

/* Expects `body` (for 3-wide rows, max batch 4) to fail with exactly `msg`. */
static void expect_error3(const char *body, const char *msg)
{
    cr_assert_eq(parse(body, 3, 4), SW_EPARSE, "parsed: %s", body);
    cr_expect_str_eq(err, msg);
    cr_expect_eq(req.n, 0);
    cr_expect_null(req.id);
}

/* A request of `rows` x WIDE numbers (value i / 1000 at flat index i) with the given
 * shape text, where flat index `bad` is replaced by `bad_text` (bad < 0: none). */
static const char *wide_body(const char *shape, size_t rows, long bad, const char *bad_text)
{
    size_t used = (size_t)snprintf(big, sizeof(big),
                                   "{\"inputs\": [{\"name\": \"input\", \"shape\": %s, "
                                   "\"datatype\": \"FP32\", \"data\": [",
                                   shape);
    for (size_t i = 0; i < rows * WIDE; i++) {
        const char *sep = i ? "," : "";
        if ((long)i == bad)
            used += (size_t)snprintf(big + used, sizeof(big) - used, "%s%s", sep, bad_text);
        else
            used += (size_t)snprintf(big + used, sizeof(big) - used, "%s%g", sep, i / 1000.0);
    }
    snprintf(big + used, sizeof(big) - used, "]}]}");
    cr_assert_lt(used + 8, sizeof(big));
    return big;
}

Test(srv_kserve, parses_flat_request)
{
    cr_assert_eq(parse("{\"inputs\": [{\"name\": \"input\", \"shape\": [2, 3], \"datatype\": "
                       "\"FP32\", \"data\": [1, 2.5, -3, 4, 5, 6e-3]}]}",
                       3, 4),
                 0, "%s", err);
    const float want[] = {1, 2.5f, -3, 4, 5, 6e-3f};
    cr_assert_eq(req.n, 2);
    cr_expect_null(req.id);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(req.data[i], want[i], "data[%zu]", i);
}

Test(srv_kserve, parses_nested_rows_like_flat)
{
    cr_assert_eq(parse("{\"inputs\": [{\"name\": \"input\", \"shape\": [2, 3], \"datatype\": "
                       "\"FP32\", \"data\": [[1, 2.5, -3], [4, 5, 6e-3]]}], "
                       "\"parameters\": {\"x\": 1}}",
                       3, 4),
                 0, "%s", err);
    const float want[] = {1, 2.5f, -3, 4, 5, 6e-3f};
    cr_assert_eq(req.n, 2);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq(req.data[i], want[i], "data[%zu]", i);
}

Test(srv_kserve, one_dimensional_shape_is_one_row)
{
    cr_assert_eq(parse(wide_body("[784]", 1, -1, NULL), WIDE, 4), 0, "%s", err);
    cr_assert_eq(req.n, 1);
    cr_expect_float_eq(req.data[783], 0.783f, 1e-7);
}

Test(srv_kserve, echoes_request_id)
{
    cr_assert_eq(parse("{\"id\": \"req-\\\"42\\\"\", \"inputs\": [{\"name\": \"x\", \"shape\": "
                       "[1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, 3]}]}",
                       3, 4),
                 0, "%s", err);
    cr_assert_str_eq(req.id, "req-\"42\"");
    const float out[] = {0.25f, 0.75f};
    sw_srv_kserve_reply_t r = {
        .model_name = "m", .model_version = 7, .id = req.id, .n = 1, .output_size = 2, .data = out};
    sw_srv_kserve_format_response(&r, &buf);
    cr_expect_str_eq(buf.data, "{\"model_name\":\"m\",\"model_version\":\"7\",\"id\":"
                               "\"req-\\\"42\\\"\",\"outputs\":[{\"name\":\"output\",\"shape\":"
                               "[1,2],\"datatype\":\"FP32\",\"data\":[0.25,0.75]}]}");
    cr_expect_eq(buf.len, strlen(buf.data));
}

Test(srv_kserve, response_without_id_has_no_id_key)
{
    const float out[] = {1};
    sw_srv_kserve_reply_t r = {.model_name = "m",
                               .model_version = 3,
                               .output_name = "p",
                               .n = 1,
                               .output_size = 1,
                               .data = out};
    sw_srv_kserve_format_response(&r, &buf);
    cr_expect_str_eq(buf.data, "{\"model_name\":\"m\",\"model_version\":\"3\",\"outputs\":[{"
                               "\"name\":\"p\",\"shape\":[1,1],\"datatype\":\"FP32\","
                               "\"data\":[1]}]}");
}

Test(srv_kserve, response_holds_exactly_what_the_model_computed)
{
    sw_model_t *m = NULL;
    cr_assert_eq(sw_model_create(&tiny, 4, "tiny", &m, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [3, 3], \"datatype\": "
                       "\"FP32\", \"data\": [[1, 2, 3], [0.1, -0.7, 2], [1e-3, 4, 0.3]]}]}",
                       3, 4),
                 0, "%s", err);
    float out[6], want[6];
    const float in[] = {1, 2, 3, 0.1f, -0.7f, 2, 1e-3f, 4, 0.3f};
    cr_assert_eq(sw_model_infer(m, in, 3, want), 0);
    cr_assert_eq(sw_model_infer(m, req.data, req.n, out), 0);
    sw_srv_kserve_reply_t r = {.model_name = sw_model_name(m),
                               .model_version = sw_model_version(m),
                               .n = req.n,
                               .output_size = sw_model_output_size(m),
                               .data = out};
    sw_srv_kserve_format_response(&r, &buf);
    json_error_t jerr;
    json_t *j = json_loads(buf.data, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", jerr.text, buf.data);
    cr_expect_str_eq(json_string_value(json_object_get(j, "model_name")), "tiny");
    cr_expect_str_eq(json_string_value(json_object_get(j, "model_version")), "7");
    json_t *o = json_array_get(json_object_get(j, "outputs"), 0);
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(o, "shape"), 0)), 3);
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(o, "shape"), 1)), 2);
    json_t *data = json_object_get(o, "data");
    cr_assert_eq(json_array_size(data), 6);
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq((float)json_number_value(json_array_get(data, i)), want[i], "data[%zu]", i);
    json_decref(j);
    sw_model_destroy(m);
}

Test(srv_kserve, floats_round_trip_bit_for_bit)
{
    const float out[] = {0.1f, 1.0f / 3.0f, 1.17549435e-38f, 3.40282347e38f, -2.5e-45f, 0};
    sw_srv_kserve_reply_t r = {.model_name = "m", .n = 1, .output_size = 6, .data = out};
    sw_srv_kserve_format_response(&r, &buf);
    json_t *j = json_loads(buf.data, 0, NULL);
    cr_assert_not_null(j, "%s", buf.data);
    json_t *data = json_object_get(json_array_get(json_object_get(j, "outputs"), 0), "data");
    for (size_t i = 0; i < 6; i++)
        cr_expect_eq((float)json_number_value(json_array_get(data, i)), out[i], "data[%zu]", i);
    json_decref(j);
}

Test(srv_kserve, non_finite_output_is_null)
{
    const float out[] = {NAN, 1};
    sw_srv_kserve_reply_t r = {.model_name = "m", .n = 1, .output_size = 2, .data = out};
    sw_srv_kserve_format_response(&r, &buf);
    cr_expect_not_null(strstr(buf.data, "\"data\":[null,1]"), "%s", buf.data);
}

Test(srv_kserve, error_body_is_escaped_json)
{
    sw_srv_kserve_format_error("inputs: \"x\"\n", &buf);
    cr_expect_str_eq(buf.data, "{\"error\":\"inputs: \\\"x\\\"\\u000a\"}");
}

Test(srv_kserve, not_json_gives_line_and_column)
{
    cr_assert_eq(parse("{\"inputs\":\n  [1,}", 3, 4), SW_EPARSE);
    cr_expect(strncmp(err, "not JSON at line 2, column ", 27) == 0, "%s", err);
}

Test(srv_kserve, empty_body_is_not_json)
{
    cr_assert_eq(sw_srv_kserve_parse_request("", 0, 3, 4, &req, err, sizeof(err)), SW_EPARSE);
    cr_expect(strncmp(err, "not JSON at line", 16) == 0, "%s", err);
}

Test(srv_kserve, top_level_must_be_an_object)
{
    expect_error3("[1, 2]", "request: expected a JSON object, got an array");
}

Test(srv_kserve, missing_inputs)
{
    expect_error3("{\"id\": \"a\"}", "inputs: missing");
}

Test(srv_kserve, inputs_not_an_array_or_not_one_tensor)
{
    expect_error3("{\"inputs\": {}}", "inputs: expected an array, got an object");
    expect_error3("{\"inputs\": [{}, {}]}", "inputs: expected 1 tensor, got 2");
    expect_error3("{\"inputs\": [7]}", "inputs[0]: expected an object, got a number");
}

Test(srv_kserve, missing_name)
{
    expect_error3("{\"inputs\": [{\"shape\": [1, 3], \"datatype\": \"FP32\", \"data\": [1, 2, "
                  "3]}]}",
                  "inputs[0].name: missing");
}

Test(srv_kserve, wrong_or_missing_datatype)
{
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP64\", "
                  "\"data\": [1, 2, 3]}]}",
                  "inputs[0].datatype: FP64 not supported, expected FP32");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"data\": [1, 2, 3]}]}",
                  "inputs[0].datatype: missing");
}

Test(srv_kserve, wrong_shape_names_expected_and_got)
{
    cr_assert_eq(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [3, 5], \"datatype\": "
                       "\"FP32\", \"data\": []}]}",
                       WIDE, 64),
                 SW_EPARSE);
    cr_expect_str_eq(err, "inputs[0].shape: expected [N, 784], got [3, 5]");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 1, 3], \"datatype\": \"FP32\", "
                  "\"data\": [1, 2, 3]}]}",
                  "inputs[0].shape: expected [N, 3], got [1, 1, 3]");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, \"3\"], \"datatype\": \"FP32\", "
                  "\"data\": [1, 2, 3]}]}",
                  "inputs[0].shape[1]: expected an integer, got a string");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"data\": [1]}]}",
                  "inputs[0].shape: missing");
}

Test(srv_kserve, batch_over_max_or_zero)
{
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [5, 3], \"datatype\": \"FP32\", "
                  "\"data\": []}]}",
                  "inputs[0].shape: batch size 5 out of range, expected 1 to 4 (the max batch)");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [0, 3], \"datatype\": \"FP32\", "
                  "\"data\": []}]}",
                  "inputs[0].shape: batch size 0 out of range, expected 1 to 4 (the max batch)");
}

Test(srv_kserve, element_not_a_number_names_its_index)
{
    cr_assert_eq(parse(wide_body("[1, 784]", 1, 17, "\"7\""), WIDE, 64), SW_EPARSE);
    cr_expect_str_eq(err, "inputs[0].data[17]: not a number (got a string)");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\", "
                  "\"data\": [[1, 2, 3], [4, null, 6]]}]}",
                  "inputs[0].data[1][1]: not a number (got null)");
}

Test(srv_kserve, data_length_mismatch)
{
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\", "
                  "\"data\": [1, 2, 3, 4, 5]}]}",
                  "inputs[0].data: expected 6 numbers, got 5");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\", "
                  "\"data\": [[1, 2, 3]]}]}",
                  "inputs[0].data: expected 2 rows of 3 numbers, got 1 rows");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\", "
                  "\"data\": [[1, 2, 3], [4, 5]]}]}",
                  "inputs[0].data[1]: expected 3 numbers, got 2");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 3], \"datatype\": \"FP32\", "
                  "\"data\": [[1, 2, 3], 4]}]}",
                  "inputs[0].data[1]: expected a row of 3 numbers, got a number");
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\"}]}",
                  "inputs[0].data: missing");
}

Test(srv_kserve, value_outside_fp32_range)
{
    expect_error3("{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 3], \"datatype\": \"FP32\", "
                  "\"data\": [1, 1e300, 3]}]}",
                  "inputs[0].data[1]: 1e+300 is out of the FP32 range");
}

Test(srv_kserve, id_and_parameters_types)
{
    expect_error3("{\"id\": 5, \"inputs\": []}", "id: expected a string, got a number");
    expect_error3("{\"parameters\": [], \"inputs\": []}",
                  "parameters: expected an object, got an array");
}

Test(srv_kserve, buffers_are_reused_and_id_cleared_after_error)
{
    cr_assert_eq(parse(wide_body("[2, 784]", 2, -1, NULL), WIDE, 4), 0, "%s", err);
    const float *data = req.data;
    cr_assert_eq(parse("{\"id\": \"x\", \"inputs\": 1}", WIDE, 4), SW_EPARSE);
    cr_expect_null(req.id);
    cr_expect_eq(req.n, 0);
    cr_assert_eq(parse(wide_body("[1, 784]", 1, -1, NULL), WIDE, 4), 0, "%s", err);
    cr_expect_eq(req.data, data, "a smaller request should reuse the buffer");
    cr_expect_null(req.id);
}

/* The client side: a request written by format_request parses back to the same floats,
 * and a response written by format_response reads back into the same outputs. */
Test(srv_kserve, a_formatted_request_parses_back_exactly)
{
    const float rows[6] = {1.5f, -0.25f, 3.0f, 1e-7f, 0.1f, -123456.78f};
    sw_srv_kserve_buf_t b;
    sw_srv_kserve_buf_init(&b);
    sw_srv_kserve_format_request(rows, 2, 3, &b);
    cr_assert_eq(parse(b.data, 3, 4), 0, "%s", err);
    cr_assert_eq(req.n, 2);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(req.data[i], rows[i], "row value %d", i);
    sw_srv_kserve_buf_deinit(&b);
}

Test(srv_kserve, a_response_reads_back_into_outputs)
{
    const float out[4] = {0.25f, 0.75f, 1e-9f, 0.999999f};
    sw_srv_kserve_reply_t r = {.model_name = "m", .model_version = 1, .n = 2, .output_size = 2,
                               .data = out};
    sw_srv_kserve_buf_t b;
    sw_srv_kserve_buf_init(&b);
    sw_srv_kserve_format_response(&r, &b);
    float got[4];
    char e[256];
    cr_assert_eq(sw_srv_kserve_parse_response(b.data, b.len, 2, 2, got, e, sizeof e), 0, "%s", e);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(got[i], out[i]);
    cr_assert_eq(sw_srv_kserve_parse_response(b.data, b.len, 3, 2, got, e, sizeof e), SW_EPARSE);
    cr_assert_str_eq(e, "outputs[0].shape: expected [2, 3], got [2, 2]");
    sw_srv_kserve_format_error("model exploded", &b);
    cr_assert_eq(sw_srv_kserve_parse_response(b.data, b.len, 2, 2, got, e, sizeof e), SW_EPARSE);
    cr_assert_str_eq(e, "the server answered an error: model exploded");
    const char *bad = "{\"outputs\":[{\"shape\":[1,2],\"data\":[1,\"x\"]}]}";
    cr_assert_eq(sw_srv_kserve_parse_response(bad, strlen(bad), 2, 1, got, e, sizeof e),
                 SW_EPARSE);
    cr_assert_str_eq(e, "outputs[0].data[1]: a string, not a number");
    sw_srv_kserve_buf_deinit(&b);
}

/* ---- the fast reader and jansson agree ---- */

/* Parses body with jansson alone, as the codec's slow path does, into want (count
 * floats). Returns false if jansson rejects it. */
static bool jansson_floats(const char *body, float *want, size_t count)
{
    json_t *j = json_loadb(body, strlen(body), JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        return false;
    json_t *data = json_object_get(json_array_get(json_object_get(j, "inputs"), 0), "data");
    cr_assert_eq(json_array_size(data), count);
    for (size_t i = 0; i < count; i++)
        want[i] = (float)json_number_value(json_array_get(data, i));
    json_decref(j);
    return true;
}

/* One number token in one of many spellings, magnitudes and precisions. */
static void random_token(sw_rng_t *rng, char *out, size_t len)
{
    static const char *const edge[] = {"0",
                                       "-0",
                                       "0.0",
                                       "-0.0",
                                       "1E+2",
                                       "1e-0",
                                       "9007199254740992",
                                       "9007199254740993",
                                       "9007199254740993.0",
                                       "123456789012345678",
                                       "1e22",
                                       "1e23",
                                       "1e-22",
                                       "1e-23",
                                       "123456789012345678901234567890e-20",
                                       "0.00000000000000000000000000012345",
                                       "1.4e-45",
                                       "7e-46",
                                       "1.17549435e-38",
                                       "3.4028234e38",
                                       "3.40282347e+38",
                                       "4.9406564584124654e-324",
                                       "2.2250738585072014e-308",
                                       "0.1",
                                       "0.30000000000000004",
                                       "1.00000000000000000000000001",
                                       "16777217",
                                       "-16777217.5"};
    double mag = pow(10, (double)(sw_rng_u64(rng) % 80) - 42);
    double x = (sw_rng_uniform(rng) * 2 - 1) * mag;
    int prec = 1 + (int)(sw_rng_u64(rng) % 17);
    switch (sw_rng_u64(rng) % 6) {
    case 0: snprintf(out, len, "%s", edge[sw_rng_u64(rng) % SW_ARRAY_LEN(edge)]); break;
    case 1: snprintf(out, len, "%.*e", prec, x); break;
    case 2: snprintf(out, len, "%.*f", prec, x / mag * 1000); break;
    case 3:
        snprintf(out, len, "%lld", (long long)(sw_rng_u64(rng) >> (sw_rng_u64(rng) % 64)));
        break;
    default: snprintf(out, len, "%.*g", prec, x); break;
    }
}

Test(srv_kserve, numbers_are_read_bit_for_bit_as_jansson_reads_them)
{
    /* One number per body: a body the reader is unsure of goes to jansson whole. */
    uint64_t seed = (uint64_t)time(NULL);
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    cr_log_info("seed %" PRIu64, seed);
    for (int i = 0; i < 20000; i++) {
        char tok[48], body[160];
        random_token(&rng, tok, sizeof(tok));
        snprintf(body, sizeof(body),
                 "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1],\"datatype\":\"FP32\","
                 "\"data\":[%s]}]}",
                 tok);
        float want;
        int rc = parse(body, 1, 1);
        if (!jansson_floats(body, &want, 1)) {
            cr_expect_eq(rc, SW_EPARSE, "seed %" PRIu64 ": accepted %s", seed, tok);
            continue;
        }
        if (rc < 0) {
            cr_expect(strstr(err, "out of the FP32 range") != NULL, "seed %" PRIu64 ": %s: %s",
                      seed, tok, err);
            continue;
        }
        cr_assert(!memcmp(&req.data[0], &want, sizeof(float)),
                  "seed %" PRIu64 ": %s read as %a, jansson says %a", seed, tok,
                  (double)req.data[0], (double)want);
    }
}

Test(srv_kserve, response_numbers_are_read_as_jansson_reads_them)
{
    uint64_t seed = (uint64_t)time(NULL);
    sw_rng_t rng;
    sw_rng_init(&rng, seed);
    cr_log_info("seed %" PRIu64, seed);
    for (int i = 0; i < 20000; i++) {
        char tok[48], body[200];
        random_token(&rng, tok, sizeof(tok));
        snprintf(body, sizeof(body),
                 "{\"model_name\":\"m\",\"model_version\":\"1\",\"outputs\":[{\"name\":"
                 "\"output\",\"shape\":[1,1],\"datatype\":\"FP32\",\"data\":[%s]}]}",
                 tok);
        float got, want;
        char e[256];
        int rc = sw_srv_kserve_parse_response(body, strlen(body), 1, 1, &got, e, sizeof(e));
        json_t *j = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
        if (!j) {
            cr_expect_eq(rc, SW_EPARSE, "seed %" PRIu64 ": accepted %s", seed, tok);
            continue;
        }
        json_t *outputs = json_object_get(j, "outputs");
        want = (float)json_number_value(
            json_array_get(json_object_get(json_array_get(outputs, 0), "data"), 0));
        json_decref(j);
        cr_assert_eq(rc, 0, "seed %" PRIu64 ": %s: %s", seed, tok, e);
        cr_assert(!memcmp(&got, &want, sizeof(float)),
                  "seed %" PRIu64 ": %s read as %a, jansson says %a", seed, tok, (double)got,
                  (double)want);
    }
}

Test(srv_kserve, spellings_of_one_response_read_alike_and_wrong_ones_do_not)
{
    /* Key orders, whitespace, ids, parameters, a 1-D shape; the last needs jansson (an
     * escape, and a key the fast reader does not know). */
    const char *good[] = {
        "{\"model_name\":\"m\",\"model_version\":\"1\",\"outputs\":[{\"name\":\"y\","
        "\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[0.5,-2,3e0]}]}",
        " { \"outputs\" : [ { \"data\" : [ 0.5 , -2.0 , 3 ] , \"shape\" : [ 3 ] } ] ,\r\n"
        "\"id\" : \"r7\" , \"parameters\" : { \"a\" : 1 } } ",
        "{\"model_name\":\"m\\u0031\",\"extra\":[1],\"outputs\":[{\"shape\":[1,3],"
        "\"data\":[0.5,-2,3]}]}",
    };
    float got[3];
    char e[256];
    for (size_t b = 0; b < SW_ARRAY_LEN(good); b++) {
        cr_assert_eq(sw_srv_kserve_parse_response(good[b], strlen(good[b]), 3, 1, got, e,
                                                  sizeof(e)),
                     0, "body %zu: %s", b, e);
        cr_expect(got[0] == 0.5f && got[1] == -2.0f && got[2] == 3.0f, "body %zu", b);
    }
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"{\"outputs\":[{\"shape\":[1,3],\"data\":[[0.5,-2,3]]}]}", "expected 3 numbers"},
        {"{\"outputs\":[{\"shape\":[1,3],\"data\":[0.5,-2,3,4]}]}", "expected 3 numbers"},
        {"{\"outputs\":[{\"shape\":[1,3],\"data\":[0.5,-2]}]}", "expected 3 numbers"},
        {"{\"outputs\":[{\"shape\":[1,2],\"data\":[0.5,-2]}]}", "expected [1, 3], got [1, 2]"},
        {"{\"outputs\":[{\"shape\":[2,3],\"data\":[1,2,3,4,5,6]}]}", "expected [1, 3]"},
        {"{\"outputs\":[{\"shape\":[1,3],\"data\":[1,2,3]}],\"outputs\":[]}", "not JSON"},
        {"{\"outputs\":[{\"shape\":[1,3],\"data\":[1,2,3]}]} x", "not JSON"},
        {"{\"outputs\":[{\"shape\":[1,3],\"data\":[1,2,3]},{\"shape\":[1,3],\"data\":[1,2,3]}]}",
         "an array of one tensor"},
        {"{\"error\":\"boom\",\"outputs\":[{\"shape\":[1,3],\"data\":[1,2,3]}]}",
         "the server answered an error: boom"},
    };
    for (size_t b = 0; b < SW_ARRAY_LEN(bad); b++) {
        cr_expect_eq(sw_srv_kserve_parse_response(bad[b].body, strlen(bad[b].body), 3, 1, got, e,
                                                  sizeof(e)),
                     SW_EPARSE, "case %zu accepted", b);
        cr_expect(strstr(e, bad[b].says) != NULL, "case %zu: %s", b, e);
    }
}

Test(srv_kserve, spellings_of_one_request_parse_alike)
{
    /* Key orders, whitespace, parameters, nesting; the last two need jansson (an escape in
     * the id, a key the reader does not know). */
    const char *bodies[] = {
        "{\"id\":\"a1\",\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\","
        "\"data\":[1,2,3,4,5,6]}]}",
        " {\r\n \"inputs\" : [ { \"data\" : [ [ 1 , 2.0 , 3e0 ] , [ 4 , 5 , 6 ] ] , \"datatype\""
        " : \"FP32\" , \"shape\" : [ 2 , 3 ] , \"name\" : \"x\" } ] ,\t\"id\" : \"a1\" } \n",
        "{\"parameters\":{\"a\":1,\"b\":\"s\",\"c\":true,\"d\":null},\"inputs\":[{\"parameters\":"
        "{},\"shape\":[2,3],\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6]}],"
        "\"id\":\"a1\"}",
        "{\"id\":\"a\\u0031\",\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],\"datatype\":\"FP32\","
        "\"data\":[1,2,3,4,5,6]}]}",
        "{\"id\":\"a1\",\"outputs\":[{\"name\":\"y\"}],\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],"
        "\"datatype\":\"FP32\",\"data\":[[1,2,3],[4,5,6]]}]}",
    };
    const float want[] = {1, 2, 3, 4, 5, 6};
    for (size_t b = 0; b < SW_ARRAY_LEN(bodies); b++) {
        cr_assert_eq(parse(bodies[b], 3, 4), 0, "body %zu: %s", b, err);
        cr_expect_eq(req.n, 2, "body %zu", b);
        cr_expect_str_eq(req.id, "a1", "body %zu", b);
        for (size_t i = 0; i < 6; i++)
            cr_expect_eq(req.data[i], want[i], "body %zu data[%zu]", b, i);
    }
}

Test(srv_kserve, what_jansson_rejects_is_rejected_with_its_message)
{
    const char *head = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",";
    const char *cases[] = {
        "\"data\":[1,2,3]}],\"inputs\":[]}",     /* duplicate key */
        "\"data\":[01,2,3]}]}",                  /* leading zero */
        "\"data\":[1.,2,3]}]}",                  /* no digit after the point */
        "\"data\":[.5,2,3]}]}",                  /* no digit before it */
        "\"data\":[+1,2,3]}]}",                  /* a plus sign */
        "\"data\":[1,2,-]}]}",                   /* a lone minus */
        "\"data\":[1,2,3]}]} x",                 /* something after the body */
        "\"data\":[1,2,9999999999999999999]}]}", /* past int64 */
        "\"data\":[1,2,1e400]}]}",               /* past double */
        "\"data\":[1,2,3],\"name\":\"\xff\"}]}", /* not UTF-8 */
        "\"data\":[1,2,3],\"name\":\"a\tb\"}]}", /* a control character */
    };
    char body[256];
    for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
        snprintf(body, sizeof(body), "%s%s", head, cases[i]);
        cr_expect_eq(parse(body, 3, 4), SW_EPARSE, "case %zu accepted: %s", i, body);
        cr_expect(!strncmp(err, "not JSON at line 1", 18), "case %zu: %s", i, err);
    }
    snprintf(body, sizeof(body), "%s%s", head, "\"data\":[1,2,1e39]}]}");
    cr_expect_eq(parse(body, 3, 4), SW_EPARSE);
    cr_expect_str_eq(err, "inputs[0].data[2]: 1e+39 is out of the FP32 range");
}
