/* HOST:PORT addresses as users write them in options and the policy file. One parser for
 * every listener and dialler (frontend, worker port, faas-local, workers). */
#ifndef SW_COMMON_NET_H
#define SW_COMMON_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Splits "HOST:PORT" at its last colon; "[v6addr]:PORT" has its brackets removed. The host
 * is copied into host[host_len]. The port must be a whole number in [1, 65535], or 0 when
 * allow_zero (a listener asking the kernel for a free port). Returns 0 or -EINVAL. */
int sw_net_split_host_port(const char *s, char *host, size_t host_len, uint16_t *port,
                           bool allow_zero) SW_MUST_USE;

/* A listener's address: HOST:PORT as sw_net_split_host_port takes it with port 0 allowed,
 * or ":PORT" for every IPv4 address (host "0.0.0.0"), as the HTTP frontend accepts it.
 * Returns 0 or -EINVAL. */
int sw_net_split_listen(const char *s, char *host, size_t host_len, uint16_t *port) SW_MUST_USE;

/* Writes "HOST:PORT" for a bound socket's local address (numeric host) into buf. Returns
 * 0 or a negative errno. */
int sw_net_local_address(int fd, char *buf, size_t len) SW_MUST_USE;

#endif
