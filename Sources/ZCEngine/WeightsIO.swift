import Foundation
import ZCData
import ZCNN
import ZCTensor

/// Loading and saving a network's state (parameters and batch-norm buffers) as safetensors under
/// the official PyTorch state_dict keys.
public enum WeightsIO {
  /// Loads every parameter and buffer of `module` from `file` by key (strict). Non-model keys of
  /// a fixture (`input`, `labels`, `input2`, `labels2`, `tokens`, BERT's `input_ids`,
  /// `attention_mask`, `token_type_ids`, `ref.*`) are ignored, and so is a BERT
  /// `embeddings.position_ids` buffer holding 0..<P.
  /// - Throws: ``SafetensorsError`` for an unreadable file; ``StateError`` naming the key for a
  ///   missing or unexpected key or a shape mismatch (with both shapes).
  public static func load(_ file: SafetensorsFile, into module: some Module) throws {
    let ignored: Set<String> = ["input", "labels", "input2", "labels2", "tokens", "input_ids", "attention_mask", "token_type_ids"]
    var floats: [String: Tensor] = [:], ints: [String: Int] = [:]
    for (key, t) in file.tensors where !ignored.contains(key) && !key.hasPrefix("ref.") {
      switch t {
      case let .float(x): floats[key] = x
      case let .int(v, shape) where key.hasSuffix("position_ids") && shape.count == 2 && shape[0] == 1:
        // BERT's constant `embeddings.position_ids` buffer [1, P]: must be 0..<P; not stored by the model.
        guard v == Array(0..<v.count) else {
          throw SafetensorsError.badTensor(path: file.path, key: key, reason: "position ids \(shape) that are not 0..<\(v.count)")
        }
      case let .int(v, shape):
        // Integer state (num_batches_tracked) is one number; anything else is not a buffer of ours.
        guard v.count == 1 else {
          throw SafetensorsError.badTensor(path: file.path, key: key, reason: "an integer tensor \(file.dtypes[key] ?? "") \(shape) where a model's integer buffer is one number")
        }
        ints[key] = v[0]
      }
    }
    do { try module.loadState(floats: floats, integers: ints) } catch let StateError.missingKey(key) where file.tensors[key] != nil {
      // Present, but of the other kind: say so instead of "missing".
      let want = floats[key] == nil ? "a floating-point tensor (F32 or F64)" : "an integer scalar (I64)"
      throw SafetensorsError.wrongDType(path: file.path, key: key, expected: want, found: file.summary(key))
    }
  }

  /// Writes the state of `module` in state_dict order (``Module/stateDictKeys()``): parameters
  /// and float buffers (running statistics) in the module's dtype, integer buffers
  /// (`num_batches_tracked`) as I64 scalars.
  /// - Throws: ``SafetensorsError`` when the file cannot be written.
  public static func save(_ module: some Module, to path: String, metadata: [String: String]) throws {
    var out: [(String, StoredTensor)] = []
    for (name, m) in module.namedModules() {
      let prefix = name.isEmpty ? "" : name + "."
      for (p, param) in m.ownParameters { out.append((prefix + p, .float(param.value))) }
      for (b, buffer) in m.ownBuffers {
        switch buffer {
        case let .float(t): out.append((prefix + b, .float(t)))
        case let .integer(n): out.append((prefix + b, .int([n], shape: [])))
        }
      }
    }
    try SafetensorsFile.write(out, metadata: metadata, to: path)
  }

  /// A minibatch from a safetensors file: `input` `[B, C, H, W]` (F32/F64) and `labels` `[B]` (I64)
  /// (or the keys given, for example `input2`/`labels2`).
  /// - Throws: ``SafetensorsError`` when a key is missing; a ``FixtureError`` when shapes disagree.
  public static func loadBatch(_ file: SafetensorsFile, dtype: DType, imageShape: [Int],
                               keys: (String, String) = ("input", "labels")) throws -> (Tensor, [Int]) {
    let x = try file.floatTensor(keys.0), y = try file.intTensor(keys.1)
    let yShape = file.tensors[keys.1]?.shape ?? []
    guard x.rank == 4, Array(x.shape.dropFirst()) == imageShape, yShape == [x.shape[0]] else {
      throw FixtureError(path: file.path, reason: "'\(keys.0)' has shape \(x.shape) and '\(keys.1)' shape \(yShape); expected [B] + \(imageShape) and [B]")
    }
    return (x.to(dtype), y)
  }
}
