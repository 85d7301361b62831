import COpenBLAS
import Foundation
import RealModule

/// Element type of a ``Tensor``. Float32 is the default for networks; Float64 is used for
/// gradient checks, synflow and every eigen-solve or log-determinant.
public enum DType: String, Sendable, CustomStringConvertible {
  case float32
  case float64

  /// Size of one element in bytes.
  public var byteSize: Int { self == .float32 ? 4 : 8 }
  public var description: String { rawValue }
}

/// Scalars a tensor can hold: `Float` and `Double`. Each provides its BLAS entry points so that
/// generic kernels specialise to `sgemm`/`dgemm` without run-time dispatch in inner loops.
public protocol TensorScalar: BinaryFloatingPoint, Real, BLASScalar, Sendable where Self.RawSignificand: FixedWidthInteger {
  static var dtype: DType { get }
}

extension Float: TensorScalar {
  public static var dtype: DType { .float32 }
}

extension Double: TensorScalar {
  public static var dtype: DType { .float64 }
}

/// Reference-counted, 64-byte aligned element buffer (zero-filled unless the caller writes every
/// element). Buffers of at least 2 MiB come from ``LargeBuffers`` (2 MiB-aligned, huge pages,
/// reused within the process); smaller ones from the C heap.
public final class TensorStorage: @unchecked Sendable {
  public let dtype: DType
  public let count: Int
  public let raw: UnsafeMutableRawPointer

  /// Keeps freed tensor buffers inside the process heap instead of returning them to the kernel
  /// with munmap: without this, every large activation is a fresh mmap whose pages fault in again
  /// (measured: most of a scoring run's time was system time).
  ///
  /// It also sets OpenBLAS to one thread: the engine parallelises above BLAS, and OpenBLAS's own
  /// threads spin and slow small calls (performance notes: up to 25x for small LAPACK calls).
  static let configureAllocator: Void = {
    openblas_set_num_threads(1)
    #if os(Linux)
    _ = mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)  // the largest value glibc accepts on 64-bit
    _ = mallopt(M_TRIM_THRESHOLD, -1)  // -1: never give heap memory back (glibc mallopt(3))
    _ = mallopt(M_ARENA_MAX, 1)  // worker threads share the main heap (other arenas unmap freed heaps)
    #endif
    if ProcessInfo.processInfo.environment["ZCNAS_POOL_STATS"] != nil {
      atexit {
        let s = LargeBuffers.statistics
        FileHandle.standardError.write("pool: live \(s.live >> 20) MiB, cached \(s.cached >> 20) MiB, live high-water \(s.liveHighWater >> 20) MiB, reused \(s.reused), mapped \(s.mapped), unmapped \(s.unmapped)\n".data(using: .utf8)!)
      }
    }
  }()

  /// Allocates `count` elements of `dtype`, filled with zeros (or left unset when `zeroed` is
  /// false, for kernel outputs that write every element).
  public init(dtype: DType, count: Int, zeroed: Bool = true) {
    TensorStorage.configureAllocator
    self.dtype = dtype
    self.count = count
    let bytes = max(1, count * dtype.byteSize)
    if bytes >= LargeBuffers.threshold {
      (raw, poolSize) = LargeBuffers.allocate(bytes: bytes, zero: zeroed)
    } else {
      poolSize = 0
      raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
      if zeroed { raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
    }
  }

  /// Mapped size when the buffer came from ``LargeBuffers`` (0: the C heap).
  private let poolSize: Int

  deinit {
    if poolSize == 0 { raw.deallocate() } else { LargeBuffers.release(raw, size: poolSize) }
  }
}

/// Errors about tensor shapes and element types, thrown where a caller's data decides the shape
/// (files, user input). Programming errors inside the engine are preconditions instead.
public enum TensorError: Error, CustomStringConvertible, Equatable {
  case shapeMismatch(operation: String, expected: [Int], found: [Int])
  case countMismatch(operation: String, expected: Int, found: Int)

  public var description: String {
    switch self {
    case let .shapeMismatch(op, e, f): return "\(op): expected shape \(e), found \(f)"
    case let .countMismatch(op, e, f): return "\(op): expected \(e) elements, found \(f)"
    }
  }
}

