// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "syncd",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SyncProtocol", targets: ["SyncProtocol"]),
        .library(name: "SyncIPC", targets: ["SyncIPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Wire format only: frames, messages, status codes. No I/O; ByteBuffer is its only dependency.
        .target(
            name: "SyncProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // The Unix-socket fan-out server and the viewer client.
        .target(
            name: "SyncIPC",
            dependencies: [
                "SyncProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "syncipc-bench",
            dependencies: [
                "SyncIPC", "SyncProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/syncipc-bench"
        ),
        .testTarget(
            name: "SyncProtocolTests",
            dependencies: ["SyncProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "SyncIPCTests",
            dependencies: [
                "SyncIPC", "SyncProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
