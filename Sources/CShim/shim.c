#define _GNU_SOURCE 1
#include "wgd_shim.h"
#include <pthread.h>
#include <sched.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

int wgd_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }
int wgd_ioctl_value(int fd, unsigned long request, unsigned long value) { return ioctl(fd, request, value); }

int wgd_mlock_on_fault(void *address, size_t length) { return mlock2(address, length, MLOCK_ONFAULT); }

int wgd_unshare_network(void) { return unshare(CLONE_NEWNET); }

int wgd_pin_current_thread(int cpu) {
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE) return 22; /* EINVAL */
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int wgd_allowed_cpus(int *cpus, int max) {
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
        if (CPU_ISSET(cpu, &set)) cpus[n++] = cpu;
    return n;
}

int wgd_name_current_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }

/* One datagram at most this many per call: the stack arrays below stay small. */
#define WGD_BATCH_MAX 64
#define WGD_CONTROL_SIZE CMSG_SPACE(sizeof(struct in6_pktinfo))
#define WGD_RECEIVE_CONTROL_SIZE (WGD_CONTROL_SIZE + CMSG_SPACE(sizeof(int)))

int wgd_udp_enable_pktinfo(int fd, int family) {
    int on = 1;
    if (family == AF_INET) return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
    return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
}

int wgd_udp_enable_gro(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
}

static void read_local(struct msghdr *m, struct wgd_datagram *d) {
    d->local_family = 0;
    d->segment_size = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int size;
            memcpy(&size, CMSG_DATA(c), sizeof(size));
            d->segment_size = size > 0 ? (unsigned int)size : 0;
            continue;
        }
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo *p = (struct in_pktinfo *)CMSG_DATA(c);
            memcpy(d->local, &p->ipi_addr, 4);
            d->local_ifindex = p->ipi_ifindex;
            d->local_family = AF_INET;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo *p = (struct in6_pktinfo *)CMSG_DATA(c);
            memcpy(d->local, &p->ipi6_addr, 16);
            d->local_ifindex = (int)p->ipi6_ifindex;
            d->local_family = AF_INET6;
        }
    }
}

