/* bench/nodelay.c — LD_PRELOAD shim: TCP_NODELAY on every accepted socket.
 *
 * Cyrus's httpd answers small JMAP responses in more than one write and
 * does not set TCP_NODELAY, so with a keep-alive client each answer waits
 * ~40 ms for the client's delayed ACK (Nagle). The benchmark compares
 * work, not a socket option: bench/cyrus starts Cyrus with this shim.
 *   cc -shared -fPIC -O2 -o nodelay.so bench/nodelay.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd)
{
    int one = 1;

    if (fd >= 0) {
        /* fails harmlessly on a Unix socket */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

int accept(int s, struct sockaddr *a, socklen_t *l)
{
    static int (*real)(int, struct sockaddr *, socklen_t *);
    int fd;

    if (!real) {
        real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    }
    fd = real(s, a, l);
    nodelay(fd);
    return fd;
}

int accept4(int s, struct sockaddr *a, socklen_t *l, int flags)
{
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    int fd;

    if (!real) {
        real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    }
    fd = real(s, a, l, flags);
    nodelay(fd);
    return fd;
}
