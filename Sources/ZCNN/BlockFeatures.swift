import ZCAutodiff
import ZCTensor

/// A classifier built as a stem followed by a chain of blocks, exposing each block's output
/// (AZ-NAS's `extract_cell_features`, Lee & Ham 2024). Search spaces opt in; proxies that need it
/// report a missing value for networks that do not.
public protocol BlockFeatures: AnyObject {
  /// The stem's output and every block's output for images `[B] + inputShape`.
  ///
  /// - `features[0]` = stem(x), `features[k]` = block_k(features[k − 1]) for k = 1…n, each
  ///   `[B, C_k, H_k, W_k]` (NCHW), in the module's current mode (training-mode batch norm uses
  ///   the batch statistics).
  /// - `blockInputs[k − 1]` is a leaf that holds the value of `features[k − 1]` and requires a
  ///   gradient; block k is run on it, so differentiating `features[k]` with respect to it gives
  ///   the vector–Jacobian product of block k alone (PyTorch's `autograd.grad(F_k, F_{k−1})`).
  ///   The values are those of the chained forward pass.
  func blockFeatures(_ x: Variable) -> (features: [Variable], blockInputs: [Variable])
}
