// swift-tools-version:6.0
// wgd: WireGuard in Swift for router firmware. Layers, bottom up (see docs/ARCHITECTURE.md):
// C shims → Crypto → Protocol → (DataPlane → Supervisor) → wgd. No module imports one above it,
// and nothing here depends on Foundation: it would more than double the binary.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

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
        .target(
            name: "DataPlane",
            dependencies: ["Protocol", "Crypto", "CShim"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Supervisor",
            dependencies: ["DataPlane", "Protocol", "Crypto", "CShim"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wgd",
            dependencies: ["Supervisor", "DataPlane", "Protocol", "Crypto"],
            swiftSettings: swiftSettings
        ),
        // Release-built benchmark: prints figures, never asserts (scripts/bench).
        .executableTarget(
            name: "wgd-bench",
            dependencies: ["Protocol", "Crypto"],
            swiftSettings: swiftSettings
        ),
        // Test-only: what a call left on the stack, for the tests that secrets leave no copies.
        .target(name: "StackResidue", path: "Tests/StackResidue"),
        .testTarget(
            name: "CryptoTests",
            dependencies: ["Crypto", "StackResidue"],
            exclude: ["Vectors"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProtocolTests",
            dependencies: ["Protocol", "Crypto", "StackResidue"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DataPlaneTests",
            dependencies: ["DataPlane", "Protocol", "Crypto"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SupervisorTests",
            dependencies: ["Supervisor", "DataPlane", "Protocol", "Crypto"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ShimTests",
            dependencies: ["CShim"],
            swiftSettings: swiftSettings
        ),
    ]
)
