/* malloc-counter: an LD_PRELOAD library that counts heap allocations in a process.
 *
 *   cc -O2 -shared -fPIC -o .build/malloc-counter.so scripts/malloc-counter.c -ldl
 *   LD_PRELOAD=.build/malloc-counter.so WGD_MALLOC_REPORT=1 some-program
 *
 * Every call to malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc and pvalloc
 * adds one to a relaxed atomic counter, then goes to the real function (dlsym(RTLD_NEXT)); glibc
 * routes its own internal allocations through these symbols too. free is wrapped only so that it
 * ignores the bootstrap buffer below. Readers:
 *   - wgd_malloc_count(), found by the program with dlsym (wgd-bench reads it around a loop);
 *   - with WGD_MALLOC_REPORT set, "malloc-count: N" on stderr at exit;
 *   - SIGUSR2 writes the same line at any time (the handler is installed unless SIGUSR2 was
 *     already ignored; a program that installs its own SIGUSR2 handler replaces it). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ullong count;
static void *(*real_malloc)(size_t), *(*real_calloc)(size_t, size_t), *(*real_realloc)(void *, size_t);
static void *(*real_aligned_alloc)(size_t, size_t), *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t), *(*real_pvalloc)(size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void (*real_free)(void *);

/* dlsym itself may call calloc/malloc before the real ones are known: serve those from here. */
static _Alignas(64) char bootstrap[8192];
static atomic_size_t bootstrap_used;
static atomic_int resolving; /* atomic: also keeps the compiler from moving the stores */
#define IN_BOOTSTRAP(p) ((char *)(p) >= bootstrap && (char *)(p) < bootstrap + sizeof bootstrap)

static void *bootstrap_alloc(size_t size) {
    if (size > sizeof bootstrap) return NULL;
    size_t at = atomic_fetch_add(&bootstrap_used, (size + 63) & ~(size_t)63);
    return at + size <= sizeof bootstrap ? bootstrap + at : NULL; /* zeroed: it is static */
}

static void resolve(void) {
    if (real_free || atomic_load(&resolving)) return;
    atomic_store(&resolving, 1);
    real_malloc = dlsym(RTLD_NEXT, "malloc");               real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");             real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");           real_valloc = dlsym(RTLD_NEXT, "valloc");
    real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");             real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_free = dlsym(RTLD_NEXT, "free");                   /* last: it marks resolution as done */
    atomic_store(&resolving, 0);
}

/* Counts the call, resolves the real functions on first use, and serves calls made meanwhile. */
#define ENTER(bootstrap_size) do { \
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); \
        if (!real_free) { resolve(); if (!real_free) return bootstrap_alloc(bootstrap_size); } \
    } while (0)

void *malloc(size_t n) { ENTER(n); return real_malloc(n); }
void *calloc(size_t k, size_t n) { ENTER(n && k > (size_t)-1 / n ? (size_t)-1 : k * n); return real_calloc(k, n); }
void *aligned_alloc(size_t a, size_t n) { ENTER(a > 64 ? (size_t)-1 : n); return real_aligned_alloc(a, n); }
void *memalign(size_t a, size_t n) { ENTER(a > 64 ? (size_t)-1 : n); return real_memalign(a, n); }
void *valloc(size_t n) { ENTER((size_t)-1); return real_valloc(n); }
void *pvalloc(size_t n) { ENTER((size_t)-1); return real_pvalloc(n); }

int posix_memalign(void **out, size_t a, size_t n) {
    atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
    resolve();
    if (real_posix_memalign) return real_posix_memalign(out, a, n);
    return (*out = a > 64 ? NULL : bootstrap_alloc(n)) ? 0 : ENOMEM;
}

void *realloc(void *p, size_t n) {
    ENTER(n);
    if (!IN_BOOTSTRAP(p)) return real_realloc(p, n);
    void *q = real_malloc(n); /* moving out of the bootstrap buffer: copy what can be there */
    size_t left = (size_t)(bootstrap + sizeof bootstrap - (char *)p);
    if (q) memcpy(q, p, n < left ? n : left);
    return q;
}

void free(void *p) {
    if (IN_BOOTSTRAP(p)) return;
    if (!real_free) resolve();
    if (real_free) real_free(p);
}

__attribute__((visibility("default"))) unsigned long long wgd_malloc_count(void) {
    return atomic_load_explicit(&count, memory_order_relaxed);
}

/* "malloc-count: N\n" with write(2) and a hand-formatted number: safe in a signal handler. */
static void report(void) {
    char line[48] = "malloc-count: ", digits[24];
    unsigned long long n = wgd_malloc_count();
    int len = 14, d = 0;
    do { digits[d++] = (char)('0' + n % 10); n /= 10; } while (n);
    while (d) line[len++] = digits[--d];
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)len);
}

static void on_sigusr2(int sig) { int saved = errno; (void)sig; report(); errno = saved; }

__attribute__((constructor)) static void start(void) {
    resolve();
    struct sigaction old, action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_sigusr2;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(SIGUSR2, &action, NULL);
}

__attribute__((destructor)) static void finish(void) {
    if (getenv("WGD_MALLOC_REPORT")) report();
}
