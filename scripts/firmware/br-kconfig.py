#!/usr/bin/env python3
# The Kconfig half of t20-buildroot-lint: our tree's Config.in files under kconfiglib, on top
# of buildroot-stub.Kconfig (the Buildroot symbols we refer to). Prints what is wrong and
# exits 1, or exits 0 silently.
#   br-kconfig.py TREE parse               every file parses, no warning, no undefined symbol
#   br-kconfig.py TREE defconfig FILE      every line names a symbol and its value holds
#   br-kconfig.py TREE value SYM [LINE...] SYM's value once the LINEs (SYM=val) are applied
import os
import re
import sys

import kconfiglib

STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "buildroot-stub.Kconfig")


def load(tree):
    os.environ["BR2_EXTERNAL_WGD_PATH"] = os.path.abspath(tree)
    kconf = kconfiglib.Kconfig(STUB, warn_to_stderr=False)
    kconf.warn_assign_undef = True
    kconf.warn_assign_override = True
    return kconf


def ours(node):
    return node.filename.startswith(os.environ["BR2_EXTERNAL_WGD_PATH"])


def parse(kconf):
    problems = list(kconf.warnings)
    # A symbol referred to and defined nowhere (a typo, or a new upstream symbol the stub
    # lacks) is no error to Kconfig: it is just n.
    for sym in kconf.syms.values():
        if sym is kconf.modules:  # kconfiglib's own, always there
            continue
        if not sym.nodes:
            problems.append("undefined symbol {} (not in the stub nor in the tree)".format(sym.name))
        elif any(ours(n) for n in sym.nodes) and not sym.name.startswith("BR2_PACKAGE_WGD"):
            problems.append("{} is defined by our tree but not named BR2_PACKAGE_WGD*".format(sym.name))
    return problems


LINE = re.compile(r'^(BR2_\w+)=(.*)$')


def apply(kconf, lines):
    problems = []
    for line in lines:
        m = LINE.match(line)
        if m is None:
            problems.append("not a SYMBOL=value line: {!r}".format(line))
            continue
        name, value = m.group(1), m.group(2)
        sym = kconf.syms.get(name)
        if sym is None or not sym.nodes:
            problems.append("{}: no such symbol".format(name))
            continue
        if value.startswith('"'):
            value = value[1:-1]
        sym.set_value(value)
    return problems


def defconfig(kconf, path):
    lines = [l.rstrip("\n") for l in open(path) if l.strip() and not l.startswith("#")]
    problems = apply(kconf, lines)
    # A second pass: a choice or a dependency set later in the file may unlock an earlier line.
    apply(kconf, lines)
    for line in lines:
        m = LINE.match(line)
        if m is None or m.group(1) not in kconf.syms:
            continue
        sym, want = kconf.syms[m.group(1)], m.group(2).strip('"')
        if sym.nodes and sym.str_value != want:
            problems.append("{}={} does not hold: it is {!r} (an unmet dependency?)"
                            .format(sym.name, want, sym.str_value))
    return problems + [w for w in kconf.warnings if "undefined symbol" in w]


def main():
    tree, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    kconf = load(tree)
    if command == "parse":
        problems = parse(kconf)
    elif command == "defconfig":
        problems = defconfig(kconf, args[0])
    elif command == "value":
        problems = apply(kconf, args[1:]) + apply(kconf, args[1:])
        if not problems:
            print(kconf.syms[args[0]].str_value)
    else:
        sys.exit("br-kconfig.py: unknown command " + command)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
