// swift-tools-version:6.2
// ZeroCostNAS: training-free ranking of neural architectures.
//
// Dependency direction (one way only):
//   COpenBLAS -> ZCTensor (tensors, kernels, BLAS/LAPACK) -> ZCAutodiff (reverse-mode AD, differentiable ops)
//   -> ZCNN (layers, parameters by dotted name) -> search spaces -> metric engine -> search -> zcnas (CLI)
import PackageDescription

/// Numeric kernels are compiled with optimisation in every configuration (debug included), so that
/// `swift test` runs gradient checks and conv kernels at release speed (see the performance notes:
/// debug Swift loops are 3-25x slower). `unsafeFlags` are allowed because this is the root package.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"])]

let package = Package(
  name: "ZeroCostNAS",
  platforms: [.macOS(.v26)],  // InlineArray (the direct convolution kernels); the package is built and tested on Linux only
  products: [
    .executable(name: "zcnas", targets: ["zcnas"]),
    .library(name: "ZCTensor", targets: ["ZCTensor"]),
    .library(name: "ZCAutodiff", targets: ["ZCAutodiff"]),
    .library(name: "ZCNN", targets: ["ZCNN"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    .package(url: "https://github.com/apple/swift-numerics", exact: "1.1.1"),
    .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    .package(url: "https://github.com/yaslab/CSV.swift", exact: "2.5.2"),
    .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
  ],
  targets: [
    .systemLibrary(
      name: "COpenBLAS",
      path: "Sources/COpenBLAS",
      providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
    ),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
    // The direct 3×3 convolution kernels, one source compiled twice: for AVX-512 and for Haswell (AVX2 + FMA)
    // (Sources/ZCConvAVX2/DirectConv3x3.swift is a link to the AVX-512 target's file). ZCTensor
    // calls one of them only after a run-time CPU check. Both builds add in the same order with
    // fused multiply-adds, so they give the same bits (DirectConvolutionBuildTests).
    .target(
      name: "ZCConvAVX512",
      path: "Sources/ZCConvAVX512",
      swiftSettings: [.unsafeFlags(["-O", "-target-cpu", "skylake-avx512"])]
    ),
    .target(
      name: "ZCConvAVX2",
      path: "Sources/ZCConvAVX2",
      swiftSettings: [.unsafeFlags(["-O", "-target-cpu", "haswell"]), .define("DIRECT_CONV_AVX2")]
    ),
    .target(
      name: "ZCTensor",
      dependencies: ["COpenBLAS", "ZCConvAVX512", "ZCConvAVX2", .product(name: "RealModule", package: "swift-numerics")],
      path: "Sources/ZCTensor",
      swiftSettings: optimised
    ),
    .target(
      name: "ZCAutodiff",
      dependencies: ["ZCTensor"],
      path: "Sources/ZCAutodiff",
      swiftSettings: optimised
    ),
    .target(
      name: "ZCNN",
      dependencies: ["ZCAutodiff", "ZCTensor"],
      path: "Sources/ZCNN",
      swiftSettings: optimised
    ),
    .target(
      name: "ZCData",
      dependencies: ["ZCTensor", "CZlib", .product(name: "CSV", package: "CSV.swift"), .product(name: "Crypto", package: "swift-crypto")],
      path: "Sources/ZCData",
      swiftSettings: optimised
    ),
    // ONNX graphs: the protobuf reader (hand-written SwiftProtobuf messages for the subset of
    // onnx.proto it reads) and the graph network over ZCNN layers and ZCAutodiff ops.
    .target(
      name: "ZCONNX",
      dependencies: ["ZCNN", "ZCAutodiff", "ZCTensor", "ZCData", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      path: "Sources/ZCONNX",
      exclude: ["onnx_subset.proto"],
      swiftSettings: optimised
    ),
    .target(
      name: "ZCSpaces",
      dependencies: ["ZCNN", "ZCAutodiff", "ZCTensor", "ZCData"],
      path: "Sources/ZCSpaces",
      swiftSettings: optimised
    ),
    .target(
      name: "ZCEngine",
      dependencies: ["ZCSpaces", "ZCONNX", "ZCNN", "ZCAutodiff", "ZCTensor", "ZCData", .product(name: "GRDB", package: "GRDB.swift")],
      path: "Sources/ZCEngine",
      swiftSettings: optimised
    ),
    .target(
      name: "Metrics",
      dependencies: ["ZCEngine", "ZCSpaces", "ZCNN", "ZCAutodiff", "ZCTensor"],
      path: "Metrics",
      exclude: ["README.md"],
      swiftSettings: optimised
    ),
    .target(
      name: "ZCSearch",
      dependencies: ["ZCEngine", "ZCSpaces", "ZCTensor"],
      path: "Sources/ZCSearch",
      swiftSettings: optimised
    ),
    .executableTarget(
      name: "zcnas",
      dependencies: [
        "ZCTensor", "ZCAutodiff", "ZCNN", "ZCData", "ZCSpaces", "ZCONNX", "ZCEngine", "Metrics", "ZCSearch",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Sources/zcnas",
      swiftSettings: optimised
    ),
    // What the test targets share: repository paths, temporary folders, the zcnas runner.
    .target(name: "TestSupport", dependencies: ["ZCAutodiff", "ZCTensor"], path: "Tests/TestSupport"),
    .testTarget(name: "ZCTensorTests", dependencies: ["ZCTensor", "ZCConvAVX512", "ZCConvAVX2"], path: "Tests/ZCTensorTests"),
    .testTarget(name: "ZCAutodiffTests", dependencies: ["TestSupport", "ZCAutodiff", "ZCTensor"], path: "Tests/ZCAutodiffTests"),
    .testTarget(name: "ZCNNTests", dependencies: ["ZCNN", "ZCAutodiff", "ZCTensor"], path: "Tests/ZCNNTests"),
    .testTarget(name: "ZCONNXTests", dependencies: ["ZCONNX", "TestSupport", "ZCNN", "ZCAutodiff", "ZCTensor"], path: "Tests/ZCONNXTests"),
    .testTarget(
      name: "ZCDataTests", dependencies: ["TestSupport", "ZCData", "ZCTensor", .product(name: "CSV", package: "CSV.swift")], path: "Tests/ZCDataTests"),
    .testTarget(name: "CLITests", dependencies: ["zcnas", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")], path: "Tests/CLITests"),

    .testTarget(name: "ZCSearchTests", dependencies: ["ZCSearch", "ZCEngine", "ZCSpaces", "ZCData", "ZCTensor"], path: "Tests/ZCSearchTests"),
    .testTarget(
      name: "ZCEngineTests", dependencies: ["TestSupport", .product(name: "GRDB", package: "GRDB.swift"), "ZCEngine", "ZCSpaces", "ZCNN", "ZCData", "ZCAutodiff", "ZCTensor"],
      path: "Tests/ZCEngineTests"),
    .testTarget(
      name: "MetricsTests", dependencies: ["TestSupport", "ZCSearch", "Metrics", "ZCEngine", "ZCONNX", "ZCSpaces", "ZCData", "ZCNN", "ZCAutodiff", "ZCTensor"],
      path: "Tests/MetricsTests"),
    .testTarget(
      name: "ZCSpacesTests", dependencies: ["TestSupport", "ZCSpaces", "ZCData", "ZCNN", "ZCAutodiff", "ZCTensor"],
      path: "Tests/ZCSpacesTests"),
  ]
)
