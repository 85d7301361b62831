import Foundation
import GRDB

/// Which row wins when two stores hold different values under one key.
public enum MergePreference: String, Sendable, CaseIterable {
  /// Keep the row already in the output store (or from the earlier input).
  case existing
  /// Take the row from the later input.
  case incoming
}

/// What a merge did.
public struct MergeSummary: Sendable, Equatable {
  /// Score rows added to the output, rows equal to one already there, rows that differed and were
  /// resolved by the preference (kept or replaced).
  public var added = 0, duplicates = 0, conflicts = 0
  /// Search steps added and already present.
  public var stepsAdded = 0, stepsDuplicate = 0
  public init() {}
}

/// A merge refused because stores disagree: the first keys and both values.
public struct MergeConflict: Error, CustomStringConvertible {
  public let count: Int
  public let examples: [String]
  public var description: String {
    "\(count) key(s) hold different values in the stores (nothing was written; --prefer existing|incoming resolves them): " + examples.joined(separator: "; ")
  }
}

extension ScoreStore {
  /// Merges the score rows and search trajectories of `inputs` into this store, in one
  /// transaction (all or nothing). Rows are compared on their full key (space, dataset,
  /// arch_index, metric, seed, batch_size, init, batch, dtype): the same value and missing reason
  /// (and architecture text) is taken once, whatever the seconds or engine version; a different
  /// one is a ``MergeConflict`` naming the first five keys and both values, unless `prefer`
  /// decides. Search steps are compared on (run description, seed, query) the same way.
  /// - Throws: ``MergeConflict`` (nothing written), ``StoreError``.
  public func merge(_ inputs: [ScoreStore], prefer: MergePreference?) throws -> MergeSummary {
    var summary = MergeSummary()
    var conflicts: [String] = [], conflictCount = 0
    func keyText(_ r: ScoreRow) -> String {
      "\(r.space)/\(r.dataset)/arch \(r.archIndex)/\(r.metric)/seed \(r.seed)/batch \(r.batchSize)/\(r.initialisation)/\(r.batchSource)/\(r.dtype)"
    }
    func valueText(_ r: ScoreRow) -> String { r.value.map { "\($0)" } ?? "missing (\(r.missingReason ?? ""))" }
    func same(_ a: ScoreRow, _ b: ScoreRow) -> Bool { a.value == b.value && a.missingReason == b.missingReason && a.arch == b.arch }
    struct Key: Hashable { let space, dataset: String; let arch: Int; let metric: String; let seed, batch: Int; let initialisation, source, dtype: String }
    func key(_ r: ScoreRow) -> Key {
      Key(space: r.space, dataset: r.dataset, arch: r.archIndex, metric: r.metric, seed: r.seed, batch: r.batchSize,
          initialisation: r.initialisation, source: r.batchSource, dtype: r.dtype)
    }
    func allRows(_ s: ScoreStore) throws -> [ScoreRow] { try s.reading { try ScoreRow.fetchAll($0, sql: "SELECT * FROM scores") } }
    var merged: [Key: ScoreRow] = [:]
    for r in try allRows(self) { merged[key(r)] = r }
    var changed: [Key: ScoreRow] = [:]
    for input in inputs {
      for r in try allRows(input) {
        let k = key(r)
        guard let old = merged[k] else { merged[k] = r; changed[k] = r; summary.added += 1; continue }
        if same(old, r) { summary.duplicates += 1; continue }
        conflictCount += 1
        summary.conflicts += 1
        if conflicts.count < 5 { conflicts.append("\(keyText(r)): \(valueText(old)) vs \(valueText(r))") }
        if prefer == .incoming { merged[k] = r; changed[k] = r }
      }
    }
    if conflictCount > 0 && prefer == nil { throw MergeConflict(count: conflictCount, examples: conflicts) }
    // Trajectories.
    var steps: [String: SearchStepRow] = [:]
    func stepKey(_ s: SearchStepRow) -> String { "\(s.run)\u{1F}\(s.seed)\u{1F}\(s.query)" }
    for s in try searchSteps() { steps[stepKey(s)] = s }
    var newSteps: [String: SearchStepRow] = [:]
    var stepConflicts: [String] = []
    for input in inputs {
      for s in try input.searchSteps() {
        let k = stepKey(s)
        if let old = steps[k] {
          if old.archIndex == s.archIndex && old.objective == s.objective && old.bestObjective == s.bestObjective && old.phase == s.phase {
            summary.stepsDuplicate += 1
          } else {
            if stepConflicts.count < 5 { stepConflicts.append("run '\(s.run.prefix(60))…' seed \(s.seed) query \(s.query): arch \(old.archIndex) vs \(s.archIndex)") }
            if prefer == .incoming { steps[k] = s; newSteps[k] = s }
          }
          continue
        }
        steps[k] = s; newSteps[k] = s; summary.stepsAdded += 1
      }
    }
    if !stepConflicts.isEmpty && prefer == nil { throw MergeConflict(count: stepConflicts.count, examples: stepConflicts) }
    // Steps go in per (run, seed), replacing that trajectory whole, in the same transaction.
    let touched = Set(newSteps.values.map { "\($0.run)\u{1F}\($0.seed)" })
    let whole = steps.values.filter { touched.contains("\($0.run)\u{1F}\($0.seed)") }.sorted { ($0.run, $0.seed, $0.query) < ($1.run, $1.seed, $1.query) }
    try writing { db in
      for r in changed.values { try r.insert(db, onConflict: .replace) }
      if !whole.isEmpty { try Self.insertSearch(whole, db) }
    }
    return summary
  }
}
