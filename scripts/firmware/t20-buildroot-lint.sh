#!/usr/bin/env bash
# The Buildroot tree (buildroot/) checked without Buildroot: every Config.in parses with
# kconfiglib over a stub of the Buildroot symbols we use, the defconfig's lines all hold,
# wgd is selectable where Swift runs and nowhere else, Config.in and wgd.mk keep the
# manual's style, external.desc and external.mk are what Buildroot reads, and the shell
# scripts pass shellcheck. Then the same checks on broken copies, which must fail.
# A real Buildroot build is not run here (see README.md, Buildroot).
# The patterns below are sed's and grep's (their $ are literal), and the check functions
# run through check and check_not, which shellcheck does not follow.
# shellcheck disable=SC2016,SC2317
# shellcheck source-path=SCRIPTDIR source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

need_cmds python3 shellcheck
if ! python3 -c 'import kconfiglib' 2>/dev/null; then
  python3 -m pip install --quiet kconfiglib==14.1.0 >/dev/null 2>&1 ||
    skip_all "kconfiglib is missing and pip could not install it (scripts/bootstrap)"
fi

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TREE="$REPO/buildroot"
KC="$HERE/br-kconfig.py"
STYLE="$HERE/br-style.py"
echo "== $WGT_NAME: $TREE (id $WGT_ID)"

