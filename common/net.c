/* HOST:PORT parsing and formatting (see net.h). */
#include "common/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int sw_net_split_host_port(const char *s, char *host, size_t host_len, uint16_t *port,
                           bool allow_zero)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || colon == s || !colon[1])
        return -EINVAL;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= host_len)
        return -EINVAL;
    for (const char *c = colon + 1; *c; c++)
        if (*c < '0' || *c > '9')
            return -EINVAL; /* strtoul would take "+1", " 1" and "-1" */
    errno = 0;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || p > 65535 || (p == 0 && !allow_zero))
        return -EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int sw_net_split_listen(const char *s, char *host, size_t host_len, uint16_t *port)
{
    char any[32];
    if (s && s[0] == ':') {
        if ((size_t)snprintf(any, sizeof(any), "0.0.0.0%s", s) >= sizeof(any))
            return -EINVAL;
        s = any;
    }
    return sw_net_split_host_port(s, host, host_len, port, true);
}

int sw_net_local_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        snprintf(buf, len, "%s:%u", host, port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(buf, len, "[%s]:%u", host, port);
    } else {
        return -EAFNOSUPPORT;
    }
    return 0;
}
