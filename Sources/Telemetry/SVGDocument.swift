import Foundation

/// A hand-written SVG document: elements appended as text, attribute values and text escaped.
///
/// Charts use a handful of elements (rect, line, polyline, circle, text, linearGradient), so a string
/// builder is simpler to read and test than a DOM.
public struct SVGDocument {
    /// Width in pixels.
    public let width: Double
    /// Height in pixels.
    public let height: Double
    private var definitions: [String] = []
    private var body: [String] = []

    /// An empty white canvas.
    public init(width: Double, height: Double) {
        self.width = width
        self.height = height
        body.append(##"<rect x="0" y="0" width="\##(Self.number(width))" height="\##(Self.number(height))" fill="#ffffff"/>"##)
    }

    /// Appends raw markup (already escaped).
    public mutating func raw(_ markup: String) { body.append(markup) }

    /// Appends a `<defs>` entry (gradients).
    public mutating func definition(_ markup: String) { definitions.append(markup) }

    /// A rectangle.
    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String,
                              stroke: String? = nil, attributes: [(String, String)] = [], title: String? = nil) {
        var a = [("x", Self.number(x)), ("y", Self.number(y)), ("width", Self.number(width)), ("height", Self.number(height)), ("fill", fill)]
        if let stroke { a.append(("stroke", stroke)) }
        element("rect", a + attributes, title: title)
    }

    /// A straight line.
    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1,
                              dash: String? = nil, attributes: [(String, String)] = []) {
        var a = [("x1", Self.number(x1)), ("y1", Self.number(y1)), ("x2", Self.number(x2)), ("y2", Self.number(y2)),
                 ("stroke", stroke), ("stroke-width", Self.number(width))]
        if let dash { a.append(("stroke-dasharray", dash)) }
        element("line", a + attributes)
    }

    /// An open polyline through `points`.
    public mutating func polyline(_ points: [(x: Double, y: Double)], stroke: String, width: Double = 1.5,
                                  attributes: [(String, String)] = []) {
        let text = points.map { Self.number($0.x) + "," + Self.number($0.y) }.joined(separator: " ")
        element("polyline", [("points", text), ("fill", "none"), ("stroke", stroke), ("stroke-width", Self.number(width)),
                             ("stroke-linejoin", "round")] + attributes)
    }

    /// A filled circle.
    public mutating func circle(x: Double, y: Double, radius: Double, fill: String, attributes: [(String, String)] = []) {
        element("circle", [("cx", Self.number(x)), ("cy", Self.number(y)), ("r", Self.number(radius)), ("fill", fill)] + attributes)
    }

    /// A text label.
    /// - Parameters:
    ///   - anchor: `start`, `middle` or `end`.
    ///   - rotation: degrees about (x, y), e.g. -90 for a vertical axis label.
    public mutating func text(_ content: String, x: Double, y: Double, size: Double = 12, anchor: String = "start",
                              weight: String? = nil, fill: String = "#222222", rotation: Double? = nil,
                              attributes: [(String, String)] = []) {
        var a = [("x", Self.number(x)), ("y", Self.number(y)), ("font-size", Self.number(size)), ("text-anchor", anchor), ("fill", fill)]
        if let weight { a.append(("font-weight", weight)) }
        if let rotation { a.append(("transform", "rotate(\(Self.number(rotation)) \(Self.number(x)) \(Self.number(y)))")) }
        body.append("<text" + Self.attributes(a + attributes) + ">" + Self.escape(content) + "</text>")
    }

    /// The document as text.
    public func render() -> String {
        var s = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        s += #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Self.number(width))" height="\#(Self.number(height))" viewBox="0 0 \#(Self.number(width)) \#(Self.number(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"# + "\n"
        if !definitions.isEmpty { s += "<defs>\n" + definitions.joined(separator: "\n") + "\n</defs>\n" }
        s += body.joined(separator: "\n")
        return s + "\n</svg>\n"
    }

    private mutating func element(_ name: String, _ a: [(String, String)], title: String? = nil) {
        if let title {
            body.append("<\(name)" + Self.attributes(a) + "><title>" + Self.escape(title) + "</title></\(name)>")
        } else {
            body.append("<\(name)" + Self.attributes(a) + "/>")
        }
    }

    private static func attributes(_ a: [(String, String)]) -> String {
        a.map { " \($0.0)=\"\(escape($0.1))\"" }.joined()
    }

    /// Escapes `&`, `<`, `>`, `"` and `'` for XML text and attribute values, and drops control characters
    /// XML 1.0 does not allow.
    public static func escape(_ text: String) -> String {
        var s = ""
        for u in text.unicodeScalars {
            switch u {
            case "&": s += "&amp;"
            case "<": s += "&lt;"
            case ">": s += "&gt;"
            case "\"": s += "&quot;"
            case "'": s += "&#39;"
            default:
                if u.value < 0x20 && u != "\t" && u != "\n" && u != "\r" { continue }
                s.unicodeScalars.append(u)
            }
        }
        return s
    }

    /// A coordinate with at most two decimals (keeps files small; sub-pixel precision is invisible).
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        let r = (v * 100).rounded() / 100
        if r == r.rounded() { return String(Int(r)) }
        return String(format: "%.2f", r).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }
}