# lint TREE: every check, on the tree given (the real one, or a broken copy).
kconfig_parse()   { python3 "$KC" "$1" parse; }
kconfig_defconf() { python3 "$KC" "$1" defconfig "$1/configs/wgd_x86_64_defconfig"; }
config_style()    { python3 "$STYLE" config "$1/Config.in" "$1"/package/*/Config.in; }
mk_style()        { python3 "$STYLE" mk "$1"/package/*/*.mk; }
external_desc() {
  grep -qx 'name: WGD' "$1/external.desc" && grep -q '^desc: .' "$1/external.desc"
}
external_mk() {
  # Every package's .mk and Config.in reach Buildroot through these two files.
  grep -q 'include $(sort $(wildcard $(BR2_EXTERNAL_WGD_PATH)/package/\*/\*.mk))' "$1/external.mk" &&
    for p in "$1"/package/*/; do
      grep -qx "source \"\$BR2_EXTERNAL_WGD_PATH/package/$(basename "$p")/Config.in\"" "$1/Config.in" || return 1
    done
}
wgd_value() {  # TREE LINE...: BR2_PACKAGE_WGD once the lines are applied
  local tree=$1; shift
  python3 "$KC" "$tree" value BR2_PACKAGE_WGD "$@" BR2_PACKAGE_WGD=y
}
glibc_x86_64=(BR2_x86_64=y BR2_TOOLCHAIN_EXTERNAL=y BR2_TOOLCHAIN_EXTERNAL_BOOTLIN=y
  BR2_TOOLCHAIN_EXTERNAL_BOOTLIN_X86_64_GLIBC_STABLE=y)
musl_x86_64=(BR2_x86_64=y BR2_TOOLCHAIN_EXTERNAL=y BR2_TOOLCHAIN_EXTERNAL_BOOTLIN=y
  BR2_TOOLCHAIN_EXTERNAL_BOOTLIN_X86_64_MUSL_STABLE=y)
arch_value() { python3 "$KC" "$TREE" value BR2_PACKAGE_WGD_ARCH_SUPPORTS "$@"; }

# --- the tree as committed
check "Config.in files parse with kconfiglib; every symbol is defined (stub or tree)" kconfig_parse "$TREE"
check "wgd_x86_64_defconfig: every symbol exists and every value holds" kconfig_defconf "$TREE"
check_eq "wgd is selectable with x86_64 and a glibc toolchain" y "$(wgd_value "$TREE" "${glibc_x86_64[@]}")"
check_eq "wgd is not selectable with a musl toolchain" n "$(wgd_value "$TREE" "${musl_x86_64[@]}")"
check_eq "wgd's architectures: not MIPS" n "$(arch_value BR2_mipsel=y)"
check_eq "wgd's architectures: armv7 hard float" y "$(arch_value BR2_arm=y BR2_ARM_CPU_ARMV7A=y BR2_ARM_EABIHF=y)"
check_eq "wgd's architectures: not armv7 soft float" n "$(arch_value BR2_arm=y BR2_ARM_CPU_ARMV7A=y)"
check_eq "wgd's architectures: aarch64" y "$(arch_value BR2_aarch64=y)"
check_eq "wgd forces OpenSSL over LibreSSL" n \
  "$(python3 "$KC" "$TREE" value BR2_PACKAGE_LIBRESSL "${glibc_x86_64[@]}" BR2_PACKAGE_WGD=y BR2_PACKAGE_LIBRESSL=y)"
check "Config.in style (indentation, help text, attribute order)" config_style "$TREE"
check "wgd.mk: header, required variables and defines, WGD_ prefix, tabs, generic-package" mk_style "$TREE"
check_eq "WGD_VERSION is the version wgd reports" \
  "$(sed -n 's/^let version = "\(.*\)"$/\1/p' "$REPO/Sources/wgd/main.swift")" \
  "$(sed -n 's/^WGD_VERSION = //p' "$TREE/package/wgd/wgd.mk")"
check "external.desc has name WGD (BR2_EXTERNAL_WGD_PATH) and a desc" external_desc "$TREE"
check "external.mk includes every package .mk; Config.in sources every package" external_mk "$TREE"

scripts=("$TREE/board/wgd/post-build.sh" "$HERE"/*.sh)
if [ -d "$REPO/overlay" ]; then
  while IFS= read -r f; do
    head -n 1 "$f" | grep -q '^#!.*sh' && scripts+=("$f")
  done < <(find "$REPO/overlay" -type f)
  # sourced, so no #! line, but shell all the same
  [ -f "$REPO/overlay/etc/default/wgd" ] && scripts+=("$REPO/overlay/etc/default/wgd")
else
  skip "overlay/ is not in this tree yet: its scripts are not shellchecked"
fi
check "shellcheck: post-build.sh, scripts/firmware, overlay/ (${#scripts[@]} files)" shellcheck -x "${scripts[@]}"

# --- broken copies: each must fail the check it breaks
mutant() {  # NAME SED-SCRIPT FILE: a copy of the tree with FILE edited
  local dir="$WGT_TMP/$1"
  cp -r "$TREE" "$dir"
  sed -i "$2" "$dir/$3"
  cmp -s "$TREE/$3" "$dir/$3" && { echo "mutant $1: the edit changed nothing" >&2; return 1; }
  echo "$dir"
}
m=$(mutant spaces 's/^\tdepends on BR2_USE_MMU # libcap$/    depends on BR2_USE_MMU # libcap/' package/wgd/Config.in) &&
  check_not "fails: Config.in attribute indented with spaces" config_style "$m"
m=$(mutant helpwidth 's/^\t  clang\. Swift 6\.0 or newer\.$/\t  clang. Swift 6.0 or newer, and this line is now far too long to fit./' package/wgd/Config.in) &&
  check_not "fails: Config.in help line over 62 characters" config_style "$m"
m=$(mutant typo 's/select BR2_PACKAGE_LIBMNL$/select BR2_PACKAGE_LIBMNLX/' package/wgd/Config.in) &&
  check_not "fails: Config.in selects a symbol that does not exist" kconfig_parse "$m"
m=$(mutant mips 's/default y if BR2_x86_64$/default y if BR2_x86_64 || BR2_mipsel/' package/wgd/Config.in) &&
  check_eq "fails: a Config.in that allows MIPS is caught" y "$(python3 "$KC" "$m" value BR2_PACKAGE_WGD_ARCH_SUPPORTS BR2_mipsel=y)"
m=$(mutant defsym 's/^BR2_PACKAGE_LIBSECCOMP=y$/BR2_PACKAGE_SECCOMP=y/' configs/wgd_x86_64_defconfig) &&
  check_not "fails: defconfig names an undefined symbol" kconfig_defconf "$m"
m=$(mutant defmusl 's/X86_64_GLIBC_STABLE=y$/X86_64_MUSL_STABLE=y/' configs/wgd_x86_64_defconfig) &&
  check_not "fails: defconfig with a musl toolchain (wgd=y cannot hold)" kconfig_defconf "$m"
m=$(mutant novar '/^WGD_LICENSE_FILES = /d' package/wgd/wgd.mk) &&
  check_not "fails: wgd.mk without WGD_LICENSE_FILES" mk_style "$m"
m=$(mutant nodep 's/^WGD_DEPENDENCIES = host-pkgconf /WGD_DEPENDENCIES = /' package/wgd/wgd.mk) &&
  check_not "fails: wgd.mk without host-pkgconf in WGD_DEPENDENCIES" mk_style "$m"
m=$(mutant prefix 's/^WGD_SWIFT_SDK = /SWIFT_SDK = /' package/wgd/wgd.mk) &&
  check_not "fails: wgd.mk variable without the WGD_ prefix" mk_style "$m"
m=$(mutant spacecmd 's/^\t\$(INSTALL) -D -m 0755 \\$/        $(INSTALL) -D -m 0755 \\/' package/wgd/wgd.mk) &&
  check_not "fails: wgd.mk command indented with spaces" mk_style "$m"
m=$(mutant header '3s/^# wgd$/# wgd package/' package/wgd/wgd.mk) &&
  check_not "fails: wgd.mk header not in the manual's form" mk_style "$m"
m=$(mutant trailing 's/^WGD_SITE_METHOD = local$/WGD_SITE_METHOD = local /' package/wgd/wgd.mk) &&
  check_not "fails: wgd.mk trailing whitespace" mk_style "$m"
m=$(mutant noeval '$d' package/wgd/wgd.mk) &&
  check_not "fails: wgd.mk without the final generic-package" mk_style "$m"
m=$(mutant desc 's/^name: WGD$/name: wgd-tree/' external.desc) &&
  check_not "fails: external.desc with another name" external_desc "$m"
m=$(mutant sc 's/^\[ -d "\$target" \]/[ -d $target ]/' board/wgd/post-build.sh) &&
  check_not "fails: shellcheck on an unquoted variable" shellcheck "$m/board/wgd/post-build.sh"

finish
