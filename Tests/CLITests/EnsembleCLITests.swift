import Foundation
import TestSupport
import XCTest

/// The log-rank ensemble and the valid-cell population through the CLI, on the committed
/// 300-architecture export (Notebooks/data/cifar10_sample.csv). Expected correlations from an
/// independent scipy 1.17.1 computation on the same file (`np.log(rankdata(x)/L)` summed over
/// synflow and jacob_cov, missing as −inf; valid cells by set reachability on the arch strings).
final class EnsembleCLITests: XCTestCase {
  static let root = ZCNASRunner.root

  private func storeWithSample() throws -> (URL, String) {
    let d = try temporaryFolder("zcnas-ensemble")
    let store = d.appendingPathComponent("s.sqlite").path
    let r = try ZCNASRunner.run(["import", Self.root.appendingPathComponent("Notebooks/data/cifar10_sample.csv").path, "--store", store], in: d)
    XCTAssertEqual(r.status, 0, r.err)
    return (d, store)
  }

  func testCorrelateEnsembleRowAndValidCells() throws {
    let (dir, store) = try storeWithSample()
    // The sample has no meco (the default's third member), so the scipy members are named.
    let r = try ZCNASRunner.run(["correlate", "--store", store, "--json", "--ensemble", "synflow,jacob_cov"], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    XCTAssertEqual(j["ensemble"] as? [String], ["synflow", "jacob_cov"])
    let rows = try XCTUnwrap(j["metrics"] as? [[String: Any]])
    let e = try XCTUnwrap(rows.first { $0["metric"] as? String == "ensemble" })
    XCTAssertEqual(e["n"] as? Int, 300)
    XCTAssertEqual(try XCTUnwrap(e["spearman"] as? Double), 0.9199791269240215, accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(e["kendall"] as? Double), 0.7649621461218681, accuracy: 1e-12)
    let pops = try XCTUnwrap(j["populations"] as? [[String: Any]])
    XCTAssertEqual(pops.first?["size"] as? Int, 9444)
    let pe = try XCTUnwrap((pops.first?["metrics"] as? [[String: Any]])?.first { $0["metric"] as? String == "ensemble" })
    XCTAssertEqual(pe["n"] as? Int, 189)
    XCTAssertEqual(try XCTUnwrap(pe["spearman"] as? Double), 0.9177977489801823, accuracy: 1e-12)
    let t = try ZCNASRunner.run(["correlate", "--store", store], in: dir)
    XCTAssertTrue(t.out.contains("valid cells only:"), t.out)
    XCTAssertFalse(t.out.contains("ensemble ="), "the default members are not all stored: no ensemble row\n\(t.out)")
  }

  func testEnsembleInSearchAndRobotAndBadMembers() throws {
    let (dir, store) = try storeWithSample()
    let s = try ZCNASRunner.run(["search", "--store", store, "--proxy", "ensemble", "--ensemble", "synflow,jacob_cov", "--budget", "20", "--seeds", "0..1", "--no-scoring"], in: dir)
    XCTAssertEqual(s.status, 0, s.err)
    XCTAssertTrue(s.out.contains("log-ranks against the 300 architectures"), s.out)
    let r = try ZCNASRunner.run(["robot", "--store", store, "--metrics", "synflow,ensemble", "--ensemble", "synflow,jacob_cov", "--budget", "5", "--seeds", "1"], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    XCTAssertTrue(r.out.contains("proxies synflow,ensemble"), r.out)
    for (args, text) in [(["correlate", "--store", store, "--ensemble", "plain"], "--ensemble: 'plain' has no declared direction"),
                         (["correlate", "--store", store, "--ensemble", "synflow,zen"], "--ensemble: the store holds no zen scores"),
                         (["search", "--store", store, "--proxy", "ensemble", "--ensemble", "synflow,synflow", "--no-scoring"], "--ensemble: 'synflow' is named twice")] {
      let b = try ZCNASRunner.run(args, in: dir)
      XCTAssertNotEqual(b.status, 0, args.joined(separator: " "))
      XCTAssertTrue(b.err.contains(text), b.err)
    }
  }

  /// `--truth-dataset`: the CIFAR-10 sample's synflow against ImageNet16-120 test accuracy
  /// (scipy 1.17.1 on the same file and nb201.csv: ρ 0.8007268242834444, τ 0.6124236398292352).
  func testCorrelateAgainstAnotherDatasetsGroundTruth() throws {
    let (dir, store) = try storeWithSample()
    let r = try ZCNASRunner.run(["correlate", "--store", store, "--json", "--truth-dataset", "imagenet16-120"], in: dir)
    XCTAssertEqual(r.status, 0, r.err)
    let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    XCTAssertEqual(j["target"] as? String, "imagenet16_test_acc")
    let s = try XCTUnwrap((j["metrics"] as? [[String: Any]])?.first { $0["metric"] as? String == "synflow" })
    XCTAssertEqual(s["n"] as? Int, 300)
    XCTAssertEqual(try XCTUnwrap(s["spearman"] as? Double), 0.8007268242834444, accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(s["kendall"] as? Double), 0.6124236398292352, accuracy: 1e-12)
    let t = try ZCNASRunner.run(["correlate", "--store", store, "--truth-dataset", "imagenet16-120"], in: dir)
    XCTAssertTrue(t.out.contains("imagenet16_test_acc (percent), the imagenet16-120 ground truth of proxies computed on cifar10 images"), t.out)
    let same = try ZCNASRunner.run(["correlate", "--store", store, "--truth-dataset", "cifar10"], in: dir)
    let plain = try ZCNASRunner.run(["correlate", "--store", store], in: dir)
    XCTAssertEqual(same.out, plain.out)
    let bad = try ZCNASRunner.run(["correlate", "--store", store, "--truth-dataset", "imagenet"], in: dir)
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.err.contains("--truth-dataset: expected one of cifar10, cifar100, imagenet16-120 for --space nb201, found 'imagenet'"), bad.err)
    let both = try ZCNASRunner.run(["correlate", "--store", store, "--truth-dataset", "cifar100", "--truth", "truth.csv"], in: dir)
    XCTAssertNotEqual(both.status, 0)
    XCTAssertTrue(both.err.contains("--truth-dataset: not with --truth"), both.err)
  }
}
