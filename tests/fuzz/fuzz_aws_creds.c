/* Fuzz target: the AWS shared credentials file reader, sw_be_aws_creds_load
 * (backends/aws_creds.h), on the bytes as the file AWS_SHARED_CREDENTIALS_FILE names,
 * for the default profile and for a named one. The environment's keys are cleared first,
 * since they would win over the file. */
#include <stdlib.h>
#include <string.h>

#include "backends/aws_creds.h"
#include "tests/fuzz/fuzz_util.h"

void sw_fuzz_setup(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_fuzz_file_t f;
    sw_fuzz_file_open(&f, data, size);
    setenv("AWS_SHARED_CREDENTIALS_FILE", f.path, 1);
    static const char *const profiles[] = {NULL, "prod"};
    for (size_t i = 0; i < SW_ARRAY_LEN(profiles); i++) {
        sw_be_aws_creds_t c;
        char err[512];
        if (sw_be_aws_creds_load(profiles[i], &c, err, sizeof(err)) == 0) {
            /* Found keys are non-empty strings. */
            if (!c.access_key_id || !c.access_key_id[0] || !c.secret_access_key ||
                !c.secret_access_key[0])
                abort();
            sw_be_aws_creds_t copy;
            sw_be_aws_creds_copy(&copy, &c);
            sw_be_aws_creds_deinit(&copy);
            sw_be_aws_creds_deinit(&c);
        } else if (err[0] == '\0') {
            abort();
        }
    }
    sw_fuzz_file_close(&f);
    return 0;
}
