################################################################################
#
# wgd
#
################################################################################

# Sources/wgd/main.swift's version
WGD_VERSION = 0.1.0
# This tree lives inside the wgd repository it builds.
WGD_SITE = $(BR2_EXTERNAL_WGD_PATH)/..
WGD_SITE_METHOD = local
# The repository has no LICENSE file yet: until one is chosen the code is all
# rights reserved, and legal-info fails on the missing file rather than guess.
WGD_LICENSE = PROPRIETARY
WGD_LICENSE_FILES = LICENSE
WGD_DEPENDENCIES = host-pkgconf libcap libmnl libseccomp openssl
# A developer's SwiftPM folders are large and built for the host.
WGD_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=.build --exclude='.build-*' --exclude='.build_*'

# Swift is not a Buildroot package: the compiler and clang come from a host
# toolchain, the C side (glibc, libcrypto & co.) from the staging sysroot.
WGD_SWIFT_TOOLCHAIN = $(call qstrip,$(BR2_PACKAGE_WGD_SWIFT_TOOLCHAIN))
WGD_SWIFT_SDK = $(call qstrip,$(BR2_PACKAGE_WGD_SWIFT_SDK))

ifeq ($(BR2_x86_64),y)
WGD_SWIFT_TRIPLE = x86_64-unknown-linux-gnu
else ifeq ($(BR2_aarch64),y)
WGD_SWIFT_TRIPLE = aarch64-unknown-linux-gnu
else ifeq ($(BR2_arm),y)
WGD_SWIFT_TRIPLE = armv7-unknown-linux-gnueabihf
endif

# swiftc's -sysroot is the C sysroot of both the Clang importer and the link,
# -Xcc --sysroot that of the package's C targets. lld links for any target,
# and --gcc-install-dir points Clang at the cross gcc's crtbegin.o and
# libgcc, which a Buildroot sysroot does not hold.
WGD_SWIFT_OPTS = \
	--triple $(WGD_SWIFT_TRIPLE) \
	-Xcc --sysroot=$(STAGING_DIR) \
	-Xswiftc -sysroot -Xswiftc $(STAGING_DIR) \
	-Xswiftc -use-ld=lld \
	-Xswiftc -Xclang-linker \
	-Xswiftc --gcc-install-dir=$(dir $(shell $(TARGET_CC) -print-libgcc-file-name))

# The host toolchain's static runtime is x86_64 only; other targets take it
# from a Swift SDK, while the sysroot stays Buildroot's.
ifneq ($(WGD_SWIFT_SDK),)
WGD_SWIFT_OPTS += --swift-sdk $(WGD_SWIFT_SDK)
endif

# SwiftPM reads .pc files itself, through PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR; the target's CXX gives build-release its
# libstdc++.a.
WGD_SWIFT_ENV = \
	PATH="$(WGD_SWIFT_TOOLCHAIN):$(BR_PATH)" \
	CC="$(WGD_SWIFT_TOOLCHAIN)/clang" \
	CXX="$(TARGET_CXX)" \
	PKG_CONFIG_PATH="$(STAGING_DIR)/usr/lib/pkgconfig:$(STAGING_DIR)/usr/share/pkgconfig" \
	PKG_CONFIG_SYSROOT_DIR="$(STAGING_DIR)"

define WGD_BUILD_CMDS
	@test -x "$(WGD_SWIFT_TOOLCHAIN)/swift" || { \
		echo "wgd: no Swift toolchain in '$(WGD_SWIFT_TOOLCHAIN)':" \
			"install one, set BR2_PACKAGE_WGD_SWIFT_TOOLCHAIN"; \
		exit 1; }
	@test -n "$(BR2_x86_64)$(WGD_SWIFT_SDK)" || { \
		echo "wgd: $(WGD_SWIFT_TRIPLE) needs a Swift SDK with its" \
			"runtime: set BR2_PACKAGE_WGD_SWIFT_SDK"; \
		exit 1; }
	cd $(@D) && $(WGD_SWIFT_ENV) ./scripts/build-release $(WGD_SWIFT_OPTS)
endef

# The init script (S42wgd), its defaults and wgd-provision come from the
# rootfs overlay in the repository, not from here: one copy of each.
define WGD_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 \
		$(@D)/.build-firmware/$(WGD_SWIFT_TRIPLE)/release/wgd \
		$(TARGET_DIR)/usr/sbin/wgd
endef

# The supervisor drops from root to this user once the interfaces are open.
define WGD_USERS
	wgd -1 wgd -1 * - - - wgd daemon
endef

# Ownership needs fakeroot, which a post-build script does not run in: the
# key directory is wgd's, for wgd replaces the state file from there after
# dropping root. The state file itself is made on first boot (wgd-provision),
# or comes from an image's overlay.
define WGD_PERMISSIONS
	/etc/wgd d 700 wgd wgd - - - - -
	/etc/wgd/state.json F 600 wgd wgd - - - - -
endef

$(eval $(generic-package))