/// A dense, contiguous, row-major n-dimensional array of `Float` or `Double`.
///
/// Image tensors are NCHW: `[batch, channels, height, width]`. A tensor is a view into shared
/// storage (`storage`, `offset`, `shape`); `reshaped(_:)` and `rows(_:)` (a range along the first
/// axis) are views and cost nothing, everything else copies. Kernels always write fresh outputs,
/// so sharing storage is safe; the only in-place operations (`addInPlace`) copy first when the
/// storage is shared (copy-on-write).
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
  public private(set) var storage: TensorStorage
  public private(set) var offset: Int
  public private(set) var shape: [Int]

  /// Element type.
  public var dtype: DType { storage.dtype }
  /// Number of elements (product of `shape`; 1 for a scalar of shape `[]`).
  public var count: Int { shape.reduce(1, *) }
  /// Number of axes.
  public var rank: Int { shape.count }

  /// A zero-filled tensor.
  public init(zeros shape: [Int], dtype: DType = .float32) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
    self.shape = shape
    self.offset = 0
    self.storage = TensorStorage(dtype: dtype, count: shape.reduce(1, *))
  }

  /// A tensor whose elements are unset: only for kernel outputs that write every element.
  init(uninitialized shape: [Int], dtype: DType) {
    self.shape = shape
    self.offset = 0
    self.storage = TensorStorage(dtype: dtype, count: shape.reduce(1, *), zeroed: false)
  }

  /// A tensor filled with `value`.
  public init(repeating value: Double, shape: [Int], dtype: DType = .float32) {
    self.init(zeros: shape, dtype: dtype)
    if value != 0 {
      switch dtype {
      case .float32: mutablePointer(Float.self).update(repeating: Float(value), count: count)
      case .float64: mutablePointer(Double.self).update(repeating: value, count: count)
      }
    }
  }

  /// A tensor holding `values` (row-major) with the given shape.
  /// - Precondition: `values.count == shape.product`.
  public init<T: TensorScalar>(_ values: [T], shape: [Int]) {
    precondition(values.count == shape.reduce(1, *), "\(values.count) values do not fill shape \(shape)")
    self.init(zeros: shape, dtype: T.dtype)
    values.withUnsafeBufferPointer { src in
      if let base = src.baseAddress { mutablePointer(T.self).update(from: base, count: values.count) }
    }
  }

  /// A tensor of `Double` values converted to `dtype`.
  public init(doubles values: [Double], shape: [Int], dtype: DType) {
    switch dtype {
    case .float64: self.init(values, shape: shape)
    case .float32: self.init(values.map { Float($0) }, shape: shape)
    }
  }

  /// A rank-0 tensor.
  public init(scalar: Double, dtype: DType = .float32) {
    self.init(repeating: scalar, shape: [], dtype: dtype)
  }

  init(storage: TensorStorage, offset: Int, shape: [Int]) {
    self.storage = storage
    self.offset = offset
    self.shape = shape
  }

  /// Read-only pointer to the first element. `T` must match `dtype`.
  @inline(__always)
  public func pointer<T: TensorScalar>(_: T.Type) -> UnsafePointer<T> {
    precondition(T.dtype == dtype, "tensor is \(dtype), accessed as \(T.dtype)")
    return UnsafePointer(storage.raw.assumingMemoryBound(to: T.self) + offset)
  }

  /// Writable pointer to the first element. Only for tensors the caller just allocated
  /// (kernels write their fresh outputs through it).
  @inline(__always)
  public func mutablePointer<T: TensorScalar>(_: T.Type) -> UnsafeMutablePointer<T> {
    precondition(T.dtype == dtype, "tensor is \(dtype), accessed as \(T.dtype)")
    return storage.raw.assumingMemoryBound(to: T.self) + offset
  }

  /// Elements converted to `Double`, row-major.
  public var doubles: [Double] {
    switch dtype {
    case .float32: return UnsafeBufferPointer(start: pointer(Float.self), count: count).map { Double($0) }
    case .float64: return Array(UnsafeBufferPointer(start: pointer(Double.self), count: count))
    }
  }

  /// Elements as `Float`, row-major (converted when the tensor is Float64).
  public var floats: [Float] {
    switch dtype {
    case .float32: return Array(UnsafeBufferPointer(start: pointer(Float.self), count: count))
    case .float64: return UnsafeBufferPointer(start: pointer(Double.self), count: count).map { Float($0) }
    }
  }

  /// The value of a one-element tensor.
  public var scalarValue: Double {
    precondition(count == 1, "scalarValue of a tensor with shape \(shape)")
    return doubles[0]
  }

  /// Element at a multi-index, as `Double` (slow; for tests and debugging).
  public subscript(_ index: Int...) -> Double {
    precondition(index.count == rank, "index \(index) for shape \(shape)")
    var flat = 0
    for (i, n) in zip(index, shape) {
      precondition(i >= 0 && i < n, "index \(index) out of range for shape \(shape)")
      flat = flat * n + i
    }
    switch dtype {
    case .float32: return Double(pointer(Float.self)[flat])
    case .float64: return pointer(Double.self)[flat]
    }
  }

  /// A view with a new shape and the same elements. One dimension may be -1 (inferred).
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var s = newShape
    if let k = s.firstIndex(of: -1) {
      let known = s.enumerated().filter { $0.offset != k }.map(\.element).reduce(1, *)
      precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
      s[k] = count / known
    }
    precondition(s.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
    return Tensor(storage: storage, offset: offset, shape: s)
  }

  /// A view of rows `range` along the first axis.
  public func rows(_ range: Range<Int>) -> Tensor {
    precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of shape \(shape)")
    let inner = shape.dropFirst().reduce(1, *)
    return Tensor(storage: storage, offset: offset + range.lowerBound * inner, shape: [range.count] + shape.dropFirst())
  }

  /// An independent copy with its own storage.
  public func copy() -> Tensor {
    let out = Tensor(uninitialized: shape, dtype: dtype)
    memcpyElements(from: self, to: out)
    return out
  }

  /// This tensor converted to `dtype` (a copy, or `self` when the type already matches).
  public func to(_ target: DType) -> Tensor {
    if target == dtype { return self }
    let out = Tensor(uninitialized: shape, dtype: target)
    let n = count
    switch (dtype, target) {
    case (.float32, .float64):
      let s = pointer(Float.self), d = out.mutablePointer(Double.self)
      for i in 0..<n { d[i] = Double(s[i]) }
    case (.float64, .float32):
      let s = pointer(Double.self), d = out.mutablePointer(Float.self)
      for i in 0..<n { d[i] = Float(s[i]) }
    default: break
    }
    return out
  }

  /// Adds `other` (same shape and dtype) into this tensor, copying first if the storage is shared.
  public mutating func addInPlace(_ other: Tensor) {
    precondition(shape == other.shape && dtype == other.dtype, "addInPlace \(shape) \(dtype) += \(other.shape) \(other.dtype)")
    if !isKnownUniquelyReferenced(&storage) || offset != 0 || storage.count != count { self = copy() }
    switch dtype {
    case .float32:
      let d = mutablePointer(Float.self), s = other.pointer(Float.self)
      for i in 0..<count { d[i] += s[i] }
    case .float64:
      let d = mutablePointer(Double.self), s = other.pointer(Double.self)
      for i in 0..<count { d[i] += s[i] }
    }
  }

  public var description: String {
    let vals = doubles.prefix(8).map { String(format: "%.6g", $0) }.joined(separator: ", ")
    return "Tensor(\(dtype), shape: \(shape), [\(vals)\(count > 8 ? ", ..." : "")])"
  }
}

func memcpyElements(from src: Tensor, to dst: Tensor) {
  precondition(src.count == dst.count && src.dtype == dst.dtype)
  let bytes = src.count * src.dtype.byteSize
  if bytes == 0 { return }
  (dst.storage.raw + dst.offset * dst.dtype.byteSize).copyMemory(
    from: src.storage.raw + src.offset * src.dtype.byteSize, byteCount: bytes)
}

