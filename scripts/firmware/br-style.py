#!/usr/bin/env python3
# The style half of t20-buildroot-lint: the rules Buildroot's manual sets for Config.in and
# package .mk files (those its utils/check-package enforces), written here from the manual's
# rules, so that CI needs no Buildroot checkout. Prints FILE:LINE: problem, exits 1 on any.
#   br-style.py config FILE...
#   br-style.py mk FILE...
import os
import re
import sys

TOP_LEVEL = {"choice", "comment", "config", "endchoice", "endif", "endmenu", "if", "menu",
             "menuconfig", "source"}
ATTRIBUTE = {"bool", "default", "depends", "help", "prompt", "select", "string"}
# type, default, depends on, select, help: the manual's order
ORDER = {"bool": 1, "prompt": 1, "string": 1, "default": 2, "depends": 3, "select": 4, "help": 5}


def common(lines):
    for n, text in enumerate(lines, 1):
        if text != text.rstrip():
            yield n, "trailing whitespace"
        if n > 1 and not text.strip() and not lines[n - 2].strip():
            yield n, "consecutive empty lines"
    if lines and not lines[-1].strip():
        yield len(lines), "empty line at end of file"


def config(path):
    raw = open(path).read()
    if raw and not raw.endswith("\n"):
        yield 0, "no newline at end of file"
    lines = raw.split("\n")[:-1] if raw.endswith("\n") else raw.split("\n")
    yield from common(lines)
    in_help = help_first = continued = False
    order = 0
    for n, text in enumerate(lines, 1):
        if in_help and (text.startswith("\t  ") or not text.strip()):
            body = text.rstrip()
            if body and not re.match(r"^\t  .{0,62}$", body) and not re.match(r"^\t  (https?|git)://\S*$", body):
                yield n, "help text: <tab><2 spaces><62 characters at most>"
            if help_first and body and body[3:4].isspace():
                yield n, "help text: its first line starts at <tab><2 spaces>"
            help_first = False
            continue
        in_help = False
        if not text.strip() or text.strip().startswith("#"):
            continued = False
            continue
        word = text.split()[0]
        if continued:
            if not text.startswith("\t"):
                yield n, "continuation line not indented with tabs"
        elif word in ATTRIBUTE:
            if not text.startswith("\t" + word):
                yield n, "'{}' must be indented with one tab".format(word)
            if order > ORDER[word]:
                yield n, "attribute order: type, default, depends on, select, help"
            order = ORDER[word]
            if word == "default" and text.split("#")[0].split() == ["default", "n"]:
                yield n, "'default n' is redundant: booleans default to n"
            if word == "help":
                in_help = help_first = True
        elif word in TOP_LEVEL:
            if not text.startswith(word):
                yield n, "'{}' must not be indented".format(word)
            order = 0
        continued = re.search(r"\\$", text) is not None


MK_REQUIRED = ["VERSION", "SITE", "SITE_METHOD", "LICENSE", "LICENSE_FILES", "DEPENDENCIES"]
MK_DEFINES = ["BUILD_CMDS", "INSTALL_TARGET_CMDS"]
# Make's and Buildroot's own names a package file may assign or define besides its own.
MK_FOREIGN_OK = re.compile(r"^(PACKAGES_PERMISSIONS_TABLE|TARGET_FINALIZE_HOOKS)$")


def mk(path):
    package = os.path.basename(path)[:-3]
    prefix = package.replace("-", "_").upper() + "_"
    lines = open(path).read().split("\n")[:-1]
    yield from common(lines)
    header = ["#" * 80, "#", "#", "#", "#" * 80, ""]
    header[2] = "# " + package
    for i, want in enumerate(header):
        if i >= len(lines) or lines[i] != want:
            yield i + 1, "header: expected {!r} (80 hashes, #, # {}, #, 80 hashes, blank)".format(want, package)
            break
    assigned, defined = {}, set()
    in_define = continued = False
    for n, text in enumerate(lines, 1):
        if re.match(r"^define\s", text):
            in_define = True
            defined.add(text.split()[1])
            continue
        if text.startswith("endef"):
            in_define = False
            continue
        if in_define or continued:
            if text.strip() and not text.startswith("#") and not text.startswith("\t"):
                yield n, "commands and continuation lines are indented with tabs"
        elif text.startswith("\t"):
            yield n, "unexpected tab outside a define or a continued line"
        if re.search(r"[^$]\$\{\w+\}", text) and not text.lstrip().startswith("#"):
            yield n, "use $() for make variables, not ${}"
        if re.search(r"(  |\t ?)\\$", text):
            yield n, "one space before a trailing backslash"
        if re.match(r"^\s*if(n)?def\s", text):
            yield n, "use ifeq ($(SYMBOL),y) rather than ifdef"
        continued = text.endswith("\\") and not text.startswith("#")
        m = re.match(r"^([A-Z0-9_]+)\s*(\+|:|\?)?=\s*(.*)$", text)
        if m and not in_define:
            assigned.setdefault(m.group(1), (n, m.group(3)))
    for name in sorted(set(assigned) | defined):
        if not name.startswith(prefix) and not MK_FOREIGN_OK.match(name):
            yield assigned.get(name, (0,))[0], "{} is not prefixed {}".format(name, prefix)
    for v in MK_REQUIRED:
        if prefix + v not in assigned:
            yield 0, "{}{} is not set".format(prefix, v)
    for d in MK_DEFINES:
        if prefix + d not in defined:
            yield 0, "{}{} is not defined".format(prefix, d)
    deps = assigned.get(prefix + "DEPENDENCIES", (0, ""))[1].split()
    for dep in ["host-pkgconf", "libcap", "libmnl", "libseccomp", "openssl"]:
        if dep not in deps:
            yield assigned.get(prefix + "DEPENDENCIES", (0,))[0], "{}DEPENDENCIES lacks {}".format(prefix, dep)
    code = [l for l in lines if l.strip() and not l.startswith("#")]
    if not code or code[-1] != "$(eval $(generic-package))":
        yield len(lines), "the last line must be $(eval $(generic-package))"


def main():
    check = {"config": config, "mk": mk}[sys.argv[1]]
    bad = 0
    for path in sys.argv[2:]:
        for n, problem in check(path):
            print("{}:{}: {}".format(path, n, problem))
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
