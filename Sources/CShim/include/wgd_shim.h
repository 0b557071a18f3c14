/* What Swift cannot call directly: variadic functions and function-like macros.
 * This header includes nothing that changes with _GNU_SOURCE, so that it agrees with every other
 * module's view of the system headers; the GNU parts stay inside shim.c. */
#ifndef WGD_SHIM_H
#define WGD_SHIM_H

#include <stddef.h>
#include <sys/random.h>

/* ioctl(2) is variadic; every wgd caller passes one pointer argument. */
int wgd_ioctl_ptr(int fd, unsigned long request, void *arg);

/* CPU_SET and friends are macros over cpu_set_t: pin the calling thread to one CPU (0 or errno),
 * and list the CPUs this process may run on (count written, at most `max`). */
int wgd_pin_current_thread(int cpu);
int wgd_allowed_cpus(int *cpus, int max);

/* pthread_setname_np is a GNU extension: name the calling thread (15 characters at most). */
int wgd_name_current_thread(const char *name);

#endif
