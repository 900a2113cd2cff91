import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

// Reading back the SVG figures the project writes (charts, attention maps), for the telemetry and command tests.

/// True when `svg` is well-formed XML (checked by Foundation's XML parser, not by our writer).
public func isWellFormedXML(_ svg: String) -> Bool {
    XMLParser(data: Data(svg.utf8)).parse()
}

/// The elements of `svg` (one per line, as SVGDocument writes them) carrying `class="name"`.
public func elements(_ svg: String, class name: String) -> [String] {
    svg.split(separator: "\n").map(String.init).filter { $0.contains("class=\"\(name)\"") }
}

/// The text content of the elements with `class="name"`.
public func texts(_ svg: String, class name: String) -> [String] {
    elements(svg, class: name).compactMap { line in
        guard let open = line.firstIndex(of: ">"), let close = line.range(of: "</text>") else { return nil }
        return String(line[line.index(after: open)..<close.lowerBound])
    }
}
