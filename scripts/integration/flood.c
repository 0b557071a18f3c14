/* A fast UDP sender for the flood tests (t66, t67): sends precomputed datagrams, paced or as
 * fast as the socket takes them, in batches (sendmmsg), and counts what comes back to its socket.
 * Python prepares the datagrams (wgt.py gen-initiations / gen-garbage); this only sends them.
 * Compiled by the test that needs it (`cc -O2`), so it needs gcc and libc6-dev (scripts/bootstrap).
 *
 *   flood HOST PORT FILE COUNT RATE SECONDS LINGER
 *
 *   FILE     records of a 2-byte little-endian length and that many bytes (at most 65,507)
 *   COUNT    datagrams to send in all, the records taken in turn (1 to 100,000,000)
 *   RATE     datagrams per second (0: as fast as the socket takes them)
 *   SECONDS  stop sending after this long even if COUNT is not reached (1 to 600)
 *   LINGER   then keep reading replies this long (0 to 60 seconds)
 *
 * Prints one line:
 *   sent N of COUNT in T s (R/s); send errors E; cookie replies C; other replies O
 * (a datagram whose send failed counts as an error, not as sent, and is not retried) and exits 0
 * when all COUNT were sent, 1 otherwise. Every loop is bounded by COUNT or by time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_RECORDS 4000000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t) {
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec += 1; ts.tv_nsec -= 1000000000L; }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static long parse(const char *text, long low, long high, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < low || v > high) {
        fprintf(stderr, "flood: %s must be %ld to %ld, not '%s'\n", what, low, high, text);
        exit(2);
    }
    return v;
}

static unsigned long cookies, others;

/* Reads whatever replies are waiting, without blocking; counts cookie replies (type 3, 64 bytes). */
static void drain(int fd) {
    static unsigned char bufs[BATCH][2048];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (int round = 0; round < 64; round++) {
        memset(msgs, 0, sizeof msgs);
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = bufs[i];
            iov[i].iov_len = sizeof bufs[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) return;
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_len == 64 && bufs[i][0] == 3) cookies++;
            else others++;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: flood HOST PORT FILE COUNT RATE SECONDS LINGER\n");
        return 2;
    }
    long port = parse(argv[2], 1, 65535, "PORT");
    long count = parse(argv[4], 1, 100000000, "COUNT");
    long rate = parse(argv[5], 0, 10000000, "RATE");
    long seconds = parse(argv[6], 1, 600, "SECONDS");
    long linger = parse(argv[7], 0, 60, "LINGER");

    struct sockaddr_storage to;
    socklen_t tolen;
    memset(&to, 0, sizeof to);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&to;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&to;
    if (inet_pton(AF_INET, argv[1], &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        tolen = sizeof *v4;
    } else if (inet_pton(AF_INET6, argv[1], &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        tolen = sizeof *v6;
    } else {
        fprintf(stderr, "flood: '%s' is not an IPv4 or IPv6 address\n", argv[1]);
        return 2;
    }

    /* The records, read whole. */
    FILE *f = fopen(argv[3], "rb");
    if (!f) { perror("flood: open"); return 2; }
    if (fseek(f, 0, SEEK_END) != 0) { perror("flood: seek"); return 2; }
    long size = ftell(f);
    rewind(f);
    if (size <= 0 || size > (1L << 30)) { fprintf(stderr, "flood: %s: empty or over 1 GiB\n", argv[3]); return 2; }
    unsigned char *data = malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) { fprintf(stderr, "flood: cannot read %s\n", argv[3]); return 2; }
    fclose(f);
    struct iovec *records = malloc(sizeof *records * MAX_RECORDS);
    long nrecords = 0;
    for (long off = 0; off < size;) {
        if (off + 2 > size || nrecords == MAX_RECORDS) { fprintf(stderr, "flood: %s: bad record at %ld\n", argv[3], off); return 2; }
        size_t len = data[off] | (size_t)data[off + 1] << 8;
        if (off + 2 + (long)len > size || len > 65507) { fprintf(stderr, "flood: %s: record at %ld overruns\n", argv[3], off); return 2; }
        records[nrecords].iov_base = data + off + 2;
        records[nrecords].iov_len = len;
        nrecords++;
        off += 2 + (long)len;
    }

    int fd = socket(to.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) { perror("flood: socket"); return 2; }
    int rcvbuf = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);

    struct mmsghdr msgs[BATCH];
    long sent = 0, tried = 0, errors = 0, next = 0;
    double start = now(), stop = start + seconds;
    while (tried < count) {
        double t = now();
        if (t >= stop) break;
        long batch = count - tried < BATCH ? count - tried : BATCH;
        if (rate > 0) {
            /* Paced: this batch's first datagram is due at start + tried / rate. */
            double due = start + (double)tried / (double)rate;
            if (due > t) sleep_until(due < stop ? due : stop);
            if (batch > rate / 100 + 1) batch = rate / 100 + 1;  /* at least 100 batches a second */
        }
        memset(msgs, 0, sizeof msgs);
        for (long i = 0; i < batch; i++) {
            msgs[i].msg_hdr.msg_name = &to;
            msgs[i].msg_hdr.msg_namelen = tolen;
            msgs[i].msg_hdr.msg_iov = &records[(next + i) % nrecords];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(fd, msgs, (unsigned)batch, 0);
        if (n < 0) {
            /* ECONNREFUSED (an ICMP error from an earlier datagram), ENOBUFS: count and go on. */
            errors++;
            if (errno != EINTR && errno != ENOBUFS && errno != ECONNREFUSED && errno != EAGAIN) {
                perror("flood: sendmmsg");
                break;
            }
            /* Skip the datagram that failed, or a persistent error would repeat forever. */
            tried++;
            next = (next + 1) % nrecords;
            drain(fd);
            continue;
        }
        sent += n;
        tried += n;
        next = (next + n) % nrecords;
        drain(fd);
    }
    double elapsed = now() - start;
    double end = now() + linger;
    for (long i = 0; i < linger * 100 + 1 && now() < end; i++) {
        drain(fd);
        usleep(10000);
    }
    drain(fd);
    printf("sent %ld of %ld in %.2f s (%.0f/s); send errors %ld; cookie replies %lu; other replies %lu\n",
           sent, count, elapsed, elapsed > 0 ? sent / elapsed : 0.0, errors, cookies, others);
    return sent >= count ? 0 : 1;
}
