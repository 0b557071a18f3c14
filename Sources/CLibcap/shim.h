/* libcap (POSIX 1003.1e capabilities): found through pkg-config, used only by the CPrivilege shim,
 * which flattens its opaque cap_t into bit masks for Swift. */
#include <sys/capability.h>
