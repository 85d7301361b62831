/// The search spaces the product ships, one line each. Adding a space: one file that conforms to
/// ``SearchSpace`` and one line here (`docs/adding-a-space.md`).
public enum SpaceRegistry {
  /// (name, summary, the `kind` values of the reference fixtures it verifies, constructor from the
  /// `Datasets/` folder), in the order `--help` lists them.
  public static let spaces: [(name: String, summary: String, fixtureKinds: [String], make: @Sendable (String) throws -> any SearchSpace)] = [
    ("nb201", "NAS-Bench-201 cells (image classifiers)", ["nb201"], { try NB201Space(datasetsRoot: $0) }),
    ("nbnlp", "NAS-Bench-NLP recurrent cells (language models)", ["nbnlp_rnn"], { try NBNLPSpace(datasetsRoot: $0) }),
    ("bert", "BERT benchmark of Serianni & Kalita (FlexiBERT/ELECTRA encoders, GLUE)", ["bert"], { try BERTSpace(datasetsRoot: $0) }),
    ("onnx", "any image classifier given as ONNX files", ["onnx"], { try ONNXSpace(datasetsRoot: $0) }),
  ]

  /// Names of the shipped spaces.
  public static var names: [String] { spaces.map(\.name) }

  /// The space with this name, loaded from the `Datasets/` folder.
  /// - Throws: ``SpaceError`` naming `--space` for an unknown name; the space's table errors.
  public static func make(_ name: String, datasetsRoot: String) throws -> any SearchSpace {
    guard let s = spaces.first(where: { $0.name == name }) else {
      throw SpaceError("--space: expected one of \(names.joined(separator: ", ")), found '\(name)'")
    }
    return try s.make(datasetsRoot)
  }

  /// The name of the space that verifies fixtures of this `kind`, or nil (no space is loaded).
  public static func name(fixtureKind kind: String) -> String? { spaces.first { $0.fixtureKinds.contains(kind) }?.name }
}
