/// The search spaces the product ships, one line each. Adding a space: one file that conforms to
/// ``SearchSpace`` and one line here (`docs/adding-a-space.md`).
public enum SpaceRegistry {
  /// (name, summary, constructor from the `Datasets/` folder), in the order `--help` lists them.
  public static let spaces: [(name: String, summary: String, make: @Sendable (String) throws -> any SearchSpace)] = [
    ("nb201", "NAS-Bench-201 cells (image classifiers)", { try NB201Space(datasetsRoot: $0) }),
    ("nbnlp", "NAS-Bench-NLP recurrent cells (language models)", { try NBNLPSpace(datasetsRoot: $0) }),
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

  /// The space that verifies fixtures of this `kind`, or nil.
  public static func make(fixtureKind kind: String, datasetsRoot: String) throws -> (any SearchSpace)? {
    for s in spaces {
      let space = try s.make(datasetsRoot)
      if space.fixtureKinds.contains(kind) { return space }
    }
    return nil
  }
}
