#define _GNU_SOURCE 1
#include "wgd_shim.h"
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>

int wgd_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

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
