// wgd: the command line. Thin by design: it parses arguments and hands over to the layers below.
import Crypto
import Glibc

let version = "0.1.0"

let usage = """
Usage: wgd <command>

Key tools (same formats as wg, so a firmware image needs no wireguard-tools to provision):
  genkey        print a new private key (base64)
  pubkey        read a private key on standard input, print its public key
  genpsk        print a new preshared key (base64)

  --version     print the version
  --help        print this help

The tunnel daemon (`wgd [-f|--foreground] IFNAME`) is under construction.
"""

func fail(_ message: String, code: Int32 = 1) -> Never {
    var err = StandardError()
    print("wgd: \(message)", to: &err)
    exit(code)
}

/// File descriptor 2 directly: the C `stderr` global is shared mutable state to Swift 6.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var text = string
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

func genkey() {
    print(KeyEncoding.base64(PrivateKey.generate().secret.withUnsafeBytes { Bytes32($0) }))
}

func genpsk() {
    print(KeyEncoding.base64(PresharedKey.generate().secret.withUnsafeBytes { Bytes32($0) }))
}

/// Like `wg pubkey`: the key is the first line of standard input, surrounding white space ignored.
func pubkey() {
    let line = readLine(strippingNewline: true) ?? ""
    let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed()
    guard var raw = KeyEncoding.fromBase64(String(trimmed)) else { fail("Key is not the correct length or format") }
    defer { Zeroize.clear(&raw) }
    let key = raw.withUnsafeBytes { PrivateKey(copying: $0) }
    print(key.publicKey)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "genkey" where arguments.count == 1: genkey()
case "genpsk" where arguments.count == 1: genpsk()
case "pubkey" where arguments.count == 1: pubkey()
case "--version", "-v": print("wgd \(version)")
case "--help", "-h": print(usage)
case nil: print(usage); exit(1)
default: fail("unknown command '\(arguments.joined(separator: " "))'; see wgd --help")
}
