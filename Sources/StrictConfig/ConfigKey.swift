/// Any key by name (or list index): the one `CodingKey` the strict layer opens a settings object with, so the
/// keys a file actually wrote can be listed and compared with the ones a settings type knows.
public struct ConfigKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?

    /// The key called `name`.
    public init(_ name: String) {
        stringValue = name
        intValue = nil
    }

    public init(stringValue: String) { self.init(stringValue) }

    /// The `index`th element of a list.
    public init(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

extension Array where Element == CodingKey {
    /// The dotted key path these coding keys spell, list indices in brackets: `stages[2].temperature.start`.
    public var dottedPath: String {
        var out = ""
        for key in self {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return out
    }
}
