import Foundation
import XCTest

/// Paths every test target needs: the repository, its shipped data and fixtures, and the shared
/// reference folder beside the repository (present on developers' machines and CI only).
public enum TestPaths {
  /// The repository root (the folder holding Package.swift).
  public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  /// `Datasets/`, the data the product ships.
  public static var datasets: String { root.appendingPathComponent("Datasets").path }
  /// `Tests/Fixtures/<sub>`.
  public static func fixtures(_ sub: String) -> String { root.appendingPathComponent("Tests/Fixtures").appendingPathComponent(sub).path }
  /// `../shared/<sub>`, or an `XCTSkip` when it is absent (a user's clone has no shared folder).
  public static func shared(_ sub: String) throws -> String {
    let p = root.deletingLastPathComponent().appendingPathComponent("shared").appendingPathComponent(sub).path
    guard FileManager.default.fileExists(atPath: p) else { throw XCTSkip("\(p) is not on this machine") }
    return p
  }
}
