/* common/net: the one HOST:PORT parser. */
#include <criterion/criterion.h>
#include <errno.h>

#include "common/net.h"

Test(common_net, splits_host_and_port)
{
    char host[64];
    uint16_t port;
    cr_assert_eq(sw_net_split_host_port("127.0.0.1:8080", host, sizeof host, &port, false), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 8080);
    cr_assert_eq(sw_net_split_host_port("[::1]:9", host, sizeof host, &port, false), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 9);
    cr_assert_eq(sw_net_split_host_port("localhost:0", host, sizeof host, &port, true), 0);
    cr_assert_eq(port, 0);
}

Test(common_net, refuses_what_is_not_an_address)
{
    char host[8];
    uint16_t port;
    const char *bad[] = {"", ":80", "host", "host:", "host:0", "host:65536", "host:-1",
                         "host:+1", "host: 1", "host:1x", "averyveryverylonghost:1", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(sw_net_split_host_port(bad[i], host, sizeof host, &port, false), -EINVAL,
                     "%s", bad[i]);
    cr_assert_eq(sw_net_split_host_port(NULL, host, sizeof host, &port, true), -EINVAL);
}

/* A listener also takes ":PORT" for every IPv4 address, and port 0 (any free port). */
Test(common_net, a_listen_address_may_leave_out_its_host)
{
    char host[64];
    uint16_t port;
    cr_assert_eq(sw_net_split_listen(":8080", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "0.0.0.0");
    cr_assert_eq(port, 8080);
    cr_assert_eq(sw_net_split_listen("[::1]:0", host, sizeof host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 0);
    const char *bad[] = {"", ":", ":x", ":65536", "host", "::", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(sw_net_split_listen(bad[i], host, sizeof host, &port), -EINVAL, "%s",
                     bad[i]);
    cr_assert_eq(sw_net_split_listen(NULL, host, sizeof host, &port), -EINVAL);
}
