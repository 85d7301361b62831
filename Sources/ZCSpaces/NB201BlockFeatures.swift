import ZCAutodiff
import ZCNN
import ZCTensor

extension NB201Network: BlockFeatures {
  /// F_0 = stem(x) (3×3 conv then batch norm, no ReLU), F_k = cells[k − 1](F_{k−1}) for the
  /// 3N + 2 cells and reduction blocks (NB201: 17; F_6 and F_12 are the reduction outputs), as
  /// AZ-NAS `NB201/custom/tss_model.py` `TinyNetwork.extract_cell_features`.
  public func blockFeatures(_ x: Variable) -> (features: [Variable], blockInputs: [Variable]) {
    var features = [stem(x)]
    var inputs: [Variable] = []
    for cell in cellLayers {
      let leaf = Variable(features[features.count - 1].value, requiresGrad: true)
      inputs.append(leaf)
      features.append(cell(leaf))
    }
    return (features, inputs)
  }
}
