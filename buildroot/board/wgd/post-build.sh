#!/bin/sh
# Buildroot's post-build script for the wgd image ($1 is the target directory). It fails
# the build when the image lacks what wgd needs at boot, rather than leave a device that
# comes up without its tunnel. Ownership is not set here: this runs outside fakeroot, so
# chown would give files to the build user; wgd.mk's WGD_PERMISSIONS does it.

set -e
target="$1"
[ -d "$target" ] || { echo "post-build.sh: no target directory '$target'" >&2; exit 1; }

status=0
for f in usr/sbin/wgd usr/sbin/wgd-provision etc/init.d/S42wgd usr/bin/wg; do
	if [ ! -x "$target/$f" ]; then
		echo "post-build.sh: /$f is missing or not executable" >&2
		status=1
	fi
done
for f in etc/default/wgd usr/share/wgd/state.json; do
	if [ ! -f "$target/$f" ]; then
		echo "post-build.sh: /$f is missing (is BR2_ROOTFS_OVERLAY the repository's overlay/?)" >&2
		status=1
	fi
done
# S42wgd comes from the overlay only: a second script would start wgd twice.
others=$(find "$target/etc/init.d" -name 'S[0-9][0-9]wgd*' ! -name S42wgd 2>/dev/null)
if [ -n "$others" ]; then
	echo "post-build.sh: more than one init script for wgd: $others" >&2
	status=1
fi
exit "$status"
