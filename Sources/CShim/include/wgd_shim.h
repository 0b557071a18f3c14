/* What Swift cannot call directly: variadic functions and function-like macros.
 * This header includes nothing that changes with _GNU_SOURCE, so that it agrees with every other
 * module's view of the system headers; the GNU parts stay inside shim.c. */
#ifndef WGD_SHIM_H
#define WGD_SHIM_H

#include <stddef.h>
#include <sys/random.h>

/* ioctl(2) is variadic; every wgd caller passes one pointer argument. */
int wgd_ioctl_ptr(int fd, unsigned long request, void *arg);
/* ioctl whose argument is a plain value (TUNSETOFFLOAD's flags). */
int wgd_ioctl_value(int fd, unsigned long request, unsigned long value);

/* mlock2(MLOCK_ONFAULT) is a GNU symbol: lock pages as they are first touched (0 or -1, errno). */
int wgd_mlock_on_fault(void *address, size_t length);

/* unshare(CLONE_NEWNET) is a GNU symbol: the calling thread alone moves to a new network
 * namespace (tests that need one of their own). 0 or -1 and errno. */
int wgd_unshare_network(void);

/* CPU_SET and friends are macros over cpu_set_t: pin the calling thread to one CPU (0 or errno),
 * and list the CPUs this process may run on (count written, at most `max`). */
int wgd_pin_current_thread(int cpu);
int wgd_allowed_cpus(int *cpus, int max);

/* accept4(SOCK_CLOEXEC) is a GNU symbol: accept a connection that is close-on-exec at once. */
int wgd_accept_cloexec(int fd);

/* pthread_setname_np is a GNU extension: name the calling thread (15 characters at most). */
int wgd_name_current_thread(const char *name);

/* Batched UDP I/O with the local address a datagram arrived on / should leave from (IP_PKTINFO,
 * IPV6_PKTINFO): recvmmsg/sendmmsg, in6_pktinfo and the CMSG_* macros are GNU or macros, so the
 * whole message assembly lives here and Swift sees one flat descriptor per datagram. */
struct wgd_datagram {
    void *data;
    unsigned int capacity;         /* receive: room in data */
    unsigned int length;           /* receive: bytes received; send: bytes to send */
    unsigned char remote[28];      /* sockaddr_in or sockaddr_in6: source (receive), destination (send) */
    unsigned int remote_length;
    unsigned char local[16];       /* the local address (4 or 16 bytes, network order) */
    int local_family;              /* 0 = unknown/any, AF_INET or AF_INET6 */
    int local_ifindex;
    int truncated;                 /* receive: the datagram was larger than capacity (length is 0) */
    unsigned int segment_size;     /* receive: with UDP_GRO, the size of the datagrams coalesced in data (0: one) */
};

/* Receive up to `count` datagrams without blocking past the first; returns how many, or -1 and
 * errno. Truncated datagrams are reported with length 0 (dropped by the caller). */
int wgd_udp_receive(int fd, struct wgd_datagram *datagrams, unsigned int count);
/* UDP_GRO: let the kernel hand over runs of datagrams from one source as one (segment_size says
 * how to cut them). 0, or -1 and errno (a kernel without it). */
int wgd_udp_enable_gro(int fd);
/* Send `count` datagrams (data, length pairs laid out as struct iovec) to one destination
 * (`remote`: a sockaddr_in or sockaddr_in6 of `remote_length` bytes), from the local address
 * `local` (4 or 16 bytes, network order) when `local_family` is AF_INET or AF_INET6, else from
 * whatever the routing table picks. Returns how many were sent, or -1 and errno. */
int wgd_udp_send_batch(int fd, const void *iovecs, unsigned int count, const void *remote, unsigned int remote_length,
                       int local_family, const void *local, int local_ifindex);
/* Whether sends still use UDP GSO: off for good once the kernel or a device refused it. */
int wgd_udp_gso_enabled(void);
/* Ask the kernel for IP_PKTINFO / IPV6_RECVPKTINFO on a socket of `family`. */
int wgd_udp_enable_pktinfo(int fd, int family);

/* mallinfo2 is declared in <malloc.h>, which no Swift module includes: the heap bytes the process
 * has allocated and not freed (arenas and mmapped chunks), for wgd-bench's memory figures. */
size_t wgd_heap_in_use(void);

/* Control channel I/O (AF_UNIX SOCK_STREAM) with descriptors passed as SCM_RIGHTS: the
 * CMSG_SPACE/CMSG_FIRSTHDR/CMSG_DATA macros that lay out and walk the ancillary data are not
 * callable from Swift, so the whole msghdr lives here. At most WGD_PASSED_FDS_MAX per call. */
#define WGD_PASSED_FDS_MAX 4

/* One sendmsg of `head` then `body` (either may be empty) with `fd_count` descriptors attached
 * to the first byte sent. MSG_NOSIGNAL: a peer that hung up costs EPIPE, not the process.
 * Returns the bytes sent (possibly fewer than asked) or -1 and errno. */
long wgd_control_send(int socket, const void *head, size_t head_length, const void *body, size_t body_length,
                      const int *fds, unsigned int fd_count);

/* One recvmsg into `data` (up to `capacity` bytes), collecting the descriptors that came with
 * those bytes (close-on-exec) into `fds`, at most `max_fds` (≤ WGD_PASSED_FDS_MAX); `*fd_count`
 * says how many. Descriptors beyond `max_fds` are closed here, and then, as for MSG_CTRUNC,
 * `*control_truncated` is set. Returns the bytes read (0 at end of stream) or -1 and errno. */
long wgd_control_receive(int socket, void *data, size_t capacity, int *fds, unsigned int max_fds,
                         unsigned int *fd_count, int *control_truncated);

#endif