int wgd_udp_receive(int fd, struct wgd_datagram *d, unsigned int count) {
    struct mmsghdr msgs[WGD_BATCH_MAX];
    struct iovec iov[WGD_BATCH_MAX];
    union { char buf[WGD_RECEIVE_CONTROL_SIZE]; struct cmsghdr align; } control[WGD_BATCH_MAX];
    if (count > WGD_BATCH_MAX) count = WGD_BATCH_MAX;
    memset(msgs, 0, sizeof(msgs[0]) * count);
    for (unsigned int i = 0; i < count; i++) {
        iov[i].iov_base = d[i].data;
        iov[i].iov_len = d[i].capacity;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = d[i].remote;
        msgs[i].msg_hdr.msg_namelen = sizeof(d[i].remote);
        msgs[i].msg_hdr.msg_control = control[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof(control[i].buf);
    }
    int n = recvmmsg(fd, msgs, count, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) {
        d[i].truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        d[i].length = d[i].truncated ? 0 : msgs[i].msg_len;
        d[i].remote_length = msgs[i].msg_hdr.msg_namelen;
        read_local(&msgs[i].msg_hdr, &d[i]);
    }
    return n;
}

/* UDP GSO (UDP_SEGMENT): a run of equal-sized datagrams to one destination leaves as one send,
 * which the stack carries as one packet and cuts as late as it can (the egress device, or the
 * receiving socket): one pass through the stack for up to 64 datagrams instead of one each. */
#define WGD_GSO_SEGMENTS 64
#define WGD_GSO_BYTES 65000
#define WGD_SEND_CONTROL_SIZE (WGD_CONTROL_SIZE + CMSG_SPACE(sizeof(uint16_t)))
/* Set once the kernel or the egress device refused GSO while plain sends worked. */
static int gso_refused;

/* How many datagrams from iov[0] one GSO send carries: all of the first's size, but the last,
 * which may be shorter (the kernel's rule for a segmented send). */
static unsigned int gso_run(const struct iovec *iov, unsigned int count) {
    size_t size = iov[0].iov_len, total = size;
    unsigned int n = 1;
    while (n < count && n < WGD_GSO_SEGMENTS && iov[n].iov_len <= size && total + iov[n].iov_len <= WGD_GSO_BYTES) {
        total += iov[n].iov_len;
        if (iov[n++].iov_len < size) break;
    }
    return n;
}

/* One sendmmsg of `count` datagrams, each run of them one message when `gso`; the source's
 * control message (`pktinfo`, may be empty) on every message. Returns the datagrams sent, or -1
 * and errno; *segmented says whether a message carried more than one. */
static int send_messages(int fd, const struct iovec *iov, unsigned int count, const void *remote, unsigned int remote_length,
                         const char *pktinfo, size_t pktinfo_length, int gso, int *segmented) {
    struct mmsghdr msgs[WGD_BATCH_MAX];
    union { char buf[WGD_SEND_CONTROL_SIZE]; struct cmsghdr align; } control[WGD_BATCH_MAX];
    unsigned int carried[WGD_BATCH_MAX], m = 0;
    *segmented = 0;
    for (unsigned int at = 0; at < count; m++) {
        unsigned int run = gso ? gso_run(&iov[at], count - at) : 1;
        struct msghdr *h = &msgs[m].msg_hdr;
        memset(&msgs[m], 0, sizeof(msgs[m]));
        size_t length = pktinfo_length;
        memset(&control[m], 0, sizeof(control[m]));
        memcpy(control[m].buf, pktinfo, pktinfo_length);
        if (run > 1) {
            struct cmsghdr *c = (struct cmsghdr *)(control[m].buf + pktinfo_length);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t size = (uint16_t)iov[at].iov_len;
            memcpy(CMSG_DATA(c), &size, sizeof(size));
            length += CMSG_SPACE(sizeof(uint16_t));
            *segmented = 1;
        }
        h->msg_iov = (struct iovec *)&iov[at];
        h->msg_iovlen = run;
        h->msg_name = (void *)remote;
        h->msg_namelen = remote_length;
        h->msg_control = length ? control[m].buf : NULL;
        h->msg_controllen = length;
        carried[m] = run;
        at += run;
    }
    int n = sendmmsg(fd, msgs, m, 0);
    if (n < 0) return -1;
    int sent = 0;
    for (int i = 0; i < n; i++) sent += (int)carried[i];
    return sent;
}

/* Every datagram of a batch goes to one peer from one source, so one control message serves all. */
int wgd_udp_send_batch(int fd, const void *iovecs, unsigned int count, const void *remote, unsigned int remote_length,
                       int local_family, const void *local, int local_ifindex) {
    union { char buf[WGD_CONTROL_SIZE]; struct cmsghdr align; } control;
    size_t control_length = 0;
    if (count > WGD_BATCH_MAX) count = WGD_BATCH_MAX;
    memset(&control, 0, sizeof(control));
    if (local_family == AF_INET) {
        struct cmsghdr *c = (struct cmsghdr *)control.buf;
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        memcpy(&((struct in_pktinfo *)CMSG_DATA(c))->ipi_spec_dst, local, 4);
        control_length = CMSG_SPACE(sizeof(struct in_pktinfo));
    } else if (local_family == AF_INET6) {
        struct cmsghdr *c = (struct cmsghdr *)control.buf;
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
        struct in6_pktinfo *p = (struct in6_pktinfo *)CMSG_DATA(c);
        memcpy(&p->ipi6_addr, local, 16);
        p->ipi6_ifindex = (unsigned int)local_ifindex;
        control_length = CMSG_SPACE(sizeof(struct in6_pktinfo));
    }
    int gso = !__atomic_load_n(&gso_refused, __ATOMIC_RELAXED), segmented;
    int n = send_messages(fd, iovecs, count, remote, remote_length, control.buf, control_length, gso, &segmented);
    if (n >= 0 || !segmented) return n;
    /* A refused segmented send: EIO (no checksum offload on the way out), ENOPROTOOPT or
     * EOPNOTSUPP (no UDP_SEGMENT) turn GSO off for good if plain sends work; EINVAL (a segment
     * larger than the path's MTU allows, or a source the kernel refuses) only for this batch. */
    int refused = errno, plain_segmented;
    n = send_messages(fd, iovecs, count, remote, remote_length, control.buf, control_length, 0, &plain_segmented);
    if (n < 0) return -1;
    if (refused == EIO || refused == ENOPROTOOPT || refused == EOPNOTSUPP) __atomic_store_n(&gso_refused, 1, __ATOMIC_RELAXED);
    return n;
}

/* Whether sends still use UDP GSO (tests and diagnostics). */
int wgd_udp_gso_enabled(void) { return !__atomic_load_n(&gso_refused, __ATOMIC_RELAXED); }

int wgd_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

size_t wgd_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

/* Room for WGD_PASSED_FDS_MAX descriptors; the union keeps the buffer aligned for cmsghdr. */
union wgd_fd_control {
    char buf[CMSG_SPACE(sizeof(int) * WGD_PASSED_FDS_MAX)];
    struct cmsghdr align;
};

long wgd_control_send(int socket, const void *head, size_t head_length, const void *body, size_t body_length,
                      const int *fds, unsigned int fd_count) {
    struct iovec iov[2] = {{(void *)head, head_length}, {(void *)body, body_length}};
    union wgd_fd_control control;
    struct msghdr m;
    if (fd_count > WGD_PASSED_FDS_MAX) {
        errno = EINVAL;
        return -1;
    }
    memset(&m, 0, sizeof(m));
    memset(&control, 0, sizeof(control));
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    if (fd_count > 0) {
        struct cmsghdr *c;
        m.msg_control = control.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
        c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * fd_count);
    }
    return sendmsg(socket, &m, MSG_NOSIGNAL);
}

/* Takes the SCM_RIGHTS descriptors of one received message; those past `max_fds` are closed, as
 * the kernel closes the ones that did not fit the control buffer (and says MSG_CTRUNC). */
static void take_fds(struct msghdr *m, int *fds, unsigned int max_fds, unsigned int *fd_count, int *truncated) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd_count < max_fds) {
                fds[(*fd_count)++] = fd;
            } else {
                close(fd);
                *truncated = 1;
            }
        }
    }
}

long wgd_control_receive(int socket, void *data, size_t capacity, int *fds, unsigned int max_fds,
                         unsigned int *fd_count, int *control_truncated) {
    struct iovec iov = {data, capacity};
    union wgd_fd_control control;
    struct msghdr m;
    long n;
    *fd_count = 0;
    *control_truncated = 0;
    if (max_fds > WGD_PASSED_FDS_MAX) max_fds = WGD_PASSED_FDS_MAX;
    memset(&m, 0, sizeof(m));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control.buf;
    m.msg_controllen = sizeof(control.buf);
    n = recvmsg(socket, &m, MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    take_fds(&m, fds, max_fds, fd_count, control_truncated);
    if (m.msg_flags & MSG_CTRUNC) *control_truncated = 1;
    return n;
}
