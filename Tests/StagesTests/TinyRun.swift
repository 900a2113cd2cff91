import TestSupport

/// The first lines of the small run several stage tests share (`TestCurricula.tinyRunHead`).
let tinyRunHead = TestCurricula.tinyRunHead
