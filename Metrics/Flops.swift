import ZCAutodiff
import ZCEngine
import ZCNN
import ZCTensor

/// flops = multiply-accumulates of one forward pass of one image, in millions: for every conv,
/// H_out·W_out·C_out·C_in·kh·kw (+ H_out·W_out·C_out with a bias); for every linear layer
/// in·out (+ out with a bias). Pooling, batch norm and additions are not counted. Higher is
/// better (a baseline). Counted from the conv/linear outputs of a traced batch-1 forward pass.
public struct Flops: ImageProxy {
  public init() {}
  public let name = "flops"
  public let summary = "multiply-accumulates of one forward pass of one image, in millions"
  public let direction = ProxyDirection.higherIsBetter
  public let requirements: ProxyRequirements = []
  public let source = "baseline (conv and linear multiply-accumulates)"

  public func compute(in context: ImageProxyContext) throws -> ProxyValue {
    let trace = ForwardTrace(reluInputs: false, layerOutputs: true)
    let x = Variable(context.images.rows(0..<1))
    _ = GradMode.withoutRecording { ForwardTrace.$current.withValue(trace) { context.network(x) } }
    var macs = 0
    let byLayer = Dictionary(trace.layerOutputs.map { ($0.layer, $0.output.value.count) }, uniquingKeysWith: { a, _ in a })
    for layer in context.weightLayers {
      guard let outCount = byLayer[ObjectIdentifier(layer.module)] else { continue }
      macs += outCount * layer.module.macsPerOutput
      if layer.module.bias != nil { macs += outCount }
    }
    return .value(Double(macs) / 1e6)
  }
}
