/// How a run shows its progress on standard error.
public struct ProgressOptions: Sendable, Equatable {
    /// The display.
    public enum Style: Sendable, Equatable {
        /// A bar on a terminal, plain lines otherwise.
        case automatic
        /// A bar redrawn in place (needs a terminal; falls back to lines when there is none).
        case bar
        /// One plain line every `lineInterval` stage steps, plus the first step and the stage end.
        case lines
        /// Nothing.
        case none
    }

    /// The display.
    public var style: Style
    /// In line mode, print a line when the stage step is a multiple of this.
    public var lineInterval: Int
    /// In bar mode, the least time between redraws, in seconds (a fast loop would otherwise flood the terminal).
    public var redrawInterval: Double

    /// Options.
    public init(style: Style = .automatic, lineInterval: Int = 50, redrawInterval: Double = 0.1) {
        precondition(lineInterval >= 1, "ProgressOptions.lineInterval must be at least 1, got \(lineInterval)")
        self.style = style
        self.lineInterval = lineInterval
        self.redrawInterval = redrawInterval
    }

    /// A bar on a terminal; otherwise a line every 50 steps.
    public static let automatic = ProgressOptions()
    /// No progress output.
    public static let none = ProgressOptions(style: .none)

    /// Plain lines every `steps` stage steps, whatever the output is.
    public static func lines(every steps: Int) -> ProgressOptions { ProgressOptions(style: .lines, lineInterval: steps) }

    /// A bar on a terminal; otherwise a line every `steps` stage steps.
    public static func automatic(linesEvery steps: Int) -> ProgressOptions { ProgressOptions(style: .automatic, lineInterval: steps) }
}
