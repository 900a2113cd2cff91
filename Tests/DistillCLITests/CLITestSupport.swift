import TestSupport

// The command tests' own names; temporary folders, file text, the captured console and the SVG readers are
// TestSupport's.

/// The tiny curriculum the command tests run, under the name the moved tests use (StagesTests' `CurriculumTests.tiny`).
enum CurriculumTests {
    static let tiny = TestCurricula.tiny
}
