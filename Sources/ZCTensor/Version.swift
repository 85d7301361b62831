/// Version of the ZeroCostNAS engine, stored with every score so results name the code that made them.
public enum ZeroCostNAS {
  public static let version = "0.1.0"
}
