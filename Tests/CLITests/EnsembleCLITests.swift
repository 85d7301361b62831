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

  /// The presets through the CLI: `correlate --ensemble az_nas|vkdnw_agg` on seven NAS-Bench-201
  /// architectures (0…6) carrying the member values of Tests/Fixtures/tools/ensemble_presets.py
  /// (missing values included), ρ and τ against CIFAR-10 test accuracy as scipy computes them
  /// there; a preset named as a proxy is refused with the right spelling; `--help` lists them.
  func testPresetsThroughTheCLI() throws {
    let d = try temporaryFolder("zcnas-presets")
    let arch = ["|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
                "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
                "|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|avg_pool_3x3~0|avg_pool_3x3~1|avg_pool_3x3~2|",
                "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
                "|skip_connect~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_1x1~2|",
                "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|",
                "|nor_conv_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    let metrics = ["az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "flops", "vkdnw_entropy", "jacob_cov"]
    let rows: [[Double?]] = [
      [310.5, 0.81, -1.9, 120.0, 1.52, -65.0], [305.0, nil, -2.4, 80.5, 1.61, -63.0], [298.2, 0.77, -1.9, 120.0, nil, -70.0],
      [nil, nil, -5.0, 15.6, 1.40, -80.0], [312.9, 0.92, -1.2, 153.0, 1.58, nil], [301.4, 0.55, -3.3, 80.5, 1.61, -66.5],
      [305.0, 0.60, -2.0, 46.8, 1.33, -64.1],
    ]
    var csv = "space,dataset,arch_index,arch,metric,seed,batch_size,init,dtype,value,missing_reason,seconds,engine_version\n"
    for (i, r) in rows.enumerated() {
      for (m, v) in zip(metrics, r) {
        csv += "nb201,cifar10,\(i),\(arch[i]),\(m),0,64,pytorch-default,float32,\(v.map { "\($0)" } ?? ""),\(v == nil ? "-inf: test" : ""),0,0.1.0\n"
      }
    }
    let file = d.appendingPathComponent("presets.csv")
    try csv.write(to: file, atomically: true, encoding: .utf8)
    let store = d.appendingPathComponent("p.sqlite").path
    let imp = try ZCNASRunner.run(["import", file.path, "--store", store], in: d)
    XCTAssertEqual(imp.status, 0, imp.err)
    let expected: [String: (Double, Double, [String])] = [
      "az_nas": (-0.3214285714285715, -0.14285714285714288, ["az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "flops"]),
      "vkdnw_agg": (0.25, 0.14285714285714288, ["vkdnw_entropy", "jacob_cov", "az_nas_expressivity", "az_nas_trainability", "flops"]),
    ]
    for (name, (rho, tau, members)) in expected {
      let r = try ZCNASRunner.run(["correlate", "--store", store, "--ensemble", name, "--json"], in: d)
      XCTAssertEqual(r.status, 0, r.err)
      let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
      XCTAssertEqual(j["ensemble"] as? [String], members)
      let e = try XCTUnwrap((j["metrics"] as? [[String: Any]])?.first { $0["metric"] as? String == "ensemble" })
      XCTAssertEqual(e["n"] as? Int, 7)
      XCTAssertEqual(try XCTUnwrap(e["spearman"] as? Double), rho, accuracy: 1e-12, name)
      XCTAssertEqual(try XCTUnwrap(e["kendall"] as? Double), tau, accuracy: 1e-12, name)
      let t = try ZCNASRunner.run(["correlate", "--store", store, "--ensemble", name], in: d)
      XCTAssertTrue(t.out.contains("of \(name) = "), t.out)
    }
    for (args, text) in [(["search", "--store", store, "--proxy", "az_nas", "--no-scoring"], "--proxy: 'az_nas' is an ensemble preset; use --proxy ensemble --ensemble az_nas"),
                         (["robot", "--store", store, "--metrics", "flops,vkdnw_agg", "--budget", "3"], "--metrics: 'vkdnw_agg' is an ensemble preset")] {
      let b = try ZCNASRunner.run(args, in: d)
      XCTAssertNotEqual(b.status, 0, args.joined(separator: " "))
      XCTAssertTrue(b.err.contains(text), b.err)
    }
    let s = try ZCNASRunner.run(["search", "--store", store, "--proxy", "ensemble", "--ensemble", "az_nas", "--budget", "5", "--seeds", "0", "--no-scoring"], in: d)
    XCTAssertEqual(s.status, 0, s.err)
    XCTAssertTrue(s.out.contains("ensemble of az_nas_expressivity, az_nas_progressivity, az_nas_trainability, flops"), s.out)
    for cmd in ["correlate", "search", "robot"] {
      let h = try ZCNASRunner.run([cmd, "--help"], in: d)
      let text = h.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
      XCTAssertTrue(text.contains("az_nas (az_nas_expressivity,az_nas_progressivity,az_nas_trainability,flops)"), "\(cmd): \(h.out)")
      XCTAssertTrue(text.contains("vkdnw_agg (vkdnw_entropy,jacob_cov,az_nas_expressivity,az_nas_trainability,flops)"), cmd)
    }
  }
}
