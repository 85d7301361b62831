import ArgumentParser
import Foundation
import Metrics
import ZCData
import ZCEngine
import ZCSpaces
import ZCTensor

/// `zcnas score --space nbnlp`: NAS-Bench-NLP recipes scored by the recurrent proxies.
extension Score {
  /// Scores NAS-Bench-NLP recipes: each is built as the benchmark's language model (sizes from
  /// --emsize/--nhid/--nlayers), initialised from --seed and its recipe id, and fed one batch of
  /// --bptt × --batch-size test-split tokens of --dataset (NAS-Bench-NLP `batchify` + `get_batch`,
  /// batch 0), or the `tokens` of --batch FILE.
  func runNBNLP(dataset: String, batchSize: Int) throws {
    guard let kind = TextDatasetKind(rawValue: dataset) else {
      throw CLIError("--dataset: expected one of \(TextDatasetKind.allCases.map(\.rawValue).joined(separator: ", ")) for --space nbnlp, found '\(dataset)'")
    }
    guard let dt = DType(rawValue: dtype) else { throw CLIError("--dtype: expected float32 or float64, found '\(dtype)'") }
    guard batchSize >= 2 else { throw CLIError("--batch-size: expected at least 2 sequences, found \(batchSize)") }
    guard bptt >= 1 else { throw CLIError("--bptt: expected at least 1, found \(bptt)") }
    guard emsize >= 1, nhid >= 1, nlayers >= 1 else {
      throw CLIError("--emsize/--nhid/--nlayers: expected positive sizes, found \(emsize)/\(nhid)/\(nlayers)")
    }
    guard jobs >= 1 else { throw CLIError("--jobs: expected at least 1, found \(jobs)") }
    if !data.isEmpty { throw CLIError("--data: not used by --space nbnlp (the text datasets are shipped; use --batch FILE for your own tokens)") }
    let proxies = try selectRecurrentProxies(metrics)
    let root = try DatasetsFolder.resolve(datasets)
    let table: NBNLPTable
    do { table = try NBNLPTable(path: root + "/nasbench_nlp/nbnlp_wikitext2_subset.csv") } catch { throw CLIError("\(error)") }
    let chosen = try selectRecipes(archs, table: table, seed: seed)
    let corpus: TextCorpus
    do { corpus = try TextCorpus(paths: kind.files.map { root + "/" + $0 }) } catch { throw CLIError("--dataset \(dataset): \(error)") }
    let size = NBNLPModelSize(vocabulary: corpus.vocabularySize, embeddingSize: emsize, hiddenSize: nhid, layers: nlayers)
    var tokens: TokenBatch
    var source: String
    if let batch {
      let file: SafetensorsFile
      do { file = try SafetensorsFile(path: batch) } catch { throw CLIError("--batch: \(error)") }
      guard case let .int(ids, shape)? = file.tensors["tokens"], shape.count == 2, shape[0] >= 1, shape[1] >= 2 else {
        throw CLIError("--batch \(batch): expected an I64 'tokens' tensor [T, B] with B >= 2")
      }
      if let bad = ids.first(where: { $0 < 0 || $0 >= size.vocabulary }) {
        throw CLIError("--batch \(batch): token id \(bad) is outside the \(dataset) vocabulary 0..<\(size.vocabulary)")
      }
      tokens = TokenBatch(ids: ids, steps: shape[0], batch: shape[1])
      source = "file:" + URL(fileURLWithPath: batch).lastPathComponent + "@" + (try fileFingerprint(batch))
    } else {
      do { tokens = try corpus.batch(stream: kind.testStream, bptt: bptt, batch: batchSize, name: kind.files.last!) } catch { throw CLIError("--bptt/--batch-size: \(error)") }
      source = "test:bptt\(bptt):b0"
    }
    let st = try ScoreStore(path: store)
    var job = NBNLPScoringJob(dataset: kind.rawValue, recipes: chosen, proxies: proxies, tokens: tokens, size: size, seed: seed,
                              dtype: dt, jobs: jobs, batchSource: source)
    if let weights {
      guard chosen.count == 1 else { throw CLIError("--weights: expected exactly one recipe in --archs, found \(chosen.count)") }
      let file: SafetensorsFile
      do { file = try SafetensorsFile(path: weights) } catch { throw CLIError("--weights: \(error)") }
      job.initialisation = "weights:" + URL(fileURLWithPath: weights).lastPathComponent + "@" + (try fileFingerprint(weights))
      job.makeNetwork = { _, recipe in
        var rng = ZCRandom(seed: 0)
        let net = try NBNLPNetwork(recipe, size: size, dtype: dt, rng: &rng)
        try WeightsIO.load(file, into: net)
        return net
      }
      do { _ = try job.makeNetwork!(chosen[0].0, chosen[0].1) } catch { throw CLIError("--weights \(weights): \(error)") }
    }
    let reporter = ProgressReporter()
    let (scored, skipped) = try job.run(store: st) { done, skipped, total in reporter.update(done: done, skipped: skipped, total: total) }
    reporter.finish()
    print("scored \(scored) recipe(s), \(skipped) already stored; \(proxies.count) prox\(proxies.count == 1 ? "y" : "ies"); model \(size); batch \(tokens.steps)x\(tokens.batch) tokens; store \(store)")
    if let output {
      let wanted = Set(chosen.map(\.0))
      let rows = try st.rows(space: "nbnlp", dataset: kind.rawValue, seed: seed, batchSize: tokens.batch)
        .filter { wanted.contains($0.archIndex) && $0.initialisation == job.initialisation && $0.batchSource == source && $0.dtype == dt.rawValue }
      try Export.write(rows, to: output)
      print("exported \(rows.count) rows to \(output)")
    }
  }
}

/// Recurrent proxies by comma-separated names ("all" for the recurrent registry).
func selectRecurrentProxies(_ spec: String) throws -> [any RecurrentProxy] {
  if spec == "all" { return allRecurrentProxies }
  var out: [any RecurrentProxy] = []
  for name in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
    guard let p = recurrentProxy(named: name) else {
      throw CLIError("--metrics: unknown recurrent proxy '\(name)' for --space nbnlp; available: \(allRecurrentProxies.map(\.name).joined(separator: ", "))")
    }
    if !out.contains(where: { $0.name == p.name }) { out.append(p) }
  }
  guard !out.isEmpty else { throw CLIError("--metrics: no proxy named") }
  return out
}

/// Recipes from the --archs grammar for NAS-Bench-NLP: all (every recipe id in the table),
/// sample:N[:SEED], comma-separated recipe ids, or a file with one id per line.
func selectRecipes(_ spec: String, table: NBNLPTable, seed: Int) throws -> [(Int, NBNLPRecipe)] {
  let ids = table.recipeIDs
  func byID(_ id: Int) throws -> (Int, NBNLPRecipe) {
    guard let text = table.recipe(id: id) else {
      throw CLIError("--archs: recipe id \(id) is not in the NAS-Bench-NLP WikiText-2 subset (\(ids.first!)...\(ids.last!), \(ids.count) ids)")
    }
    do { return (id, try NBNLPRecipe(json: text)) } catch { throw CLIError("--archs: recipe \(id): \(error)") }
  }
  return try ArchSelection.resolve(spec, count: ids.count, seed: seed, noun: "recipe id", byPosition: { try byID(ids[$0]) }) { t in
    guard let id = Int(t) else { throw CLIError("--archs: expected a NAS-Bench-NLP recipe id, found '\(t)'") }
    return try byID(id)
  }
}
