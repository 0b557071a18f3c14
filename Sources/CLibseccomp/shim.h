/* libseccomp: found through pkg-config, used only by the CPrivilege shim, which hides its filter
 * context and its macros (SCMP_ACT_ERRNO, SCMP_A0...) behind a few flat calls. */
#include <seccomp.h>
