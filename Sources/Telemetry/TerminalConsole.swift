import Foundation

/// The process's standard error as shared by the progress bar and the log handler, so a log line never
/// lands in the middle of a bar: a line clears the bar, prints, and redraws it underneath.
///
/// On a terminal the bar is a status line redrawn in place with `\r` and "erase line"; elsewhere (files, CI)
/// there is no status line and the progress reporter prints plain lines instead.
public final class TerminalConsole: @unchecked Sendable {
    /// Standard error, as a terminal when `isatty(2)`.
    public static let standardError = TerminalConsole(
        isTerminal: isatty(STDERR_FILENO) == 1,
        width: nil,
        write: { text in
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = Foundation.write(STDERR_FILENO, raw.baseAddress! + done, raw.count - done)
                    if n < 0 { if errno == EINTR { continue }; return }  // nowhere left to report a failed stderr
                    done += n
                }
            }
        })

    /// True when the output is an interactive terminal (status lines can be redrawn).
    public let isTerminal: Bool
    private let fixedWidth: Int?
    private let sink: (String) -> Void
    private let lock = NSLock()
    private var status: String?

    /// A console writing through `write`.
    /// - Parameters:
    ///   - isTerminal: whether status lines may be redrawn in place.
    ///   - width: the width in columns; nil asks the terminal (then `COLUMNS`, then 100).
    ///   - write: receives the text, already formatted.
    public init(isTerminal: Bool, width: Int?, write: @escaping (String) -> Void) {
        self.isTerminal = isTerminal
        fixedWidth = width
        sink = write
    }

    /// The width in columns.
    public var width: Int {
        if let fixedWidth { return fixedWidth }
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 { return columns }
        return 100
    }

    /// Prints one line (a newline is added), keeping the status line below it.
    public func printLine(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        if let status, isTerminal {
            sink("\r\u{1B}[2K" + line + "\n" + status)
        } else {
            sink(line + "\n")
        }
    }

    /// Shows `text` as the status line, replacing the previous one (terminals only; ignored otherwise).
    public func showStatus(_ text: String) {
        guard isTerminal else { return }
        lock.lock()
        defer { lock.unlock() }
        status = text
        sink("\r\u{1B}[2K" + text)
    }

    /// Ends the status line with a newline, leaving its last text on screen.
    public func finishStatus() {
        lock.lock()
        defer { lock.unlock() }
        guard status != nil else { return }
        status = nil
        sink("\n")
    }
}
