// swift-tools-version:6.0
// wgd: WireGuard in Swift for router firmware. Layers, bottom up (see docs/ARCHITECTURE.md):
// C shims → Crypto → Protocol → System, JSON → (DataPlane → Supervisor) → wgd. No module imports one above it,
// and nothing here depends on Foundation: it would more than double the binary.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("InternalImportsByDefault"),
]
// The control plane (configuration, state file, supervisor, command line) runs once per change,
// never per packet: optimized for size, it costs the firmware image less.
let controlPlaneSettings = swiftSettings + [.unsafeFlags(["-Osize"], .when(configuration: .release))]

let package = Package(
    name: "wgd",
    products: [
        .executable(name: "wgd", targets: ["wgd"]),
    ],
    targets: [
        // OpenSSL 3 libcrypto: ChaCha20-Poly1305 (vectorised, 1.5 GB/s per core here) and X25519.
        .systemLibrary(
            name: "CLibcrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // What Swift cannot call directly: variadic ioctl, the CPU_SET macros.
        .target(name: "CShim"),
        // libmnl: the supervisor's netlink (link notifications). Buildroot: BR2_PACKAGE_LIBMNL.
        .systemLibrary(
            name: "CMnl",
            pkgConfig: "libmnl",
            providers: [.apt(["libmnl-dev"])]
        ),
        // The netlink parts that need C: libmnl's callbacks, nlmsghdr/ifinfomsg parsing.
        .target(name: "CNetlink", dependencies: ["CMnl"]),
        // libcap: the supervisor's drop to user wgd with CAP_NET_ADMIN only. Buildroot: BR2_PACKAGE_LIBCAP.
        .systemLibrary(
            name: "CLibcap",
            pkgConfig: "libcap",
            providers: [.apt(["libcap-dev"])]
        ),
        // libseccomp: the data plane's system-call allow-list. Buildroot: BR2_PACKAGE_LIBSECCOMP.
        .systemLibrary(
            name: "CLibseccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        // Privileges in C: prctl and the res[ug]id calls, libcap's sets as bit masks, libseccomp's
        // rules one at a time (the policy itself is Swift's: Supervisor/DataPlaneFilter).
        .target(name: "CPrivilege", dependencies: ["CLibcap", "CLibseccomp"]),
        .target(
            name: "Crypto",
            dependencies: ["CLibcrypto", "CShim"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Protocol",
            dependencies: ["Crypto"],
            swiftSettings: swiftSettings
        ),
        // Thin typed wrappers over the system calls every layer above needs: Errno, owned file
        // descriptors, threads, poll, wake pipes, the interface-name rule.
        .target(
            name: "System",
            dependencies: ["CShim"],
            swiftSettings: swiftSettings
        ),
        // A strict RFC 8259 codec of our own, for the state file (Foundation's would double the binary).
        .target(name: "JSON", swiftSettings: controlPlaneSettings),
        .target(
            name: "DataPlane",
            dependencies: ["Protocol", "Crypto", "System", "CShim"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Supervisor",
            dependencies: ["DataPlane", "Protocol", "Crypto", "System", "JSON", "CShim", "CMnl", "CNetlink", "CPrivilege"],
            swiftSettings: controlPlaneSettings
        ),
        .executableTarget(
            name: "wgd",
            dependencies: ["Supervisor", "DataPlane", "Protocol", "Crypto", "System"],
            swiftSettings: controlPlaneSettings
        ),
        // Release-built benchmark: prints figures, never asserts (scripts/bench).
        .executableTarget(
            name: "wgd-bench",
            dependencies: ["Protocol", "Crypto", "CShim"],
            swiftSettings: swiftSettings
        ),
        // Fuzz harnesses (scripts/fuzz): libFuzzer's entry point when built with -sanitize=fuzzer
        // and -D WGD_FUZZ, otherwise a main that replays input files through a harness.
        .executableTarget(
            name: "wgd-fuzz",
            dependencies: ["Supervisor", "Protocol", "Crypto", "System", "JSON"],
            swiftSettings: swiftSettings
        ),
        // Test-only: what a call left on the stack, for the tests that secrets leave no copies.
        .target(name: "StackResidue", path: "Tests/StackResidue"),
        // Test-only (scripts/sanitize): makes Synchronization.Mutex visible to ThreadSanitizer,
        // empty unless built with --sanitize=thread; and LeakSanitizer's suppressions.
        .target(name: "SanitizerSupport", path: "Tests/SanitizerSupport", exclude: ["lsan.supp"]),
        .testTarget(
            name: "CryptoTests",
            dependencies: ["Crypto", "StackResidue", "SanitizerSupport"],
            exclude: ["Vectors"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProtocolTests",
            dependencies: ["Protocol", "Crypto", "StackResidue", "SanitizerSupport"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DataPlaneTests",
            dependencies: ["DataPlane", "Protocol", "Crypto", "System", "CShim", "SanitizerSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SupervisorTests",
            dependencies: ["Supervisor", "DataPlane", "Protocol", "Crypto", "System", "JSON", "SanitizerSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JSONTests",
            dependencies: ["JSON", "SanitizerSupport"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SystemTests",
            dependencies: ["System", "SanitizerSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ShimTests",
            dependencies: ["CShim", "CNetlink", "SanitizerSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
